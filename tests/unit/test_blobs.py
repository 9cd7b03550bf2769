"""The content-addressed blob store: plain file system, no broker, no database."""

import hashlib
import os

import pytest

from services.chassis import blobs as blobs_module
from services.chassis.blobs import BlobCorrupt, BlobStore
from services.chassis.errors import BadRequest, NotFound

DATA = b"%PDF-1.4 an invoice\n"
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def store(tmp_path):
    return BlobStore(root=tmp_path / "blobs")


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_put_returns_the_sha256_and_stores_under_two_levels_of_folders(store):
    assert store.put(DATA) == SHA
    path = store.root / SHA[:2] / SHA[2:4] / SHA
    assert path.read_bytes() == DATA
    assert _files(store.root) == [f"{SHA[:2]}/{SHA[2:4]}/{SHA}"]  # no temporary file left


def test_get_exists_and_size_after_put(store):
    store.put(DATA)
    assert store.get(SHA) == DATA
    assert store.exists(SHA)
    assert store.size(SHA) == len(DATA)


def test_upper_case_names_are_the_same_blob(store):
    store.put(DATA)
    assert store.get(SHA.upper()) == DATA
    assert store.exists(SHA.upper())


def test_put_is_idempotent_and_leaves_a_present_blob_alone(store):
    store.put(DATA)
    path = store.root / SHA[:2] / SHA[2:4] / SHA
    before = path.stat()
    assert store.put(DATA) == SHA
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(_files(store.root)) == 1


def test_distinct_contents_are_distinct_blobs(store):
    names = {store.put(b"a"), store.put(b"b"), store.put(b"")}
    assert len(names) == 3
    assert store.get(hashlib.sha256(b"").hexdigest()) == b""
    assert store.size(hashlib.sha256(b"").hexdigest()) == 0


def test_put_accepts_bytes_like(store):
    assert store.put(bytearray(DATA)) == SHA
    assert store.put(memoryview(DATA)) == SHA


def test_unknown_blob_is_not_found(store):
    unknown = "0" * 64
    assert not store.exists(unknown)
    with pytest.raises(NotFound) as e:
        store.get(unknown)
    assert e.value.code == "BLOB_UNKNOWN" and isinstance(e.value, NotFound)
    with pytest.raises(NotFound) as e:
        store.size(unknown)
    assert e.value.code == "BLOB_UNKNOWN"


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "/etc/passwd",
        SHA[:63],
        SHA + "0",
        SHA[:62] + "/.",
        "g" * 64,
        "..",
        "",
        f"{SHA[:2]}/{SHA[2:4]}/{SHA}",
        SHA + "\n",
        None,
        123,
        b"0" * 64,
    ],
)
def test_names_that_are_not_sha256_hex_never_reach_the_file_system(store, tmp_path, name):
    (tmp_path / "secret").write_bytes(b"secret")
    assert store.exists(name) is False
    with pytest.raises(BadRequest) as e:
        store.get(name)
    assert e.value.code == "BLOB_NAME_INVALID"
    with pytest.raises(BadRequest):
        store.size(name)


def test_a_blob_whose_bytes_changed_on_disk_is_refused(store):
    store.put(DATA)
    (store.root / SHA[:2] / SHA[2:4] / SHA).write_bytes(b"tampered")
    with pytest.raises(BlobCorrupt):
        store.get(SHA)


def test_a_failed_write_leaves_neither_blob_nor_temporary_file(store, monkeypatch):
    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(blobs_module.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        store.put(DATA)
    assert not store.exists(SHA)
    assert _files(store.root) == []


def test_the_file_is_fsynced_before_it_is_renamed(store, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(blobs_module.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(
        blobs_module.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))
    )
    store.put(DATA)
    assert events.index("fsync") < events.index("replace")
    assert "fsync" in events[events.index("replace") :]  # the folder, after the rename


def test_default_root_is_blobs_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENCOO_VAR", str(tmp_path / "var"))
    store = BlobStore()
    assert store.root == (tmp_path / "var").resolve() / "blobs"
    store.put(DATA)
    assert (tmp_path / "var" / "blobs" / SHA[:2] / SHA[2:4] / SHA).is_file()
