from __future__ import annotations

import os
import zipfile
from pathlib import Path

from infra.build.zipper import FIXED_DATE, iter_tree, write_zip


def _tree(root: Path, order: list[str]) -> None:
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")


def test_same_tree_gives_same_digest_whatever_the_order_and_times(tmp_path: Path) -> None:
    names = ["pkg/b.py", "pkg/a.py", "pkg/sub/c.py", "top.txt"]
    _tree(tmp_path / "one", names)
    _tree(tmp_path / "two", list(reversed(names)))
    os.utime(tmp_path / "two" / "pkg" / "a.py", (1_000_000_000, 1_000_000_000))
    (tmp_path / "two" / "top.txt").chmod(0o600)

    first = write_zip(iter_tree(tmp_path / "one", "python/"), tmp_path / "one.zip")
    second = write_zip(iter_tree(tmp_path / "two", "python/"), tmp_path / "two.zip")
    again = write_zip(iter_tree(tmp_path / "one", "python/"), tmp_path / "again.zip")

    assert first == second == again
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_entries_are_sorted_with_fixed_time_and_normalised_modes(tmp_path: Path) -> None:
    _tree(tmp_path / "src", ["b/x.py", "a.py", "run.sh"])
    (tmp_path / "src" / "run.sh").chmod(0o700)
    write_zip(iter_tree(tmp_path / "src"), tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["a.py", "b/x.py", "run.sh"]
    assert {i.date_time for i in infos} == {FIXED_DATE}
    modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in infos}
    assert modes == {"a.py": 0o644, "b/x.py": 0o644, "run.sh": 0o755}


def test_content_change_changes_digest(tmp_path: Path) -> None:
    _tree(tmp_path / "src", ["a.py"])
    before = write_zip(iter_tree(tmp_path / "src"), tmp_path / "a.zip")
    (tmp_path / "src" / "a.py").write_text("changed\n")
    assert write_zip(iter_tree(tmp_path / "src"), tmp_path / "b.zip") != before
