"""Output files: each whole or absent; a job's files all in place or none."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ringroute._io import OutputBatch, atomic_write_text, batch_or_new
from ringroute.errors import OutputError


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_a_batch_puts_every_file_in_place_at_commit(tmp_path: Path) -> None:
    (tmp_path / "a.gpx").write_text("old a")
    with OutputBatch() as batch:
        assert batch.write_text(tmp_path / "a.gpx", "new a") == tmp_path / "a.gpx"
        batch.write_text(tmp_path / "sub" / "b.html", "new b")
        # nothing is in place before the commit
        assert (tmp_path / "a.gpx").read_text() == "old a"
        assert not (tmp_path / "sub" / "b.html").exists()
        assert batch.paths == [tmp_path / "a.gpx", tmp_path / "sub" / "b.html"]
        batch.commit()
    assert (tmp_path / "a.gpx").read_text() == "new a"
    assert (tmp_path / "sub" / "b.html").read_text() == "new b"
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "sub") == []


def test_an_error_before_the_commit_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "a.gpx").write_text("old a")
    with pytest.raises(RuntimeError, match="planning failed"), OutputBatch() as batch:
        batch.write_text(tmp_path / "a.gpx", "new a")
        batch.write_text(tmp_path / "b.html", "new b")
        raise RuntimeError("planning failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gpx"]
    assert (tmp_path / "a.gpx").read_text() == "old a"


def test_a_folder_in_the_way_is_found_before_anything_is_renamed(tmp_path: Path) -> None:
    with OutputBatch() as batch:
        batch.write_text(tmp_path / "a.gpx", "a")
        (tmp_path / "b.html").mkdir()  # e.g. made by someone else meanwhile
        batch.write_text(tmp_path / "c.md", "c")
        with pytest.raises(OutputError, match=r"b\.html.*a folder of that name"):
            batch.write_text(tmp_path / "b.html", "b")
        (tmp_path / "c.md").mkdir()
        with pytest.raises(OutputError, match=r"c\.md.*a folder of that name"):
            batch.commit()
    assert not (tmp_path / "a.gpx").exists()
    assert _leftovers(tmp_path) == []


def test_the_same_file_twice_in_one_batch_is_refused(tmp_path: Path) -> None:
    with OutputBatch() as batch:
        batch.write_text(tmp_path / "a.gpx", "a")
        with pytest.raises(OutputError, match="twice"):
            batch.write_text(tmp_path / "a.gpx", "b")


def test_a_full_disk_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up at the second file: neither file, nor any part of one, is left."""
    real_fsync = os.fsync
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr("ringroute._io.os.fsync", fsync)
    with (pytest.raises(OutputError, match=r"cannot write .*b\.html.*No space left"),
          OutputBatch() as batch):
        batch.write_text(tmp_path / "a.gpx", "a")
        batch.write_text(tmp_path / "b.html", "b")
        batch.commit()
    assert list(tmp_path.iterdir()) == []


def test_batch_or_new_commits_its_own_batch_only(tmp_path: Path) -> None:
    with batch_or_new(None) as own:
        own.write_text(tmp_path / "a.txt", "a")
    assert (tmp_path / "a.txt").read_text() == "a"
    with OutputBatch() as outer:
        with batch_or_new(outer) as same:
            assert same is outer
            same.write_text(tmp_path / "b.txt", "b")
        assert not (tmp_path / "b.txt").exists()  # the caller commits
        outer.commit()
    assert (tmp_path / "b.txt").read_text() == "b"


def test_atomic_write_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / "x.html").mkdir()
    with pytest.raises(OutputError, match="a folder of that name"):
        atomic_write_text(tmp_path / "x.html", "page")
    assert _leftovers(tmp_path) == []
