"""docs/architecture.md names every module of the packages, so a newcomer finds each one
in the guide. A module counts as named when its path, or its last folder and file name
(`launcher/cli.py`, as the room tables write them), appears on the page.

Invariant: the architecture guide lists every module the code has.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "waitingroom", "workers", "api", "loadtests")


def modules() -> list[Path]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if path.name == "__init__.py" or "migrations" in relative.parts:
                continue
            found.append(relative)
    return found


def test_every_module_is_named_in_the_architecture_guide() -> None:
    guide = (ROOT / "docs" / "architecture.md").read_text()
    missing = [str(path) for path in modules()
               if path.as_posix() not in guide and "/".join(path.parts[-2:]) not in guide]
    assert not missing, ("docs/architecture.md does not name these modules; add them to "
                         "their section or to 'Module index: the rest': " + ", ".join(missing))
