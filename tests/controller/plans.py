"""Small plans for controller tests, numbered as fio numbers jobs and clones.

Also a script: ``python plans.py '<json>'`` runs ``make_plan(**json)`` with
``loadgen.controller.run`` and exits with its status (for tests that send signals
to a whole controller process).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

from loadgen.plan import Group, Job, Plan, RwMode

MIB = 1 << 20


def make_plan(groups: list[dict[str, Any]]) -> Plan:
    """``groups``: per group, the section's Job fields plus ``numjobs`` (default 1)."""
    out = []
    thread_number = 1
    for gid, spec in enumerate(groups):
        spec = dict(spec)
        numjobs = spec.pop("numjobs", 1)
        spec.setdefault("size", 8 * MIB)
        spec["rw"] = RwMode(spec.get("rw", RwMode.RANDWRITE))
        name = spec.pop("name", f"g{gid}")
        if "cpus_allowed" in spec:
            spec["cpus_allowed"] = tuple(spec["cpus_allowed"])
        base = Job(name=name, thread_number=0, subjob=0, numjobs=numjobs, group_id=gid, **spec)
        jobs = []
        for k in range(numjobs):
            jobs.append(
                replace(base, thread_number=thread_number, subjob=0 if k == 0 else numjobs - k)
            )
            thread_number += 1
        out.append(Group(gid, tuple(jobs)))
    return Plan(groups=tuple(out))


if __name__ == "__main__":
    import orjson

    from loadgen.controller import run
    from loadgen.plan import RunOptions

    args = orjson.loads(sys.argv[1])
    opts = RunOptions(**args.get("opts", {}))
    sys.exit(run(make_plan(args["groups"]), opts))
