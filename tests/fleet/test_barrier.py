"""The coordinator's barrier: go once every running host is ready; a host not ready within
the timeout is reported, told to stop, and the others start without it."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen.fleet import coordinator, daskapi
from loadgen.fleet.options import FleetOptions
from loadgen.fleet.report import HostRecord


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    set_events: list[str] = []
    monkeypatch.setattr(daskapi, "set_event", lambda client, name: set_events.append(name))
    monkeypatch.setattr(daskapi, "set_variable", lambda client, name, value: None)
    return set_events


def _coordinator(timeout_s: float = 5.0) -> coordinator.Coordinator:
    hosts = [HostRecord(n, f"tcp://{n}:1") for n in ("a", "b", "c")]
    client: Any = None  # only the (patched) event calls would use it
    return coordinator.Coordinator(
        client, hosts, (), (), FleetOptions("tcp://s:1", barrier_timeout_s=timeout_s), None
    )


def _ready(c: coordinator.Coordinator, host: str, group: int) -> None:
    c._handle({"kind": "ready", "host": host, "group": group, "epoch_ns": 1})


def test_go_waits_for_every_host(events: list[str]) -> None:
    c = _coordinator()
    for host in ("a", "b"):
        _ready(c, host, 0)
        c._check_barrier(c.first_ready[0] + 1.0)
    assert events == []
    _ready(c, "c", 0)
    c._check_barrier(c.first_ready[0] + 1.0)
    assert events == [f"loadgen-fleet-{c.run_id}-go-0"]


def test_a_host_not_ready_in_time_is_reported_stopped_and_left_out(
    events: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    c = _coordinator(timeout_s=5.0)
    _ready(c, "a", 0)
    _ready(c, "b", 0)
    c._check_barrier(c.first_ready[0] + 4.0)
    assert events == []
    c._check_barrier(c.first_ready[0] + 6.0)
    assert events == [f"loadgen-fleet-{c.run_id}-stop-c", f"loadgen-fleet-{c.run_id}-go-0"]
    assert c.hosts["c"].record.outcome == "missed_barrier"
    assert "c: not ready at group 0's barrier 5 s after the first host" in capsys.readouterr().err


def test_a_host_still_running_the_previous_group_is_not_late(events: list[str]) -> None:
    c = _coordinator(timeout_s=5.0)
    for host in ("a", "b", "c"):
        _ready(c, host, 0)
    c._check_barrier(c.first_ready[0])
    for host in ("a", "b"):  # c is still in group 0
        c._handle(
            {
                "kind": "lines",
                "host": host,
                "lines": ['{"event.dataset":"loadgen.group_end","loadgen.group":0}'],
            }
        )
        _ready(c, host, 1)
    c._check_barrier(c.first_ready[1] + 100.0)
    assert events == [f"loadgen-fleet-{c.run_id}-go-0"]
    c._handle(
        {
            "kind": "lines",
            "host": "c",
            "lines": ['{"event.dataset":"loadgen.group_end","loadgen.group":0}'],
        }
    )
    c._check_barrier(c.hosts["c"].ended_at[0] + 6.0)  # now it is late
    assert c.hosts["c"].record.outcome == "missed_barrier"
    assert events[-1] == f"loadgen-fleet-{c.run_id}-go-1"
