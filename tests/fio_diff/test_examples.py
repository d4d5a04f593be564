"""fio's examples (engine swapped to page_fault, file options removed): wherever
``fio --parse-only`` accepts one, loadgen accepts it too or refuses it only with a reason
(an option or value that needs the per-I/O engine or means nothing for memory).

Needs ``LOADGEN_FIO`` naming an in-tree fio build (its ``examples`` beside it), or
``LOADGEN_FIO_EXAMPLES`` naming the directory.
"""

from __future__ import annotations

import pytest

from loadgen.jobfile.options import UNSUPPORTED

from .examples import examples_dir, judge
from .harness import fio_skip_reason

WHERE = examples_dir() if fio_skip_reason() is None else None
pytestmark = [pytest.mark.skipif(WHERE is None, reason=fio_skip_reason() or
                                 "no fio examples directory (set LOADGEN_FIO_EXAMPLES)"),
              pytest.mark.slow]
EXAMPLES = sorted(WHERE.glob("*.fio")) if WHERE is not None else []


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_loadgen_accepts_what_fio_accepts_or_refuses_with_a_reason(example, tmp_path):
    verdict = judge(example, tmp_path)
    if not verdict.fio_ok:
        pytest.skip("fio --parse-only refuses it too")
    assert verdict.other == []  # every loadgen error is a refusal with its reason
    assert verdict.loadgen_ok == (not verdict.refused)
    for name in verdict.refused:
        assert "=" in name or name in UNSUPPORTED
