"""The key that signs session and remember-me cookies: given in SECRET_KEY, or generated once per instance."""
from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

# 32 bytes: as much as the HMAC-SHA1 that signs Flask's cookies can use, and more than anyone can guess.
MIN_SECRET_KEY_BYTES = 32
# Keys this project's code once carried: public, so never accepted (one is long enough to pass the length check).
PUBLISHED_KEYS = frozenset({"dev-insecure-secret-key-change-me", "test-secret-key"})


class SecretKeyError(RuntimeError):
    """The configured secret key is missing or too weak to start with."""


def check_secret_key(key: str | bytes) -> None:
    """Refuse an explicit key shorter than MIN_SECRET_KEY_BYTES or once published with the code."""
    if key in PUBLISHED_KEYS:
        raise SecretKeyError("SECRET_KEY is a key published with this project's code: generate your own "
                             "(该密钥已随代码公开，不能使用)")
    size = len(key.encode("utf-8") if isinstance(key, str) else key)
    if size < MIN_SECRET_KEY_BYTES:
        raise SecretKeyError(
            f"SECRET_KEY is too short ({size} bytes): use at least {MIN_SECRET_KEY_BYTES} random bytes, "
            f'e.g. python -c "import secrets; print(secrets.token_hex(32))" '
            f"(密钥过短，至少需要 {MIN_SECRET_KEY_BYTES} 字节的随机字符)")


def load_or_create_secret_key(path: str | Path) -> str:
    """The key kept in `path`; on first use a random one is written there (mode 0600) atomically."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key-")  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            # A hard link never replaces an existing file: of two processes starting at once, the first
            # link wins and the other reads the winner's key below, so both sign with the same key.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("secret key file %s was readable by others (mode %o); now 0600", path, mode)
        path.chmod(0o600)
    key = path.read_text(encoding="ascii").strip()
    check_secret_key(key)
    return key
