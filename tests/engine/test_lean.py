"""Which units run as lean workers (engine.lean.unfit, engine.leanspawn.unfit)."""

from __future__ import annotations

import pytest

from loadgen.engine import lean, leanspawn
from loadgen.plan import Job, RwMode, VerifyControls, VerifyKind

from .conftest import make_job

pytestmark = pytest.mark.skipif(not lean.SUPPORTED, reason="no system call table here")


def storm_job(**kw: object) -> Job:
    base: dict[str, object] = {"size": 4 << 20, "rw": RwMode.RANDRW}
    base.update(kw)
    return make_job(**base)


def test_a_storm_job_is_fit_and_what_needs_python_is_not() -> None:
    assert leanspawn.unfit((storm_job(),)) == ""
    assert lean.unfit((storm_job(), storm_job())) == "several jobs in one worker"
    assert lean.unfit((storm_job(thread=True),)) == "thread=1"
    assert lean.unfit((storm_job(time_based=True, runtime_ns=10**9),)) == "time-based or ramped"
    assert lean.unfit((storm_job(verify=VerifyControls(kind=VerifyKind.CRC32C)),)) == "verify"
    assert lean.unfit((storm_job(write_lat_log="x"),)) == "per-I/O logs"
    assert lean.unfit((storm_job(size=1 << 30),)) == f"over {lean.MAX_IOS} I/Os"
    assert leanspawn.unfit((storm_job(thp="madvise"),)) != ""
