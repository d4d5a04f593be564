"""The memory-management profiles: each resolves, uses the controls it is about, and has
its line in docs/memory.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.plan import Backing, Job, Refault
from tests.jobfile.plans import load

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted((ROOT / "profiles").glob("mm_*.fio"))


def test_there_are_the_six_mm_profiles() -> None:
    assert [p.stem for p in PROFILES] == ["mm_memcg_pressure", "mm_mthp_sweep", "mm_refault_soak",
                                          "mm_shmem_storm", "mm_swapin", "mm_thp_collapse"]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
def test_each_profile_resolves_and_is_documented(profile: Path) -> None:
    plan, _ = load([str(profile)], environ={}, note=lambda message: None)
    assert plan.jobs
    assert f"`profiles/{profile.name}`" in (ROOT / "docs" / "memory.md").read_text()


def test_the_profiles_use_their_controls() -> None:
    def jobs(name: str) -> tuple[Job, ...]:
        path = str(ROOT / "profiles" / f"{name}.fio")
        return load([path], environ={}, note=lambda m: None)[0].jobs

    soak = jobs("mm_refault_soak")[0]
    assert soak.mm.refault is Refault.DONTNEED and soak.time_based
    assert soak.runtime_ns == 24 * 3600 * 10**9
    assert all(j.mm.backing is Backing.SHARED for j in jobs("mm_shmem_storm"))
    collapse = jobs("mm_thp_collapse")
    assert collapse[0].mm.thp_delay_ns == 5 * 10**9 and collapse[1].mm.collapse
    sweep = jobs("mm_mthp_sweep")
    assert [j.mm.mthp[0][0] // 1024 for j in sweep] == [16, 32, 64, 128, 256, 512, 1024]
    assert len({j.group_id for j in sweep}) == len(sweep)  # one group per size
    assert all(j.mm.memory_limit for j in jobs("mm_memcg_pressure"))
    assert jobs("mm_swapin")[0].mm.refault is Refault.PAGEOUT
