from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra.build.exceptions import LimitExceeded
from infra.build.report import (
    LAYER_ROOT,
    Limits,
    check_limits,
    format_report,
    package_sizes,
    size_report,
    zip_summary,
)


def fake_layer(path: Path) -> Path:
    """A layer zip with two distributions (RECORD files) and one file owned by neither."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("python/big/__init__.py", "x" * 50_000)
        zf.writestr("python/big.libs/libbig.so", bytes(range(256)) * 200)
        zf.writestr(
            "python/big-1.2.dist-info/RECORD",
            "big/__init__.py,sha256=a,1\nbig.libs/libbig.so,,\nbig-1.2.dist-info/RECORD,,\n"
            "../../bin/big,,\n",
        )
        zf.writestr("python/small/__init__.py", "y" * 100)
        zf.writestr("python/small-0.1.dist-info/RECORD", "small/__init__.py,,\n")
        zf.writestr("python/stray.pth", "z")
    return path


def fake_function(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("functions/predict/handler.py", "h" * 1000)
        zf.writestr("model_store/loader.py", "l" * 500)
    return path


def _report(tmp_path: Path, limits: Limits) -> dict:
    layer = zip_summary(fake_layer(tmp_path / "layer.zip"), "ab" * 32, LAYER_ROOT)
    function = zip_summary(fake_function(tmp_path / "function.zip"), "cd" * 32)
    return size_report({"arch": "arm64", "python": "3.12"}, function, layer, limits)


def test_package_sizes_group_files_by_distribution(tmp_path: Path) -> None:
    rows = {r["package"]: r for r in package_sizes(fake_layer(tmp_path / "l.zip"), LAYER_ROOT)}
    assert set(rows) == {"big 1.2", "small 0.1", "stray.pth"}
    assert rows["big 1.2"]["files"] == 3  # module, shared library (in big.libs), RECORD
    assert rows["big 1.2"]["unzipped"] == 50_000 + 256 * 200 + len(
        "big/__init__.py,sha256=a,1\nbig.libs/libbig.so,,\nbig-1.2.dist-info/RECORD,,\n"
        "../../bin/big,,\n"
    )
    assert 0 < rows["big 1.2"]["zipped"] < rows["big 1.2"]["unzipped"]
    assert list(rows)[0] == "big 1.2"  # biggest first


def test_report_totals_and_limits(tmp_path: Path) -> None:
    report = _report(tmp_path, Limits())
    layer, function = report["layer"], report["function"]
    assert report["total"]["unzipped"] == layer["unzipped"] + function["unzipped"]
    assert layer["zipped"] == (tmp_path / "layer.zip").stat().st_size
    assert function["unzipped"] == 1500
    assert report["limits"] == {"unzipped": 250 * 1024 * 1024, "zipped": 50 * 1024 * 1024}
    assert report["over_limits"] == []
    check_limits(report)  # within limits: no error
    text = format_report(report)
    assert "big 1.2" in text and "OK" in text.splitlines()[-1]


def test_over_the_unzipped_limit_is_refused_naming_the_biggest(tmp_path: Path) -> None:
    report = _report(tmp_path, Limits(unzipped=10_000, zipped=10**9))
    with pytest.raises(LimitExceeded) as err:
        check_limits(report)
    message = str(err.value)
    assert "unzipped function + layer" in message
    assert message.index("big 1.2") < message.index("small 0.1")
    assert "OVER" in format_report(report)


def test_over_the_zipped_limit_names_the_zip(tmp_path: Path) -> None:
    report = _report(tmp_path, Limits(unzipped=10**9, zipped=1_000))
    with pytest.raises(LimitExceeded, match=r"layer\.zip .* zipped >"):
        check_limits(report)
