"""random_distribution forms and fio's parameter checks."""

from __future__ import annotations

import pytest


def test_uniform_is_default(one_job):
    job = one_job("rw=randread")
    assert (job.random_distribution, job.distribution_params) == ("random", ())


@pytest.mark.parametrize(
    ("text", "name", "params"),
    [
        ("zipf", "zipf", (1.1, -1.0)),
        ("zipf:1.2", "zipf", (1.2, -1.0)),
        ("zipf:0.8:0.5", "zipf", (0.8, 0.5)),
        ("pareto", "pareto", (0.2, -1.0)),
        ("pareto:0.3", "pareto", (0.3, -1.0)),
        ("normal", "normal", (0.0, -1.0)),
        ("normal:5:1", "normal", (5.0, 1.0)),
    ],
)
def test_parametrised_distributions(one_job, text, name, params):
    job = one_job(f"rw=randread\nrandom_distribution={text}")
    assert (job.random_distribution, job.distribution_params) == (name, params)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zipf:1.0", "zipf theta must be different from 1.0"),
        ("pareto:1", "pareto input out of range"),
        ("pareto:0", "pareto input out of range"),
        ("normal:100", "normal deviation out of range"),
        ("zipf:1.2:1.5", "center out of range"),
        ("zipf:1:2:3", "at most 2 parameters"),
        ("gauss", "is not one of"),
        ("sequence", "missing pattern in sequence distribution"),
        ("sequence:1,-2", "invalid or negative element <-2>"),
        ("sequence:1,,2", "invalid or negative element <>"),
        ("sequence:" + ",".join(["1"] * 65), "up to 64 elements (got 65)"),
        ("random:1", "random takes no parameters"),
        ("zoned:50/50:40/50", "add up to 90, not 100"),
        ("zoned:50/60:50/60", "more than 100"),
        ("zoned", "needs zones"),
        ("zoned:50", "add up to 50, not 100"),
        ("zoned:60/10:50/90", "more than 100"),
    ],
)
def test_distribution_errors(error_of, text, message):
    assert message in error_of(f"[j]\nsize=1m\nrw=randread\nrandom_distribution={text}\n")


def test_sequence_lists_block_indices_and_its_stride(one_job):
    job = one_job("rw=randread\nrandom_distribution=sequence: 2,0 ,1\nrandom_sequence_stride=1")
    assert (job.random_distribution, job.random_sequence) == ("sequence", (2, 0, 1))
    assert job.random_sequence_stride is True
    assert one_job("rw=randread").random_sequence_stride is False


def test_zoned_lists_per_direction(one_job):
    job = one_job("rw=randrw\nrandom_distribution=zoned:60/10:40/90,100/100")
    assert job.random_distribution == "zoned"
    assert job.zones == (((60.0, 10), (40.0, 90)), ((100.0, 100),))
    same = one_job("rw=randrw\nrandom_distribution=zoned:60/10:40/90").zones
    assert same[0] == same[1]


def test_zoned_abs_uses_sizes(one_job):
    job = one_job("rw=randread\nrandom_distribution=zoned_abs:60/64k:40/1m")
    assert job.zones[0] == ((60.0, 65536), (40.0, 1 << 20))


def test_zoned_region_left_empty_gets_the_rest_as_fio(one_job):
    # fio's examples/rand-zones.fio: 20% of the accesses to the remaining 80%
    job = one_job("rw=randread\nrandom_distribution=zoned:50/5:30/15:20/")
    assert job.zones[0] == ((50.0, 5), (30.0, 15), (20.0, 80))
    job = one_job("rw=randread\nrandom_distribution=zoned:50/10:25/:25/")
    assert job.zones[0] == ((50.0, 10), (25.0, 45), (25.0, 45))


def test_backward_skips_are_a_negative_postfix(one_job):
    job = one_job("rw=read:-8k")
    assert job.rw_postfix == -8192
    assert one_job("rw=write:-(4k+4k)").rw_postfix == -8192


@pytest.mark.parametrize(
    ("text", "zones"),
    [
        # fio reads a zoned region with atoi, so a trailing "/" ends the number
        ("zoned:60/10:40/90/", ((60.0, 10), (40.0, 90))),
        ("zoned_abs:60/1m:40/3m/", ((60.0, 1 << 20), (40.0, 3 << 20))),
        # an empty item ends the list (fio's strsep loop breaks)
        ("zoned:60/10:40/90:", ((60.0, 10), (40.0, 90))),
        # a region of 0 shares what the others leave, above 100 it is 100
        ("zoned:50/0:50/", ((50.0, 50), (50.0, 50))),
        ("zoned:100/200", ((100.0, 100),)),
    ],
)
def test_zone_lists_read_as_fio_reads_them(one_job, text, zones):
    assert one_job(f"rw=randread\nrandom_distribution={text}").zones[0] == zones


def test_an_empty_zone_list_leaves_that_direction_uniform(one_job):
    # "a," gives write (and trim) empty lists: fio draws those uniformly
    job = one_job("rw=randrw\nrandom_distribution=zoned:60/10:40/90,")
    assert job.zones == (((60.0, 10), (40.0, 90)), ())


def test_zone_sizes_are_refused_with_a_reason(error_of):
    assert "the z suffix) are not supported" in error_of("[j]\nsize=8z\n")


def test_strided_zones_default_their_range_to_the_size(one_job):
    job = one_job("zonemode=strided\nzonesize=64k\nzoneskip=192k")
    assert (job.zone_size, job.zone_range, job.zone_skip) == (65536, 65536, 196608)
    assert one_job("zonemode=strided\nzonesize=64k\nzonerange=1m").zone_range == 1 << 20
    assert one_job("rw=read").zone_size == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zonesize=64k", "zonemode=none and zonesize are not compatible"),
        ("zonemode=strided", "zonesize must be specified when using zonemode=strided"),
        ("zonemode=zbd", "zoned block devices"),
    ],
)
def test_zone_option_errors_are_fio_s(error_of, text, message):
    assert message in error_of(f"[j]\nsize=1m\n{text}\n")
