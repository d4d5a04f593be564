"""The combined snapshot and the kernel delta shape reports carry."""

from __future__ import annotations

from loadgen.kernel import counters


def test_delta_shape_is_labelled_system_wide() -> None:
    before = {"vmstat": {"pgfault": 1}, "mthp": {"64kB": {"anon_fault_alloc": 1}}}
    after = {"vmstat": {"pgfault": 4}, "mthp": {"64kB": {"anon_fault_alloc": 3}}}
    assert counters.delta(before, after) == {"scope": "system", "vmstat": {"pgfault": 3},
                                             "mthp": {"64kB": {"anon_fault_alloc": 2}}}


def test_real_snapshot_round_trip() -> None:
    snap = counters.snapshot()
    assert set(snap) == {"vmstat", "mthp"}
    d = counters.delta(snap, counters.snapshot())
    assert d["scope"] == "system" and "pgfault" in d["vmstat"]
    # event counters only grow; the nr_* gauges may move either way
    assert all(v >= 0 for name, v in d["vmstat"].items() if not name.startswith("nr_"))
