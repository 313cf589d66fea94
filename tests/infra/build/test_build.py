"""build() end to end, offline: the layer comes from a seeded cache, so pip is never run."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from infra.build import BuildTarget, build
from infra.build.exceptions import LimitExceeded
from infra.build.layer import cache_key, cached, strip
from infra.build.report import Limits
from infra.build.zipper import iter_tree, write_zip

TARGET = BuildTarget("arm64", "3.12")


def seeded(tmp_path: Path) -> tuple[Path, Path]:
    """A lock covering TARGET and a cached layer.zip built from it."""
    lock = tmp_path / "requirements.txt"
    lock.write_text("# targets: 3.12-arm64\nsmall==0.1 \\\n    --hash=sha256:00\n")
    site = tmp_path / "site"
    (site / "small").mkdir(parents=True)
    (site / "small" / "__init__.py").write_text("VALUE = 1\n" * 50_000)  # past functions/ (0.1+ MB)
    out = tmp_path / "build"
    layer_zip = out / TARGET.name / "layer.zip"
    sha = write_zip(iter_tree(site, "python/"), layer_zip)
    key = cache_key(lock.read_text(), TARGET)
    (layer_zip.parent / "layer.key.json").write_text(json.dumps({"key": key, "sha256": sha}))
    return lock, out


def test_build_reuses_the_cached_layer_and_is_reproducible(tmp_path: Path) -> None:
    lock, out = seeded(tmp_path)
    first = build(TARGET, out, lock_path=lock)
    second = build(TARGET, out, lock_path=lock)
    assert first.layer_reused and second.layer_reused
    assert first.function_sha256 == second.function_sha256
    assert first.layer_sha256 == second.layer_sha256
    assert first.function_zip == out / "3.12-arm64" / "function.zip"
    report = json.loads((out / "3.12-arm64" / "report.json").read_text())
    assert report == first.report
    assert report["target"] == {"arch": "arm64", "python": "3.12"}
    assert report["layer"]["packages"][0]["package"] == "small"
    with zipfile.ZipFile(first.function_zip) as zf:
        assert "functions/predict/handler.py" in zf.namelist()


def test_a_changed_lock_or_target_misses_the_cache(tmp_path: Path) -> None:
    lock, out = seeded(tmp_path)
    layer_zip, key_file = out / TARGET.name / "layer.zip", out / TARGET.name / "layer.key.json"
    text = lock.read_text()
    assert cached(layer_zip, key_file, cache_key(text, TARGET))
    assert cached(layer_zip, key_file, cache_key(text + "x==1\n", TARGET)) is None
    assert cached(layer_zip, key_file, cache_key(text, BuildTarget("x86_64", "3.12"))) is None
    layer_zip.write_bytes(b"tampered")
    assert cached(layer_zip, key_file, cache_key(text, TARGET)) is None


def test_over_a_limit_the_zips_are_removed_and_the_biggest_named(tmp_path: Path) -> None:
    lock, out = seeded(tmp_path)
    with pytest.raises(LimitExceeded, match=r"Biggest contributors: small .*functions"):
        build(TARGET, out, lock_path=lock, limits=Limits(unzipped=2_000, zipped=10**9))
    target_dir = out / TARGET.name
    assert not (target_dir / "function.zip").exists()
    assert not (target_dir / "layer.zip").exists()
    report = json.loads((target_dir / "report.json").read_text())
    assert report["over_limits"] and report["total"]["unzipped"] > 2_000


def test_strip_removes_tests_caches_and_scripts_only(tmp_path: Path) -> None:
    keep = ["numpy/__init__.py", "numpy/testing/utils.py", "numpy-2.4.6.dist-info/RECORD"]
    drop = [
        "numpy/tests/test_a.py",
        "numpy/_core/tests/data/x.csv",
        "numpy/__pycache__/x.cpython-312.pyc",
        "numpy/old.pyc",
        "bin/f2py",
    ]
    for name in keep + drop:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "numpy-2.4.6.dist-info" / "RECORD").write_text(
        "numpy/__init__.py,sha256=abc,1\n../../bin/f2py,sha256=depends-on-sys.executable,99\n"
    )
    assert strip(tmp_path) == len(drop)
    # Entries for the removed scripts go too: their hashes cover the builder's interpreter path.
    record = (tmp_path / "numpy-2.4.6.dist-info" / "RECORD").read_text()
    assert record == "numpy/__init__.py,sha256=abc,1\n"
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted(keep)


def test_strip_removes_what_the_function_never_runs(tmp_path: Path) -> None:
    keep = [
        "onnxruntime/capi/onnxruntime_pybind11_state.so",
        "PIL/Image.py",
        "PIL/_imaging.cpython-312-aarch64-linux-gnu.so",
        "PIL/_webp.cpython-312-aarch64-linux-gnu.so",
        "pillow.libs/libjpeg-80045241.so.62.4.0",
        "numpy/_core/multiarray.py",
    ]
    drop = [
        "numpy/__init__.pyi",
        "numpy/_core/include/numpy/ndarraytypes.h",
        "numpy/f2py/__init__.py",
        "onnxruntime/transformers/optimizer.py",
        "onnxruntime/quantization/quantize.py",
        "onnxruntime/tools/symbolic_shape_infer.py",
        "onnxruntime/capi/libonnxruntime.so.1.32.0",
        "PIL/_avif.cpython-312-aarch64-linux-gnu.so",
        "pillow.libs/libavif-ba04b566.so.16.4.2",
        "PIL/_imagingft.cpython-312-aarch64-linux-gnu.so",
        "pillow.libs/libfreetype-6d43b1fe.so.6.20.6",
        "pillow.libs/libharfbuzz-38f28207.so.0.61450.0",
    ]
    for name in keep + drop:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert strip(tmp_path) == len(drop)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted(keep)


def test_concurrent_builds_of_one_target_do_not_trample_each_other(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    lock, out = seeded(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: build(TARGET, out, lock_path=lock), range(4)))
    assert len({(r.function_sha256, r.layer_sha256) for r in results}) == 1
    with zipfile.ZipFile(results[0].function_zip) as zf:
        assert zf.testzip() is None
