"""Deployment files (gunicorn, nginx, systemd) and the production check."""
from __future__ import annotations

import os
import runpy
from pathlib import Path
from unittest import mock

GUNICORN_CONF = Path(__file__).resolve().parent / "gunicorn.conf.py"


def gunicorn_settings(environ: dict[str, str] | None = None) -> dict:
    """deploy/gunicorn.conf.py's settings as gunicorn reads them, with these environment variables set too."""
    with mock.patch.dict(os.environ, environ or {}):
        return runpy.run_path(str(GUNICORN_CONF))
