"""Uploaded files: their type is read from their first bytes, never from the name, and they are kept on disk
whole or not at all, and only if the unit of work that recorded them commits (no Flask).

The one store of the ledgers of imports, the evidence of inspections and the signed pledges.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import secrets
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.errors import STORAGE_FULL, NotFound, StorageFailed

log = logging.getLogger(__name__)

# Magic bytes of the file types the app accepts (scans and photos of evidence and signed documents).
MAGIC = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}

# The errors that mean the disk (or the account's quota, or the file-size limit) has no room left.
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


HEIC = "image/heic"


def sniff(data: bytes, *, heif: bool = False) -> str | None:
    """The content type (PDF, JPEG or PNG; with `heif`, also an iPhone's HEIC/HEIF photo by its ftyp brand)
    from the file's first bytes, or None."""
    for content_type, magic in MAGIC.items():
        if data.startswith(magic):
            return content_type
    if heif:
        from app.images import is_heif

        if is_heif(data):
            return HEIC
    return None


def kept_file(storage_dir: str, stored_name: str, size: int, sha256: str, what: str) -> Path:
    """Where a kept file is, while its bytes are still those stored; NotFound (naming `what`) when it is missing
    or changed."""
    path = Path(storage_dir) / stored_name
    if not is_intact(path, size, sha256):
        raise NotFound(f"{what}已丢失或损坏，请联系管理员")
    return path


def is_intact(path: Path, size: int, sha256: str) -> bool:
    """Whether the file at `path` is there with exactly `size` bytes and the SHA-256 `sha256`."""
    # Bytes are counted as they are read, not taken from stat(): what is hashed is what was read,
    # and reading stops one byte past `size`, so a replaced larger file costs no more than the original.
    digest, seen = hashlib.sha256(), 0
    try:
        with path.open("rb") as file:
            while chunk := file.read(min(1 << 20, size + 1 - seen)):
                digest.update(chunk)
                seen += len(chunk)
                if seen > size:
                    return False
    except OSError:
        return False
    return seen == size and digest.hexdigest() == sha256


def keep(folder: str | os.PathLike, name: str, data: bytes, *, sha256: str | None = None,
         field: str = "file", session: Session | None = None) -> Path:
    """Keep `data` as folder/name and return its path; StorageFailed (with nothing left behind) when it cannot.

    A file already there under the name is kept only when its size and hash are those of `data`
    (the same upload again); anything else there, such as the empty leftover of a failed write, is
    replaced. The bytes go to a temporary name in the same folder, are flushed to the disk and then
    renamed, so the name never shows a partial file, even after a crash.

    With `session`, the file belongs to the session's unit of work: a file this call wrote is
    removed again when that transaction ends without a commit (a rollback, a failed flush, a
    closed session), so a record that was never saved leaves no file behind. A file that was
    already there, intact, is someone else's and is never removed.
    """
    path = Path(folder) / name
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    if is_intact(path, len(data), sha256):
        return path
    if session is not None:
        _remove_unless_committed(session, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_whole(path, data)
    except OSError as err:
        raise StorageFailed(_failure_message(err), field=field) from err
    return path


# --- files of a unit of work ---------------------------------------------------------------------

_WRITTEN = "uploads.written"  # session.info: the files the session's current transaction wrote


def _remove_unless_committed(session: Session, path: Path) -> None:
    if not session.in_transaction():
        session.begin()  # the file belongs to this transaction, not to one begun later
    written = session.info.get(_WRITTEN)
    if written is None:
        written = session.info[_WRITTEN] = []
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_transaction_end", _ended)
    written.append(path)


def _committed(session: Session) -> None:
    session.info[_WRITTEN].clear()


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:  # a savepoint: the files wait for the transaction around it
        return
    written = session.info[_WRITTEN]
    for path in written:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.exception("a file of a unit of work that did not commit could not be removed: %s", path)
    written.clear()


def _write_whole(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with tmp.open("xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on the disk too.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.EBADF):  # some file systems cannot sync a folder
            raise
    finally:
        os.close(fd)


def _failure_message(err: OSError) -> str:
    log.error("an upload could not be kept: %s", err)  # the system's (English) reason is for the administrator
    if err.errno in NO_ROOM:
        return STORAGE_FULL
    return "服务器无法保存文件，文件未保存，请联系管理员"
