"""The fleet's Dask calls (loadgen.fleet.daskapi) against a loopback cluster."""

from __future__ import annotations

import pytest
from distributed import LocalCluster

from loadgen.fleet import daskapi


def test_the_workers_come_from_the_scheduler_even_when_the_clients_cache_has_none(
    cluster: LocalCluster,
) -> None:
    client = daskapi.connect(cluster.scheduler_address, 30)
    try:
        client.wait_for_workers(3, timeout=60)
        refresh = getattr(client, "_update_scheduler_info", None)
        if refresh is None:
            pytest.skip("this distributed has no periodic scheduler-info refresh")
        client.sync(refresh)  # what the client's periodic callback does: totals, no workers
        assert not dict(client._scheduler_identity.get("workers", {}))
        found = daskapi.workers(client)
        assert len(found) == 3
        assert all(address.startswith("tcp://127.0.0.1:") for address in found)
        assert {str(w["name"]) for w in found.values()} == {"0", "1", "2"}
    finally:
        daskapi.close(client)
