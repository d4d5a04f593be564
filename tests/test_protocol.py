"""Frames are atomic-size, reassemble across interleaved senders, and deltas round-trip exactly."""

from __future__ import annotations

import os
import random
import socket

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen import protocol
from loadgen.plan import Job
from loadgen.stats.jobstats import IntervalStats
from loadgen.stats.mmstats import FaultKindCounts, MmStats, RegionStats


def _delta(seed: int, nonzero: int) -> IntervalStats:
    rng = np.random.default_rng(seed)
    d = IntervalStats(
        thread_number=7,
        t_start_ns=10,
        t_end_ns=20,
        runtime_ns=10,
        minf=5,
        majf=1,
        ctx=3,
        usr_ns=4,
        sys_ns=6,
        final=True,
        first_op_ns=11,
        overhead_ns=1.5,
        anon_huge_bytes=2 << 20,
        error=0,
        report_block_ns=99,
    )
    for i, direction in enumerate(d.dirs):
        direction.ios, direction.bytes = 100 + i, 4096 * (100 + i)
        samples = rng.integers(1, 10**9, size=nonzero).astype(np.uint64)
        direction.clat.add_batch(samples)
        direction.lat.add_batch(samples + 50)
        direction.bw_samples.add_batch(np.array([3, 4], dtype=np.uint64))
    d.latency_buckets[[0, 5, 31]] = [1, 2, 3]
    return d


def _same(a: IntervalStats, b: IntervalStats) -> None:
    assert (
        a.thread_number == b.thread_number and a.final == b.final and a.first_op_ns == b.first_op_ns
    )
    assert (a.minf, a.majf, a.ctx, a.usr_ns, a.sys_ns, a.report_block_ns) == (
        b.minf,
        b.majf,
        b.ctx,
        b.usr_ns,
        b.sys_ns,
        b.report_block_ns,
    )
    assert a.overhead_ns == b.overhead_ns and a.anon_huge_bytes == b.anon_huge_bytes
    for x, y in zip(a.dirs, b.dirs, strict=False):
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


@pytest.mark.parametrize("kinds", [None, FaultKindCounts(7, 8, 9)])
def test_the_final_deltas_region_report_round_trips(kinds: FaultKindCounts | None) -> None:
    region = RegionStats(backing="memfd", populate_ns=1, mlock_ns=2, passes=3, refaults=2,
                         refault_ns=40, refault_max_ns=25, cold_ns=5, collapse="EINVAL",
                         collapse_ns=6, thp_advised_pass=1, thp_advised_ns=7,
                         ksm_merging_pages=8)
    d = _delta(3, 10)
    d.mm = MmStats(region, kinds)
    back = protocol.decode_interval(protocol.encode_interval(d))
    _same(d, back)
    assert back.mm == d.mm
    d.mm = None  # every other delta
    assert protocol.decode_interval(protocol.encode_interval(d)).mm is None


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


def test_a_partial_message_waits_for_its_last_frame() -> None:
    r = protocol.Reassembler()
    first, *rest = protocol.frames(5, protocol.INTERVAL, b"x" * 10000)
    assert list(r.feed(first)) == []
    assert list(r.feed(b"".join(rest))) == [(5, protocol.INTERVAL, b"x" * 10000)]


def test_send_writes_through_a_real_pipe() -> None:
    r, w = os.pipe()
    try:
        protocol.send(w, 2, protocol.READY, protocol.encode_message(protocol.Ready(1, 5)))
        (msg,) = protocol.Reassembler().feed(os.read(r, 65536))
        assert msg[:2] == (2, protocol.READY)
        assert protocol.decode_ready(msg[2]) == protocol.Ready(1, 5)
        assert orjson.loads(msg[2]) == {"pid": 1, "t_ready_ns": 5}  # the wire form is plain JSON
    finally:
        os.close(r)
        os.close(w)


def test_small_messages_round_trip() -> None:
    error = protocol.JobError(3, 12, "no memory", "Traceback ...")
    assert protocol.decode_error(protocol.encode_message(error)) == error
    assert protocol.decode_done(protocol.encode_message(protocol.Done(3, 99))) == protocol.Done(
        3, 99
    )


def test_helper_messages_carry_fds_across_the_socket() -> None:
    a, b = socket.socketpair()
    r, w = socket.socketpair()
    job = Job(name="j", thread_number=1, subjob=0, numjobs=1, group_id=0)
    request = protocol.SpawnRequest(0, ((job,) * 1000,), 10**9, 5)
    try:
        protocol.send_msg(a, request, (r.fileno(),))
        got, fds = protocol.recv_request(b)
        assert got == request and len(fds) == 1
        received = socket.socket(fileno=fds[0])
        w.sendall(b"x")
        assert received.recv(1) == b"x"
        received.close()
    finally:
        for s in (a, b, r, w):
            s.close()


def test_replies_split_at_message_boundaries() -> None:
    a, b = socket.socketpair()
    try:
        replies = [
            protocol.Hello(protocol.PROTOCOL_VERSION, 1),
            protocol.Pipes(3),
            protocol.ChildExit(4, 0, 10, 20),
        ]
        for reply in replies:
            protocol.send_msg(a, reply)
        data = b.recv(1 << 16)
        got, rest = protocol.split_replies(data[:-3])
        assert got == replies[:2] and rest
        more, rest = protocol.split_replies(rest + data[-3:])
        assert more == replies[2:] and rest == b""
    finally:
        a.close()
        b.close()


def test_the_handshake_refuses_another_version() -> None:
    protocol.check_hello(protocol.Hello(protocol.PROTOCOL_VERSION, 1))
    with pytest.raises(ValueError, match="protocol"):
        protocol.check_hello(protocol.Hello(protocol.PROTOCOL_VERSION + 1, 1))
    with pytest.raises(ValueError):
        protocol.check_hello(protocol.Pipes(1))
