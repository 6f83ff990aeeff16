"""Static files: aiohttp's own static route for every folder of them, one middleware.

Each room that has scripts, styles or images registers its folder with
`add_static_folder`. `static_files_middleware` (on the main app, so it also sees the
sub-apps' requests) gives every file served the same caching and sniffing headers,
and answers a missing file with the API's 404 error shape (aiohttp's file response
would answer an empty 404 of its own).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

STATIC_MAX_AGE_SECONDS = 300


def add_static_folder(router: web.UrlDispatcher, prefix: str, directory: Path) -> None:
    """Serve the files under `directory` at `prefix/<path>` (no listing, no symlinks out)."""
    router.add_static(prefix, directory)


def _is_file(path: Path) -> bool:
    """Path.is_file, where a name the file system refuses (too long, NUL) is just absent."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


@web.middleware
async def static_files_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = getattr(request.match_info.route, "resource", None)
    if not isinstance(resource, web.StaticResource):
        return await handler(request)
    directory: Path = resource.get_info()["directory"]
    if not _is_file(directory / request.match_info["filename"]):
        raise web.HTTPNotFound()
    response = await handler(request)  # aiohttp refuses paths that lead out of the folder
    response.headers.setdefault("Cache-Control", f"public, max-age={STATIC_MAX_AGE_SECONDS}")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
