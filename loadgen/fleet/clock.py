"""How far each host's wall clock is from the client's, NTP-style, through Dask.

One probe asks a worker for ``time.time_ns()`` between two readings of the client's
clock: if the request and the reply took equally long, the host read its clock at the
midpoint, so ``offset = host - (before + after) / 2``, wrong by at most half the round
trip.  The probe with the shortest round trip of a few is kept.  On loopback every host
shares one clock, so the estimate shows only the method's own error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from distributed import Client

PROBES = 5


@dataclass(frozen=True)
class ClockOffset:
    offset_ns: int  # host clock minus client clock
    uncertainty_ns: int  # half the round trip of the probe used: |error| is at most this
    round_trip_ns: int


def estimate(client: Client, address: str, probes: int = PROBES) -> ClockOffset:
    best: ClockOffset | None = None
    for _ in range(probes):
        before = time.time_ns()
        host_ns = client.run(time.time_ns, workers=[address])[address]
        after = time.time_ns()
        trip = after - before
        if best is None or trip < best.round_trip_ns:
            best = ClockOffset(int(host_ns) - (before + after) // 2, trip // 2, trip)
    assert best is not None
    return best
