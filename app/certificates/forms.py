"""The certificate upload form (the void form is app/voiding/forms.py)."""
from __future__ import annotations

from flask_wtf.file import FileField

from app.forms import Form

ACCEPT = {"accept": "application/pdf,image/*"}
LABEL = "检定证书文件（PDF 或 JPEG、PNG、HEIC 图片）"


def certificate_field(description: str = "") -> FileField:
    """The file input of a certificate (also on the verification form, where it is optional)."""
    return FileField(LABEL, render_kw=ACCEPT, description=description)


class CertificateForm(Form):
    """One certificate file for a verification."""

    file = certificate_field()
