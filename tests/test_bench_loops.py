"""The loop benchmark (bench/loops.py) on the Tsukuba Science City extract, with Routino."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import SCIENCE_CITY
from ringroute._bike import WAY_CLASSES

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("loops")
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def info(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return bench.load_extract(SCIENCE_CITY, tmp_path_factory.mktemp("cache"))


def test_requests_are_deterministic_and_snapped_like_the_cli(bench: ModuleType,
                                                             info: Any) -> None:
    a = bench.make_requests(info, 6, 1)
    assert a == bench.make_requests(info, 6, 1)
    core = info.net.router.core
    idx = info.net.router.index
    # a start on a dead end gives way to a loop-able node within 100 m where there is one
    assert sum(bool(core[idx[q.start]]) for q in a) >= 4


@pytest.mark.peer
@pytest.mark.skipif(shutil.which("routino-router") is None, reason="routino not installed")
def test_routino_reference_loop_way_classes(bench: ModuleType, info: Any,
                                            tmp_path: Path) -> None:
    reqs = [q for q in bench.make_requests(info, 10, 1) if len(q.sights) >= 2]
    assert reqs
    db = bench.routino_peer.build_database(SCIENCE_CITY, tmp_path, "tsukuba")
    res = bench.run_request(info, reqs[0], 120.0, [])
    assert res.status == "planned"
    assert 0.0 <= res.forced <= res.repeated + 1e-9
    assert bench.avoidable(res) == pytest.approx(res.repeated - res.forced)
    bench.run_peer(db, info, res)
    assert res.peer is not None and res.peer.error is None, res.peer
    # Routino's shortest loop through the same stops is shorter than the planned one
    assert res.peer.length_m < res.length_m
    # its way classes come from matching its track onto ringroute's graph
    assert res.peer_matched >= 0.95
    assert set(res.peer_class_share) <= set(WAY_CLASSES)
    assert sum(res.peer_class_share.values()) == pytest.approx(1.0)
    row = res.row()
    assert row["routino_share_quiet"] == pytest.approx(res.peer_class_share.get("quiet", 0.0),
                                                       abs=1e-5)
