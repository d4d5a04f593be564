"""Exact running min/max/mean/stddev, mergeable across intervals and workers.

fio keeps a Welford mean and S per stat and reports stddev = sqrt(S/(N-1));
merging uses the parallel (Chan et al.) form so group_reporting is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Moments:
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: int = 0
    max: int = 0

    def add_batch(self, samples: np.ndarray) -> None:
        """Fold a batch of samples in (vectorised)."""
        k = len(samples)
        if k == 0:
            return
        s = samples.astype(np.float64)
        bmean = float(s.mean())
        bm2 = float(((s - bmean) ** 2).sum())
        self.merge(Moments(k, bmean, bm2, int(samples.min()), int(samples.max())))

    def merge(self, other: Moments) -> None:
        if other.n == 0:
            return
        if self.n == 0:
            self.n, self.mean, self.m2, self.min, self.max = (
                other.n,
                other.mean,
                other.m2,
                other.min,
                other.max,
            )
            return
        n = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    @property
    def stddev(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0
