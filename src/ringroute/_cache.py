"""A small on-disk cache: pickled values named by a hash, written atomically."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
import time
from pathlib import Path
from typing import Any

from ringroute._io import atomic_write_bytes
from ringroute.errors import OutputError

log = logging.getLogger("ringroute")

_MAGIC = b"RINGROUTE-CACHE-1\n"


def cache_key(*parts: str | bytes) -> str:
    """Hash ``parts`` into a file-name-safe key."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


def load(folder: Path, key: str) -> Any | None:
    """Return the cached value for ``key``, or ``None`` on a miss.

    A corrupt or unreadable entry counts as a miss and is removed.
    """
    path = folder / f"{key}.pickle"
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    if not blob.startswith(_MAGIC):
        log.warning("ignoring corrupt cache entry %s", path)
        path.unlink(missing_ok=True)
        return None
    try:
        return pickle.loads(blob[len(_MAGIC):])
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError,
            TypeError, IndexError) as exc:
        log.warning("ignoring corrupt cache entry %s (%s)", path, exc)
        path.unlink(missing_ok=True)
        return None


def _remove_stale_parts(folder: Path, max_age_s: float = 3600.0) -> None:
    """Remove temp files that a crashed run left behind."""
    now = time.time()
    for part in folder.glob(".*.part"):
        with contextlib.suppress(OSError):
            if now - part.stat().st_mtime > max_age_s:
                part.unlink()


def store(folder: Path, key: str, value: Any) -> Path | None:
    """Store ``value`` under ``key`` atomically; failures only log a warning."""
    path = folder / f"{key}.pickle"
    if folder.is_dir():
        _remove_stale_parts(folder)
    try:
        return atomic_write_bytes(path, _MAGIC + pickle.dumps(value, protocol=5))
    except OutputError as exc:
        log.warning("could not write cache entry: %s", exc)
        return None
