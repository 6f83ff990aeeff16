"""E-ticket QR images: the ticket's QR payload (`<ticket id>.<secret>`) as SVG or PNG.

Rendered by segno (pure Python, no image library), with error correction level M: a
creased or partly covered printout still scans. The quiet zone (4 modules of white
around the code) is kept, which phone cameras need to find the code.
"""

from __future__ import annotations

import io

import segno

PNG_MODULE_PIXELS = 8
"""Pixels per QR module in PNG images: ~250 px for a ticket's code, sharp when printed."""
SVG_MODULE_UNITS = 4


def _code(payload: str) -> segno.QRCode:
    return segno.make_qr(payload, error="m", boost_error=False)


def qr_svg(payload: str, title: str = "E-ticket QR code") -> str:
    """An SVG document of the code (black on white), scalable for print."""
    buffer = io.BytesIO()
    _code(payload).save(buffer, kind="svg", scale=SVG_MODULE_UNITS, xmldecl=False,
                        title=title, dark="#000", light="#fff")
    return buffer.getvalue().decode()


def qr_png(payload: str, scale: int = PNG_MODULE_PIXELS) -> bytes:
    """A PNG of the code, for mail clients that do not show SVG."""
    buffer = io.BytesIO()
    _code(payload).save(buffer, kind="png", scale=scale, dark="#000", light="#fff")
    return buffer.getvalue()
