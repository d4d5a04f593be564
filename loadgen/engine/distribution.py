"""Non-uniform random block indices (fio lib/zipf.c, lib/gauss.c, io_u.c zoned).

zipf/pareto/normal draw a rank, spread it with fio's multiplicative hash
(``val * GOLDEN_RATIO_64``, wrapping) and rotate it by ``center*nranges`` (or a random
offset), modulo nranges; zoned/zoned_abs pick a zone by access percentage, then a
uniform block inside it.  The draws come from numpy, so shapes and parameter meaning
match fio while the numbers do not.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from loadgen.engine.taus import Tausworthe
from loadgen.plan import READ, WRITE, Job

GOLDEN_RATIO_64 = np.uint64(0x61C8864680B583EB)
ZIPF_MAX_GEN = 10_000_000
ZIPF_EXACT = 1 << 22  # ranges sampled from exact weights (32 MiB of float64 at most)
GAUSS_ITERS = 12

# (rng, n) -> block indices in [0, nranges)
IndexDraw = Callable[[Tausworthe, int], np.ndarray]


def _hash(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return values.astype(np.uint64) * GOLDEN_RATIO_64


def _param(params: tuple[float, ...], i: int, default: float) -> float:
    return params[i] if len(params) > i else default


def _zipf(nranges: int, theta: float, rand_off: int) -> IndexDraw:
    """Rank k with probability k^-theta / zeta(n).

    Up to ``ZIPF_EXACT`` ranges the ranks come from the exact cumulative weights; beyond,
    from fio's closed form (Gray et al.) over a zeta sum capped at 10M terms.
    """
    if nranges <= ZIPF_EXACT:
        cum = np.cumsum(np.arange(1, nranges + 1, dtype=np.float64) ** -theta)

        def exact(rng: Tausworthe, n: int) -> np.ndarray:
            ranks = np.minimum(
                np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), nranges - 1
            )
            return ((_hash(ranks) + np.uint64(rand_off)) % np.uint64(nranges)).astype(np.int64)

        return exact
    k = np.arange(1, min(nranges, ZIPF_MAX_GEN) + 1, dtype=np.float64)
    zetan = float(np.sum(k**-theta))
    zeta2 = 1.0 + 0.5**theta
    alpha = 1.0 / (1.0 - theta)
    eta = (1.0 - (2.0 / nranges) ** (1.0 - theta)) / (1.0 - zeta2 / zetan)

    def draw(rng: Tausworthe, n: int) -> np.ndarray:
        u = rng.random(n)
        z = u * zetan
        with np.errstate(invalid="ignore"):
            tail = 1 + np.floor(nranges * np.power(eta * u - eta + 1.0, alpha))
        val = np.where(z < 1.0, 1, np.where(z < 1.0 + 0.5**theta, 2, np.nan_to_num(tail, nan=1.0)))
        ranks = np.minimum(val.astype(np.int64), nranges) - 1
        return ((_hash(ranks) + np.uint64(rand_off)) % np.uint64(nranges)).astype(np.int64)

    return draw


def _pareto(nranges: int, h: float, rand_off: int) -> IndexDraw:
    power = math.log(h) / math.log(1.0 - h)

    def draw(rng: Tausworthe, n: int) -> np.ndarray:
        ranks = np.floor((nranges - 1) * np.power(rng.random(n), power)).astype(np.int64)
        return ((_hash(ranks) + np.uint64(rand_off)) % np.uint64(nranges)).astype(np.int64)

    return draw


def _normal(nranges: int, dev_pct: float, center: float) -> IndexDraw:
    stddev = min(math.ceil(nranges * dev_pct / 100.0), nranges // 2) if dev_pct else 0
    rand_off = 0 if center == -1 else int(nranges * (center - 0.5))

    def draw(rng: Tausworthe, n: int) -> np.ndarray:
        total = rng.integers(0, nranges + 1, size=(n, GAUSS_ITERS)).sum(axis=1)
        val = (total + GAUSS_ITERS - 1) // GAUSS_ITERS
        if stddev:
            dev = (stddev * rng.random(n)).astype(np.int64) - stddev // 2
            while True:  # fio halves the jitter until it stays in range
                over = dev + val >= nranges
                if not over.any():
                    break
                dev = np.where(over, dev // 2, dev)
            val = val + dev
        return ((_hash(val) + np.uint64(rand_off % nranges)) % np.uint64(nranges)).astype(np.int64)

    return draw


def _zoned(
    zones: tuple[tuple[float, int], ...], nblocks: int, block_bytes: int, absolute: bool
) -> IndexDraw:
    """Zone i takes access_pct[i]% of the I/Os in its slice of the region; no zones (a
    direction whose list was left empty) is uniform, as fio's fallback."""
    if not zones:
        def uniform(rng: Tausworthe, n: int) -> np.ndarray:
            out: np.ndarray = rng.integers(0, max(nblocks, 1), size=n, dtype=np.int64)
            return out

        return uniform
    access = np.array([z[0] for z in zones], dtype=np.float64)
    if absolute:
        sizes = np.array([z[1] // block_bytes for z in zones], dtype=np.int64)
    else:
        sizes = np.array([nblocks * z[1] // 100 for z in zones], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    sizes = np.maximum(np.minimum(sizes, nblocks - starts), 1)
    starts = np.minimum(starts, nblocks - 1)
    cum = np.cumsum(access)

    def draw(rng: Tausworthe, n: int) -> np.ndarray:
        v = rng.integers(1, 101, size=n)
        zone = np.minimum(np.searchsorted(cum, v, side="left"), len(cum) - 1)
        out: np.ndarray = starts[zone] + (rng.random(n) * sizes[zone]).astype(np.int64)
        return out

    return draw


def make_index_draws(
    job: Job, nranges: int, nblocks: int, block_bytes: int, rng: Tausworthe
) -> tuple[IndexDraw, IndexDraw] | None:
    """Per-direction index generators, or None for the uniform default."""
    kind = job.random_distribution
    params = job.distribution_params
    if kind == "random":
        return None
    if kind in ("zoned", "zoned_abs"):
        absolute = kind == "zoned_abs"
        return (_zoned(job.zones[READ], nblocks, block_bytes, absolute),
                _zoned(job.zones[WRITE], nblocks, block_bytes, absolute))
    center = _param(params, 1, -1.0)
    rand_off = int(rng.integers(0, 2**32)) if center == -1 else int(nranges * center)
    if kind == "zipf":
        draw = _zipf(nranges, _param(params, 0, 1.1), rand_off)
    elif kind == "pareto":
        draw = _pareto(nranges, _param(params, 0, 0.2), rand_off)
    elif kind == "normal":
        draw = _normal(nranges, _param(params, 0, 0.0), center)
    else:
        raise ValueError(f"random_distribution={kind!r} is not supported")
    return draw, draw
