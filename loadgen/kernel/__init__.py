"""What the kernel did and what it was: vmstat and mTHP counters, system facts.

* ``vmstat``  -- /proc/vmstat snapshots and deltas (system-wide event counters)
* ``thp``     -- THP settings and per-size mTHP counters under /sys/kernel/mm/transparent_hugepage
* ``counters``-- one snapshot of both, and the delta shape of JobResult.kernel
* ``sysinfo`` -- the run header that makes a report reproducible

Every counter here is system-wide (other processes' faults count too), so every
delta is labelled ``"scope": "system"``.  Reading them never fails a run: a missing
file gives an empty map.
"""
