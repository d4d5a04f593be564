"""The bundled profiles: found by name, listed, and page_fault.fio resolving to fio's values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loadgen.cli import main
from loadgen.jobfile import profiles

from .plans import load

ROOT = Path(__file__).resolve().parents[2]
# the README's Quickstart path in a checkout: profiles/ links to the package's profiles
PROFILE = ROOT / "profiles" / "page_fault.fio"


def test_page_fault_profile_matches_fio_on_this_machine():
    plan, _ = load([str(PROFILE)], environ={}, note=lambda message: None)
    pagesize = os.sysconf("SC_PAGESIZE")
    mb_memory = os.sysconf("SC_PHYS_PAGES") * pagesize // 2**20
    ncpus = max(1, os.sysconf("SC_NPROCESSORS_CONF"))
    five_eighths = 5 * 1024 * 1024 * mb_memory // 8

    assert len(plan.groups) == 13
    sections = [job for job in plan.jobs if job.subjob == 0]
    assert [job.group_id for job in sections] == list(range(13))
    by_name = {job.name: job for job in sections}
    assert len(by_name) == 13

    storm = by_name["page_fault_process_storm"]
    assert storm.numjobs == ncpus
    assert len(plan.groups[2].jobs) == ncpus
    assert storm.size == 8 * 1024 * pagesize
    assert (storm.rw, storm.rwmixread) == ("randrw", 50)

    hot = by_name["page_fault_cache_hot"]
    assert (hot.size, hot.loops) == (64 * pagesize, 100)
    assert by_name["page_fault_pressure"].size == 7 * 1024 * 1024 * mb_memory // 8
    assert by_name["page_fault_warm"].loops == 3
    assert (
        by_name["page_fault_read_heavy"].rwmixread,
        by_name["page_fault_write_heavy"].rwmixread,
    ) == (90, 10)

    mthp = by_name["page_fault_mthp"]
    assert (mthp.bs_min, mthp.bs_max, mthp.blockalign) == (
        (16384,) * 2,
        (1 << 20,) * 2,
        (16384,) * 2,
    )
    large = by_name["page_fault_large_block"]
    assert (large.bs_min, large.blockalign) == ((2 << 20,) * 2, (2 << 20,) * 2)

    others = set(by_name) - {
        "page_fault_process_storm",
        "page_fault_cache_hot",
        "page_fault_pressure",
    }
    for name in others:
        assert by_name[name].size == five_eighths, name
    for job in plan.jobs:
        if job.name not in ("page_fault_mthp", "page_fault_large_block"):
            assert job.bs_min == job.bs_max == (pagesize, pagesize)
        assert job.stonewall == (job.subjob == 0)
    assert dict(plan.global_options)["size"] == str(five_eighths)


def test_the_checkout_path_is_the_bundled_file():
    assert PROFILE.resolve() == (ROOT / "loadgen" / "profiles" / "page_fault.fio").resolve()
    assert profiles.bundled()["page_fault"].resolve() == PROFILE.resolve()


@pytest.mark.parametrize("argument", ["page_fault", "page_fault.fio"])
def test_a_name_that_is_no_file_finds_the_bundled_profile(argument, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Path(profiles.locate(argument)).resolve() == PROFILE.resolve()


def test_a_file_in_the_working_directory_wins_over_a_bundled_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "page_fault").write_text("[mine]\nsize=1m\n")
    assert profiles.locate("page_fault") == "page_fault"
    plan, _ = load(["page_fault"], environ={}, note=lambda message: None)
    assert [job.name for job in plan.jobs] == ["mine"]


@pytest.mark.parametrize("argument", ["-", "nosuch", "./page_fault", "dir/page_fault.fio"])
def test_other_arguments_are_left_for_the_reader(argument, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert profiles.locate(argument) == argument


def test_plan_by_name_equals_plan_by_path(tmp_path, monkeypatch):
    by_path, _ = load([str(PROFILE)], environ={}, note=lambda message: None)
    monkeypatch.chdir(tmp_path)
    by_name, _ = load(["page_fault"], environ={}, note=lambda message: None)
    def jobs(plan):  # every field but where each job was read from
        return [{**job.to_dict(), "source": job.source.rpartition(":")[2]} for job in plan.jobs]

    assert jobs(by_name) == jobs(by_path) and len(by_name.jobs) >= 13
    assert by_name.files == (str(profiles.bundled()["page_fault"]),)


def test_job_sections_skip_global_sections():
    text = "[global]\nsize=1m\n[a]\nrw=read\n  [global2]\n[b] \n; [not a section\n"
    assert profiles.job_sections(text) == ["a", "b"]


def test_loadgen_profiles_lists_each_bundled_profile_on_one_line(capsys):
    assert main(["profiles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(profiles.bundled()) >= 1
    (page_fault,) = [line for line in lines if line.split()[0] == "page_fault"]
    assert page_fault.split()[1:3] == ["13", "jobs"]
    assert page_fault.endswith(str(profiles.bundled()["page_fault"]))


def test_loadgen_profiles_takes_no_arguments(capsys):
    assert main(["profiles", "extra"]) == 2
    assert capsys.readouterr().err == "loadgen: profiles: takes no arguments (got 'extra')\n"
