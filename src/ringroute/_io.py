"""Atomic file output: write to a temporary file beside the target, then rename.

One file is written with :func:`atomic_write_bytes`; the files of one job (a loop's
GPX, cue sheets, comparison and map) with an :class:`OutputBatch`, which puts all of
them in place or none.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from ringroute.errors import OutputError


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def why_not_a_file(path: Path) -> str:
    """Why ``path``, which is not a regular file, cannot be read.

    ``"is a folder"``, ``"is not a regular file"`` (a device, a pipe) or
    ``"does not exist"``.
    """
    if path.is_dir():
        return "is a folder"
    return "is not a regular file" if path.exists() else "does not exist"


def _stage(path: Path, data: bytes) -> Path:
    """Write ``data`` to a new temporary ``.part`` file beside ``path``; its path.

    Raises
    ------
    OutputError
        If ``path`` is a folder, or the folder cannot be created or the file cannot
        be written (permissions, disk full); no partial file is left behind.
    """
    if path.is_dir():
        msg = f"cannot write {str(path)!r}: a folder of that name is in the way"
        raise OutputError(msg)
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        staged = Path(tmp_name)
        tmp_name = None
    except OSError as exc:
        msg = f"cannot write {str(path)!r}: {exc.strerror or exc}"
        raise OutputError(msg) from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                Path(tmp_name).unlink()
    return staged


def _place(staged: Path, path: Path) -> None:
    try:
        staged.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            staged.unlink()
        msg = f"cannot write {str(path)!r}: {exc.strerror or exc}"
        raise OutputError(msg) from exc


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that ``path`` is either complete or absent.

    Parameters
    ----------
    path
        The destination. Its folder is created if missing.
    data
        The content.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        If ``path`` is a folder, or the folder cannot be created or the file cannot
        be written (permissions, disk full); no partial file is left behind.
    """
    _place(_stage(path, data), path)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


class OutputBatch:
    """Files written together: all of them are put in place, or none.

    Each file is first written whole to a temporary file beside its destination;
    :meth:`commit` renames them all into place. Leaving the ``with`` block without
    committing (an error while the files are made) removes the temporary files,
    and the destinations keep what they held before.

    Examples
    --------
    >>> with OutputBatch() as batch:  # doctest: +SKIP
    ...     batch.write_text(out / "a.gpx", gpx)
    ...     batch.write_text(out / "a.html", page)
    ...     batch.commit()
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def __enter__(self) -> OutputBatch:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()

    def write_bytes(self, path: Path, data: bytes) -> Path:
        """Stage ``data`` for ``path``; ``path``.

        Raises
        ------
        OutputError
            As :func:`atomic_write_bytes`, and if ``path`` is staged already.
        """
        if any(dest == path for _, dest in self._staged):
            msg = f"cannot write {str(path)!r} twice in one batch"
            raise OutputError(msg)
        self._staged.append((_stage(path, data), path))
        return path

    def write_text(self, path: Path, text: str) -> Path:
        """Stage UTF-8 ``text`` for ``path``; see :meth:`write_bytes`."""
        return self.write_bytes(path, text.encode("utf-8"))

    @property
    def paths(self) -> list[Path]:
        """The destinations staged so far, in order."""
        return [dest for _, dest in self._staged]

    def commit(self) -> None:
        """Rename every staged file into place.

        Raises
        ------
        OutputError
            If a destination has become a folder, or a rename fails; files staged
            after it are removed.
        """
        for _, dest in self._staged:
            if dest.is_dir():
                msg = f"cannot write {str(dest)!r}: a folder of that name is in the way"
                raise OutputError(msg)
        while self._staged:
            staged, dest = self._staged.pop(0)
            _place(staged, dest)

    def discard(self) -> None:
        """Remove the staged files not yet in place."""
        while self._staged:
            staged, _ = self._staged.pop()
            with contextlib.suppress(OSError):
                staged.unlink()


@contextlib.contextmanager
def batch_or_new(batch: OutputBatch | None) -> Iterator[OutputBatch]:
    """``batch``; without one, a new batch committed when the block ends without error."""
    if batch is not None:
        yield batch
        return
    with OutputBatch() as own:
        yield own
        own.commit()
