"""QR codes drawn locally as inline SVG with segno (pure Python; no network, no image files)."""
from __future__ import annotations

import segno


def qr_svg(url: str) -> str:
    """An inline <svg> of the QR code for a URL, scaled by its container (no XML declaration, no fixed size)."""
    code = segno.make(url, error="m", micro=False)
    return code.svg_inline(scale=1, border=2, omitsize=True, svgclass="qr", lineclass=None, dark="#000")
