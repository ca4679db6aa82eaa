"""Uploaded files: their type is read from their first bytes, never from the name (no Flask)."""
from __future__ import annotations

# Magic bytes of the file types the app accepts (scans and photos of evidence and signed documents).
MAGIC = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


def sniff(data: bytes) -> str | None:
    """The content type (PDF, JPEG or PNG) from the file's first bytes, or None."""
    for content_type, magic in MAGIC.items():
        if data.startswith(magic):
            return content_type
    return None
