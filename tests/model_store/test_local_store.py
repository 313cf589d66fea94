from __future__ import annotations

import dataclasses
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from model_store.backends.local import LocalStore
from model_store.exceptions import ChecksumMismatch, InvalidReference, ManifestError, ModelNotFound
from model_store.manifest import Manifest, sha256_hex


def _variant(manifest: Manifest, data: bytes, tag: bytes) -> tuple[bytes, Manifest]:
    # Same model, different bytes: an extra doc string changes the file, not the graph.
    import onnx

    proto = onnx.load_model_from_string(data)
    proto.doc_string = tag.decode()
    new = proto.SerializeToString()
    return new, dataclasses.replace(
        manifest, sha256=sha256_hex(new), size_bytes=len(new), version=0
    )


@pytest.fixture
def seeded(tmp_path: Path, example_store: Path) -> tuple[LocalStore, bytes, Manifest]:
    src = LocalStore(example_store)
    manifest, data = src.get("digits", 1)
    return LocalStore(tmp_path), data, dataclasses.replace(manifest, version=0)


def test_versions_are_numbered_and_identical_bytes_recognised(seeded) -> None:
    store, data, draft = seeded
    m1, created1 = store.register(data, draft)
    again, created_again = store.register(data, draft)
    data2, draft2 = _variant(draft, data, b"v2")
    m2, created2 = store.register(data2, draft2)
    assert (m1.version, created1) == (1, True)
    assert (again.version, created_again) == (1, False)
    assert (m2.version, created2) == (2, True)
    assert [m.version for m in store.versions("digits")] == [1, 2]
    assert store.manifest("digits").version == 2
    assert store.get("digits", 1)[1] == data
    assert store.names() == ["digits"]


def test_versions_are_immutable_on_disk(seeded) -> None:
    store, data, draft = seeded
    m1, _ = store.register(data, draft)
    path = store.model_path(m1)
    assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_tampered_bytes_are_detected(seeded) -> None:
    store, data, draft = seeded
    m1, _ = store.register(data, draft)
    path = store.model_path(m1)
    path.chmod(0o644)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ChecksumMismatch, match="changed or corrupted"):
        store.get("digits", 1)


def test_manifest_edited_to_another_version_is_detected(seeded) -> None:
    store, data, draft = seeded
    m1, _ = store.register(data, draft)
    mpath = store.model_path(m1).with_name("manifest.json")
    mpath.chmod(0o644)
    mpath.write_text(mpath.read_text().replace('"version": 1', '"version": 7'))
    with pytest.raises(ManifestError, match="edited by hand"):
        store.manifest("digits", 1)


def test_missing_models_and_versions(seeded) -> None:
    store, data, draft = seeded
    with pytest.raises(ModelNotFound, match="register it first"):
        store.get("digits")
    store.register(data, draft)
    with pytest.raises(ModelNotFound, match=r"versions in .*: \[1\]"):
        store.get("digits", 3)


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", ""])
def test_names_that_escape_the_store_are_refused(seeded, name: str) -> None:
    store, data, draft = seeded
    with pytest.raises(InvalidReference):
        store.register(data, dataclasses.replace(draft, name=name))


def _register_variant(args: tuple[str, bytes, dict, int]) -> int:
    root, data, draft_dict, i = args
    draft = Manifest.from_dict(draft_dict)
    new, variant = _variant(draft, data, f"proc-{i}".encode())
    return LocalStore(root).register(new, variant)[0].version


def test_concurrent_registrations_get_distinct_versions(seeded, tmp_path: Path) -> None:
    store, data, draft = seeded
    jobs = [(str(store.root), data, draft.to_dict(), i) for i in range(6)]
    with ProcessPoolExecutor(3) as pool:
        versions = sorted(pool.map(_register_variant, jobs))
    assert versions == [1, 2, 3, 4, 5, 6]
    assert len({m.sha256 for m in store.versions("digits")}) == 6
