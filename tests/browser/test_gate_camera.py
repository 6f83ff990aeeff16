"""The gate page scans with the camera: Chromium's fake camera plays a video of a QR code,
jsQR (vendored) decodes it in the page, and the scan is posted and answered on screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import segno

from tests.browser.boxoffice_support import new_account, organizer_event, sign_in
from tests.browser.conftest import CHROMIUM_ARGS, LiveServer

pytestmark = pytest.mark.browser

WIDTH, HEIGHT, FRAMES = 640, 480, 20
FORGED = "1." + "0" * 32
"""Well formed, so the page posts it, and no ticket of the event: refused, with the reason."""


def qr_video(payload: str, path: Path) -> Path:
    """A short YUV4MPEG2 video (the format Chromium's fake camera plays) of the code, black
    on white, centred."""
    rows = list(segno.make_qr(payload, error="m").matrix_iter(scale=10, border=4))
    top, left = (HEIGHT - len(rows)) // 2, (WIDTH - len(rows[0])) // 2
    luma = bytearray(b"\xff" * (WIDTH * HEIGHT))
    for y, row in enumerate(rows):
        start = (top + y) * WIDTH + left
        luma[start:start + len(row)] = bytes(0 if dark else 255 for dark in row)
    chroma = b"\x80" * (WIDTH * HEIGHT // 2)
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(FRAMES):
            video.write(b"FRAME\n" + bytes(luma) + chroma)
    return path


async def test_the_camera_reads_a_code_and_the_gate_answers(
        chromium_path: str, live_server: LiveServer, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    video = qr_video(FORGED, tmp_path / "qr.y4m")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=[
            *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
        try:
            context = await browser.new_context(permissions=["camera"])
            page: Any = await context.new_page()
            page.set_default_timeout(15_000)
            email, _, organizer_id = await new_account(page, live_server, "organizer", "Cam")
            event_id = organizer_event(live_server.db_engine, organizer_id, "Camera Night")
            await sign_in(page, live_server, email, f"/organizer/events/{event_id}/gate")
            await page.get_by_role("button", name="Start camera").click()
            await page.wait_for_function("() => document.getElementById('verdict-word')"
                                         ".textContent === 'Refused'")
            assert await page.locator("#verdict-reason").inner_text() == \
                "Not a ticket for this event."
            assert await page.locator("#count-refused").inner_text() == "1", \
                "a code held in front of the camera is checked once, not every frame"
            await page.get_by_role("button", name="Stop camera").click()
            await page.goto("about:blank")
        finally:
            await browser.close()
