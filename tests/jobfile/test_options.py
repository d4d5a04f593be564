"""The option table: names, aliases, refusals, prio order, engine constraints."""

from __future__ import annotations

from dataclasses import fields

import pytest

from loadgen.jobfile.options import (
    _APPLIED_DEFAULTS,
    BY_NAME,
    OPTIONS,
    UNSUPPORTED,
    State,
    closest,
    initial_state,
)


def test_names_and_aliases_are_unique_and_not_refused():
    spellings = [s for option in OPTIONS for s in (option.name, *option.aliases)]
    assert len(spellings) == len(set(spellings))
    assert not set(spellings) & set(UNSUPPORTED)


def test_the_state_holds_exactly_the_options_keys_and_what_apply_functions_derive():
    plain = {option.key for option in OPTIONS if option.apply is None}
    applied = {f.name for f in fields(_APPLIED_DEFAULTS)}
    assert plain.isdisjoint(applied)
    assert plain | applied == {f.name for f in fields(State)}


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.apply is not None],
                         ids=lambda o: o.name)
def test_applying_an_options_default_leaves_the_initial_state(option):
    state = initial_state()
    option.store(state, option.default)
    expected = initial_state()
    if option.name == "randseed":  # giving randseed (even its default) forces randrepeat
        expected.randseed_set = True
    if option.name == "verify_write_sequence":  # given, verify_only keeps it (fio)
        expected.verify_write_sequence_set = True
    if option.name in ("exitall", "exitall_on_error"):  # fio: given at all, they are on
        setattr(expected, option.name, True)
    assert state == expected


@pytest.mark.parametrize(
    ("alias", "text", "field", "value"),
    [
        ("readwrite", "randrw", "rw", "randrw"),
        ("blocksize", "8k", "bs_min", (8192, 8192)),
        ("blockalign", "8k", "blockalign", (8192, 8192)),
        ("blocksize_range", "4k-8k", "bs_max", (8192, 8192)),
        ("io_limit", "4k", "io_size", 4096),
        ("timeout", "3", "runtime_ns", 3 * 10**9),
        ("fileoffset", "10%", "offset_percent", 10),
        ("wait_for_previous", "1", "stonewall", True),
        ("allrandrepeat", "0", "randrepeat", False),
        ("disable_bw", "1", "disable_bw", True),
    ],
)
def test_aliases(one_job, alias, text, field, value):
    random = "rw=randread\n" if alias == "blockalign" else ""
    assert getattr(one_job(f"{random}{alias}={text}"), field) == value


def test_unknown_option_suggests_the_closest(error_of):
    assert error_of("[j]\nsize=1m\nblocksze=4k\n").endswith(
        "job.fio:3: bad option 'blocksze' (did you mean 'blocksize'?)")
    assert error_of("[j]\nsize=1m\nzzzzzzzzzz=1\n").endswith("bad option 'zzzzzzzzzz'")
    assert closest("rwmixred") == "rwmixread"


@pytest.mark.parametrize("name", ["experimental_verify", "directory", "uid", "verify_policy",
                                  "hugepage_delay", "gtod_cpu", "trim_backlog"])
def test_real_fio_options_that_do_not_apply_fail_with_a_reason(error_of, name):
    message = error_of(f"[j]\nsize=1m\n{name}=1\n")
    assert f"option '{name}' is not supported: {UNSUPPORTED[name]}" in message


def test_later_key_wins(one_job):
    assert one_job("rw=read\nrw=write").rw == "write"
    assert one_job("rwmixread=70\nrwmixwrite=40").rwmixread == 60
    assert one_job("rwmixwrite=40\nrwmixread=70").rwmixread == 70


def test_prio_options_apply_first(load_text):
    plan = load_text(
        "[global]\ncpus_allowed=0\n[j]\nsize=1m\nunit_base=1\nio_size=1k\nkb_base=1000\n"
    )
    (job,) = plan.jobs
    assert (job.io_size, job.unit_base, job.kb_base) == (1000, 1, 1000)


def test_ioengine_only_page_fault(one_job, error_of):
    assert one_job("ioengine=page_fault")
    for engine in ("psync", "sync", "libaio", "mmap"):
        assert error_of(f"[j]\nsize=1m\nioengine={engine}\n").endswith(
            f"ioengine={engine}: not supported: "
            "loadgen implements only ioengine=page_fault (anonymous memory)"
        )


def test_engine_constraints(one_job, error_of, notes):
    assert "offset=4k: not supported: the page_fault engine rejects a non-zero" in error_of(
        "[j]\nsize=1m\noffset=4k\n")
    assert one_job("offset=0").offset_percent == 0
    assert error_of("[j]\nsize=1m\nnrfiles=2\n").endswith(
        "nrfiles=2: the page_fault engine does not support multiple files")
    assert one_job("nrfiles=1")
    one_job("iodepth=32\ndirect=1\nfilename=/dev/zero")
    assert len(notes) == 3
    assert notes[0].endswith(
        "job.fio:3: note: iodepth=32 capped to 1: page_fault is a synchronous engine (as fio)"
    )


def test_gtod_reduce_switches_off_measurements(one_job):
    job = one_job("gtod_reduce=1")
    assert (job.disable_lat, job.disable_clat, job.disable_slat, job.disable_bw) == (True,) * 4
    assert (job.clat_percentiles, job.lat_percentiles) == (False, False)
    assert one_job("gtod_reduce=1\nclat_percentiles=1").clat_percentiles is True


def test_randseed_fixes_the_seeds_and_turns_randrepeat_off(one_job):
    """fio (init.c): a given randseed overrides randrepeat; the seeds come from it, the
    loops are not re-seeded."""
    assert one_job("randrepeat=0").randrepeat is False
    assert (one_job("").randrepeat, one_job("").randseed_set) == (True, False)
    for text in ("randseed=42", "randrepeat=0\nrandseed=42"):
        job = one_job(text)
        assert (job.randrepeat, job.randseed, job.randseed_set) == (False, 42, True)


def test_thp_engine_option(one_job, error_of):
    assert one_job("").thp == "inherit"
    assert one_job("thp=madvise").thp == "madvise"
    assert "is not one of" in error_of("[j]\nsize=1m\nthp=always\n")


def test_rwmix_and_percentage_limits(one_job, error_of):
    assert "out of range (0..100)" in error_of("[j]\nsize=1m\nrwmixread=101\n")
    assert one_job("percentage_random=30,70").percentage_random == (30, 70)
    assert one_job("percentage_random=30").percentage_random == (30, 30)


def test_zero_loops_and_thinktime_blocks_mean_one_as_in_fio(one_job):
    job = one_job("loops=0\nthinktime_blocks=0")
    assert (job.loops, job.thinktime_blocks) == (1, 1)


def test_unit_base_auto_is_bytes(one_job):
    assert one_job("unit_base=0").unit_base == 8
    assert BY_NAME["unit_base"].prio == 1
