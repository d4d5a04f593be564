"""fio's percentile walk compares in long double; at exact boundaries double picks another bucket."""

from __future__ import annotations

import numpy as np

from loadgen.stats import histogram


def test_99_95_of_8000_needs_the_next_bucket_as_in_fio() -> None:
    """(long double)99.95/100*8000 is 7996 + 2.3e-13, so 7996 samples do not reach it (fio's
    kb job in tests/report/data/big_plus.json); in double it rounds to exactly 7996."""
    hist = histogram.empty()
    histogram.add_samples(hist, np.array([100] * 7996 + [1000] * 4, dtype=np.uint64))
    expected = histogram.index_to_value(int(histogram.value_to_index(np.array([1000]))[0]))
    assert histogram.percentiles(hist, [99.95]) == {99.95: expected}
    assert histogram.percentiles(hist, [99.9])[99.9] == 100
