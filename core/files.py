"""The content-addressed file store: every file is kept under the SHA-256 of its bytes.

A file's name is its fingerprint, so a stored document cannot change without changing its
name, storing the same bytes twice is a no-op, and the hash printed on a verification page
locates the file directly. Layout: ``<root>/ab/cd/abcd…`` (two levels of 256 folders keep each
directory small).
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from flask import Flask

_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class MalformedHash(ValueError):
    """Not a SHA-256 in our spelling: exactly 64 lowercase hexadecimal characters."""


def check_sha256(sha256: str) -> str:
    """Return ``sha256`` unchanged if it is 64 lowercase hex characters.

    Strict on purpose: the hash becomes a path, so anything else (``../``, upper case that
    would name a second copy, a trailing newline) is refused before it reaches the filesystem.

    :raise MalformedHash: otherwise.
    """
    if not isinstance(sha256, str) or not _SHA256_RE.fullmatch(sha256):
        raise MalformedHash(f"not a lowercase SHA-256 hex digest: {sha256!r}")
    return sha256


class FileStore:
    """Files on disk under ``root``, addressed by the SHA-256 of their content."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the file with this hash lives (whether or not it exists).

        :raise MalformedHash: for anything but a lowercase hex SHA-256.
        """
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        """Whether the file with this hash is stored."""
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open the stored file for reading (binary); the caller closes it.

        :raise FileNotFoundError: when no file with this hash is stored.
        """
        return self.path(sha256).open("rb")

    def read(self, sha256: str) -> bytes:
        """The stored bytes. :raise FileNotFoundError: when none are stored."""
        return self.path(sha256).read_bytes()

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its SHA-256 (hex). Idempotent.

        Written to a temporary file in the target folder, flushed to disk, then renamed with
        :func:`os.replace`: readers see either no file or the whole file, never a partial one,
        even if the process dies halfway or two processes store the same bytes at once.
        """
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.is_file():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            # Read-only: a stored file is never rewritten in place (its name is its content).
            os.chmod(tmp_name, 0o444)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)
        return sha256


def _fsync_directory(folder: Path) -> None:
    # The rename is durable only once the directory entry itself reaches the disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_store(app: Flask) -> FileStore:
    """The application's file store, rooted at ``app.config["FILES_DIR"]``."""
    return FileStore(app.config["FILES_DIR"])
