"""A content-addressed blob store on the local file system.

A blob is named by the SHA-256 of its bytes (lowercase hex) and kept at
``<root>/ab/cd/<sha256>``, where ``ab`` and ``cd`` are the first two byte pairs of the name, so no
folder grows past 65,536 entries. The application service keeps exporters' documents here; the
certificate service will keep signed PDFs here too.

Writes are atomic and durable: the bytes go to a temporary file in the target folder, which is
fsynced and then renamed over the final name with ``os.replace``; the folder is fsynced after the
rename. A reader therefore sees either no blob or the whole blob, never a torn one, and a second
``put`` of the same bytes (or two concurrent ones) is harmless. Blobs are never changed or deleted
through this class.

Names are checked against ``^[0-9a-f]{64}$`` before they touch the file system, so a caller can
never reach outside the root (``../``, absolute paths, separators).
"""

import hashlib
import os
import re
import tempfile
from pathlib import Path

from services.chassis import config
from services.chassis.errors import BadRequest, NotFound

_NAME = re.compile(r"[0-9a-f]{64}")


class BlobCorrupt(Exception):
    """A stored blob whose bytes no longer hash to its name: a disk or operator fault, never the
    caller's, so it is not an ``ApiError`` and surfaces as a 500."""


class BlobStore:
    def __init__(self, root=None):
        self.root = Path(root) if root is not None else config.var_dir() / "blobs"

    # --- names ---------------------------------------------------------------------------------

    @staticmethod
    def _name(sha256) -> str:
        name = sha256.lower() if isinstance(sha256, str) else None
        if name is None or not _NAME.fullmatch(name):
            raise BadRequest("a blob name is 64 hexadecimal digits", code="BLOB_NAME_INVALID")
        return name

    def path(self, sha256) -> Path:
        name = self._name(sha256)
        return self.root / name[0:2] / name[2:4] / name

    # --- reads ---------------------------------------------------------------------------------

    def exists(self, sha256) -> bool:
        """False for a name that is not a valid SHA-256 hex digest: no such blob can exist."""
        try:
            return self.path(sha256).is_file()
        except BadRequest:
            return False

    def size(self, sha256) -> int:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise NotFound("no such blob", code="BLOB_UNKNOWN") from None

    def get(self, sha256) -> bytes:
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound("no such blob", code="BLOB_UNKNOWN") from None
        if hashlib.sha256(data).hexdigest() != path.name:
            raise BlobCorrupt(f"blob {path.name} does not match its content hash")
        return data

    # --- writes --------------------------------------------------------------------------------

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its SHA-256 hex name; a blob already present is left alone."""
        data = bytes(data)
        name = hashlib.sha256(data).hexdigest()
        path = self.path(name)
        if path.is_file():
            return name
        folder = path.parent
        new_folders = [d for d in (folder.parent, folder) if not d.is_dir()]
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o644)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
            raise
        # The rename, and the entries of folders made just now, must survive a power cut too.
        for d in [folder, *(d.parent for d in reversed(new_folders))]:
            _fsync_dir(d)
        return name


def _fsync_dir(folder: Path):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
