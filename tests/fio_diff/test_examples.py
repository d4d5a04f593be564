"""fio's examples (engine swapped to page_fault, file options removed): wherever
``fio --parse-only`` accepts one, loadgen accepts it too, or refuses it with the reason of
an option or value that means nothing for memory (trim, zoned block devices, queues).

Needs ``LOADGEN_FIO`` naming an fio binary, and fio's examples: ``LOADGEN_FIO_SRC`` naming
fio's source tree, ``LOADGEN_FIO_EXAMPLES`` naming the directory, or an in-tree build (the
``examples`` beside the binary).  An example whose refused options all have a meaning for
memory is an expected failure, named by the gaps it needs.
"""

from __future__ import annotations

import pytest

from loadgen.jobfile.options import UNSUPPORTED

from .examples import examples_dir, has_no_meaning, judge
from .harness import fio_skip_reason

WHERE = examples_dir() if fio_skip_reason() is None else None
pytestmark = [pytest.mark.skipif(WHERE is None, reason=fio_skip_reason() or
                                 "no fio examples directory (set LOADGEN_FIO_SRC)"),
              pytest.mark.slow]
EXAMPLES = sorted(WHERE.glob("*.fio")) if WHERE is not None else []


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_loadgen_accepts_what_fio_accepts_where_it_has_a_meaning_for_memory(example, tmp_path):
    verdict = judge(example, tmp_path)
    if not verdict.fio_ok:
        pytest.skip("fio --parse-only refuses it too")
    assert verdict.other == []  # every loadgen error is a refusal with its reason
    assert verdict.loadgen_ok == (not verdict.refused)
    for name in verdict.refused:
        assert "=" in name or name in UNSUPPORTED
    gaps = [name for name in verdict.refused if not has_no_meaning(name)]
    if gaps and not any(has_no_meaning(name) for name in verdict.refused):
        # an example that means something for memory and needs what loadgen lacks:
        # listed in docs/fio-differences.md until it is built
        pytest.xfail(f"not in loadgen yet: {', '.join(gaps)}")
