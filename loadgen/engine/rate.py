"""Rate limiting of one job's I/Os (fio's ``rate``, ``rate_iops``, ``rate_process``,
``rate_min``/``rate_iops_min``, ``rate_ignore_thinktime``).

fio's rule (``usec_for_io``/``rate_ddir``): an I/O of direction d may start once its
due time has come, the due time of the next I/O being, since the job's start,

* linear: the bytes of direction d issued so far divided by the rate (``rate``, or
  ``rate_iops`` x the minimum block size; with bssplit and only ``rate_iops``, the I/O
  count divided by the IOPS);
* poisson: the previous due time plus an exponential gap of mean 1/IOPS.

The runner does not pace I/O by I/O in Python: ``Pacer.allowed`` says how many of the
upcoming I/Os are due now (a numpy prefix over their due times), the kernel runs that
many as one call, and ``Pacer.wait_ns`` says how long to sleep before the next is due.
"""

from __future__ import annotations

import numpy as np

from loadgen.plan import READ, WRITE, Job, RateProcess

NS = 1_000_000_000
SETTLE_NS = 2 * NS  # fio checks rate_min only after the first 2 s
POISSON_POOL = 4096  # gaps drawn at a time per direction


class Pacer:
    """Due times of one job's I/Os; all times in ns since ``start``."""

    def __init__(self, job: Job, seed: int) -> None:
        rc = job.rate
        self.job = job
        self.bps = [0, 0]
        self.iops = [0.0, 0.0]
        self.per_io = [False, False]
        for d in (READ, WRITE):
            bs = job.bs_min[d]
            self.bps[d] = rc.rate[d] or rc.rate_iops[d] * bs
            self.iops[d] = self.bps[d] / bs if bs else 0.0
            self.per_io[d] = not rc.rate[d] and bool(rc.rate_iops[d]) and bool(job.bssplit[d])
        self.poisson = rc.process is RateProcess.POISSON
        self.rng = np.random.default_rng(seed)
        self.start = 0
        self.issued_bytes = [0, 0]
        self.issued_ios = [0, 0]
        self.last_ns = [0, 0]  # poisson (and per-I/O): the next I/O's due time
        self.gaps: list[np.ndarray] = [np.empty(0, np.int64), np.empty(0, np.int64)]
        # rate_min checks
        self.check_at = [0, 0]
        self.check_bytes = [0, 0]
        self.check_ios = [0, 0]

    @property
    def active(self) -> bool:
        return any(self.bps)

    def reset(self, now: int) -> None:
        """The counters restart with the measured window (fio's reset_io_counters)."""
        self.start = now
        self.issued_bytes = [0, 0]
        self.issued_ios = [0, 0]
        self.last_ns = [0, 0]
        self.check_at = [0, 0]
        self.check_bytes = [0, 0]
        self.check_ios = [0, 0]

    def _gaps(self, d: int, n: int) -> np.ndarray:
        """The next ``n`` exponential gaps of direction d (fio: (1e6/iops) * -log(U) us)."""
        pool = self.gaps[d]
        if len(pool) < n:
            mean_us = int(1_000_000 / self.iops[d]) if self.iops[d] >= 1 else 1_000_000
            fresh = self.rng.exponential(mean_us, max(n, POISSON_POOL)) * 1000
            pool = np.concatenate((pool, fresh.astype(np.int64)))
            self.gaps[d] = pool
        return pool[:n]

    def _due(self, lengths: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Due time (ns since start) of each of these upcoming I/Os, in order."""
        due = np.zeros(len(lengths), dtype=np.int64)
        for d in (READ, WRITE):
            if not self.bps[d]:
                continue
            mine = dirs == d
            n = int(mine.sum())
            if not n:
                continue
            if self.poisson or self.per_io[d]:
                if self.poisson:
                    gaps = self._gaps(d, n)
                else:
                    gaps = np.full(n, int(NS / self.iops[d]), dtype=np.int64)
                times = self.last_ns[d] + np.concatenate(([0], np.cumsum(gaps[:-1])))
            else:
                before = np.cumsum(lengths[mine]) - lengths[mine] + self.issued_bytes[d]
                times = before * NS // self.bps[d]
            due[mine] = times
        return due

    def allowed(self, lengths: np.ndarray, dirs: np.ndarray, now: int) -> tuple[int, int]:
        """(How many of these upcoming I/Os may run now, ns until the first that may not)."""
        due = self._due(lengths, dirs)
        late = due > now - self.start
        if not late.any():
            return len(due), 0
        first = int(np.argmax(late))
        return first, int(due[first]) - (now - self.start)

    def issued(self, lengths: np.ndarray, dirs: np.ndarray) -> None:
        """Account the I/Os that ran (a prefix of what ``allowed`` was asked about)."""
        for d in (READ, WRITE):
            mine = dirs == d
            n = int(mine.sum())
            if not n:
                continue
            if self.bps[d] and self.poisson:
                gaps = self._gaps(d, n)
                self.last_ns[d] += int(gaps.sum())
                self.gaps[d] = self.gaps[d][n:]
            elif self.bps[d] and self.per_io[d]:
                self.last_ns[d] += n * int(NS / self.iops[d])
            self.issued_bytes[d] += int(lengths[mine].sum())
            self.issued_ios[d] += n

    def after_think(self, spent_ns: int) -> None:
        """rate_ignore_thinktime: the I/O the think time missed counts as issued, less one
        block, so the rate goes on instead of catching up (fio's handle_thinktime)."""
        if not self.job.rate.ignore_thinktime or spent_ns <= 0:
            return
        for d in (READ, WRITE):
            bps = self.bps[d]
            if not bps:
                continue
            bs = self.job.bs_min[d]
            missed = bps * spent_ns // NS
            per_op_ns = bs * NS // bps
            over = bs if per_op_ns <= spent_ns else 0
            self.issued_bytes[d] += missed - over
            self.last_ns[d] += spent_ns

    def below_min(self, now: int, done_bytes: tuple[int, int], done_ios: tuple[int, int],
                  name: str) -> str:
        """fio's check_min_rate: a message when a direction ran below rate_min or
        rate_iops_min over the last rate_cycle (after 2 s to settle); else ""."""
        rc = self.job.rate
        if now - self.start < SETTLE_NS:
            return ""
        for d in (READ, WRITE):
            if not (rc.rate_min[d] or rc.rate_iops_min[d]) or not done_bytes[d]:
                continue
            if self.check_bytes[d] or self.check_ios[d]:
                spent_ms = (now - self.check_at[d]) // 1_000_000
                if spent_ms < rc.cycle_ms or spent_ms == 0:
                    continue
                if rc.rate_min[d]:
                    got = (done_bytes[d] - self.check_bytes[d]) * 1000 // spent_ms
                    if got < rc.rate_min[d]:
                        return f"{name}: rate_min={rc.rate_min[d]}B/s not met, got {got}B/s"
                else:
                    got = (done_ios[d] - self.check_ios[d]) * 1000 // spent_ms
                    if got < rc.rate_iops_min[d]:
                        return (f"{name}: rate_iops_min={rc.rate_iops_min[d]} not met, "
                                f"got {got} IOPS")
            self.check_bytes[d], self.check_ios[d], self.check_at[d] = (
                done_bytes[d], done_ios[d], now)
        return ""
