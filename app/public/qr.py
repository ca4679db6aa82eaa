"""QR codes drawn locally as inline SVG with segno (pure Python; no network, no image files)."""
from __future__ import annotations

from functools import lru_cache

import segno


# A label's address never changes (its token is permanent), and segno takes about 6 ms a code: a sheet of 500
# labels printed again, or by a second user, draws from the cache. 2,048 SVGs of ~3 KB each.
@lru_cache(maxsize=2048)
def qr_svg(url: str) -> str:
    """An inline <svg> of the QR code for a URL, scaled by its container (no XML declaration, no fixed size)."""
    code = segno.make(url, error="m", micro=False)
    return code.svg_inline(scale=1, border=2, omitsize=True, svgclass="qr", lineclass=None, dark="#000")
