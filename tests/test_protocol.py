"""Frames are atomic-size, reassemble across interleaved senders, and deltas round-trip exactly."""

from __future__ import annotations

import os
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen import protocol
from loadgen.stats.jobstats import IntervalStats


def _delta(seed: int, nonzero: int) -> IntervalStats:
    rng = np.random.default_rng(seed)
    d = IntervalStats(thread_number=7, t_start_ns=10, t_end_ns=20, runtime_ns=10, minf=5, majf=1, ctx=3,
                      usr_ns=4, sys_ns=6, final=True, first_op_ns=11, overhead_ns=1.5,
                      anon_huge_bytes=2 << 20, error=0, report_block_ns=99)
    for i, direction in enumerate(d.dirs):
        direction.ios, direction.bytes = 100 + i, 4096 * (100 + i)
        samples = rng.integers(1, 10**9, size=nonzero).astype(np.uint64)
        direction.clat.add_batch(samples)
        direction.lat.add_batch(samples + 50)
        direction.bw_samples.add_batch(np.array([3, 4], dtype=np.uint64))
    d.latency_buckets[[0, 5, 31]] = [1, 2, 3]
    return d


def _same(a: IntervalStats, b: IntervalStats) -> None:
    assert a.thread_number == b.thread_number and a.final == b.final and a.first_op_ns == b.first_op_ns
    assert (a.minf, a.majf, a.ctx, a.usr_ns, a.sys_ns, a.report_block_ns) == (b.minf, b.majf, b.ctx, b.usr_ns, b.sys_ns, b.report_block_ns)
    assert a.overhead_ns == b.overhead_ns and a.anon_huge_bytes == b.anon_huge_bytes
    for x, y in zip(a.dirs, b.dirs):
        assert (x.ios, x.bytes) == (y.ios, y.bytes)
        for lx, ly in ((x.clat, y.clat), (x.lat, y.lat)):
            assert lx.moments == ly.moments
            assert np.array_equal(lx.hist, ly.hist)
        assert x.bw_samples == y.bw_samples and x.iops_samples == y.iops_samples
    assert np.array_equal(a.latency_buckets, b.latency_buckets)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), nonzero=st.integers(0, 3000))
def test_interval_round_trips_exactly(seed: int, nonzero: int) -> None:
    d = _delta(seed, nonzero)
    _same(d, protocol.decode_interval(protocol.encode_interval(d)))


def test_every_frame_fits_one_atomic_pipe_write() -> None:
    payload = protocol.encode_interval(_delta(1, 3000))
    frames = protocol.frames(3, protocol.INTERVAL, payload)
    assert len(frames) > 1
    assert all(len(f) <= protocol.PIPE_BUF for f in frames)


def test_interleaved_chunks_of_many_senders_reassemble() -> None:
    messages = {tn: os.urandom(random.Random(tn).randint(0, 20000)) for tn in range(1, 9)}
    queues = {tn: protocol.frames(tn, protocol.INTERVAL, m) for tn, m in messages.items()}
    rnd = random.Random(0)
    stream = b""
    while queues:  # a random interleaving that keeps each sender's own frame order
        tn = rnd.choice(sorted(queues))
        stream += queues[tn].pop(0)
        if not queues[tn]:
            del queues[tn]
    r = protocol.Reassembler()
    got = {}
    for i in range(0, len(stream), 777):  # arbitrary read boundaries
        for tn, kind, payload in r.feed(stream[i : i + 777]):
            assert kind == protocol.INTERVAL
            got[tn] = payload
    assert got == messages


def test_drop_forgets_a_dead_senders_partial_message() -> None:
    r = protocol.Reassembler()
    first, *_ = protocol.frames(5, protocol.INTERVAL, b"x" * 10000)
    assert list(r.feed(first)) == []
    r.drop(5)
    assert list(r.feed(protocol.frames(5, protocol.DONE, b"{}")[0])) == [(5, protocol.DONE, b"{}")]


def test_send_writes_through_a_real_pipe() -> None:
    r, w = os.pipe()
    try:
        protocol.send(w, 2, protocol.READY, protocol.encode_json({"pid": 1, "t_ready_ns": 5}))
        (msg,) = protocol.Reassembler().feed(os.read(r, 65536))
        assert msg[:2] == (2, protocol.READY)
        assert protocol.decode_json(msg[2]) == {"pid": 1, "t_ready_ns": 5}
    finally:
        os.close(r)
        os.close(w)
