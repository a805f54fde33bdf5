"""The content-addressed file store."""
from __future__ import annotations

import hashlib
import os
import stat

import pytest

from core.files import FileStore, MalformedHash, file_store

DATA = "人民法院网络司法拍卖 样本文书".encode()
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def store(tmp_path) -> FileStore:
    return FileStore(tmp_path / "files")


def test_put_returns_the_sha256_and_stores_under_two_levels_of_folders(store, tmp_path):
    assert store.put(DATA) == SHA
    assert store.path(SHA) == tmp_path / "files" / SHA[:2] / SHA[2:4] / SHA
    assert store.path(SHA).read_bytes() == DATA


def test_stored_bytes_read_back_unchanged(store):
    sha = store.put(DATA)
    with store.open(sha) as fh:
        assert fh.read() == DATA
    assert store.read(sha) == DATA
    assert store.exists(sha)


def test_putting_the_same_bytes_twice_keeps_one_file(store, tmp_path):
    first = store.put(DATA)
    mtime = store.path(first).stat().st_mtime_ns
    assert store.put(DATA) == first
    assert store.path(first).stat().st_mtime_ns == mtime
    files = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    assert files == [store.path(first)]


def test_empty_content_is_stored_like_any_other(store):
    sha = store.put(b"")
    assert sha == hashlib.sha256(b"").hexdigest()
    assert store.read(sha) == b""


def test_a_stored_file_is_read_only(store):
    mode = store.path(store.put(DATA)).stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_an_unknown_hash_is_not_there(store):
    unknown = "0" * 64
    assert not store.exists(unknown)
    with pytest.raises(FileNotFoundError):
        store.open(unknown)


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary_one(store, tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.put(DATA)
    assert not store.exists(SHA)
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []


MALFORMED = [
    "",
    "abc",
    SHA[:-1],
    SHA + "0",
    SHA.upper(),
    SHA + "\n",
    "g" * 64,
    "../" + SHA[3:],
    "/" + SHA[1:],
    None,
]


@pytest.mark.parametrize("bad", MALFORMED)
def test_a_malformed_hash_is_refused_before_touching_the_disk(store, bad):
    with pytest.raises(MalformedHash):
        store.path(bad)
    with pytest.raises(MalformedHash):
        store.exists(bad)
    with pytest.raises(MalformedHash):
        store.open(bad)


def test_the_app_store_lives_in_files_dir(app):
    store = file_store(app)
    assert str(store.root) == app.config["FILES_DIR"]
    sha = store.put(DATA)
    assert store.path(sha).is_relative_to(app.config["FILES_DIR"])
