"""The corpus run through fio (``LOADGEN_FIO``) and loadgen: same counts, bytes, minf, keys.

Skipped, with the reason, when ``LOADGEN_FIO`` does not name an fio binary.  Each case runs
both tools at small sizes (a few MiB, well under a second of I/O each).
"""

from __future__ import annotations

import pytest

from .harness import CORPUS, compare, fio_skip_reason

pytestmark = [pytest.mark.skipif(fio_skip_reason() is not None, reason=str(fio_skip_reason())),
              pytest.mark.slow]


@pytest.mark.parametrize("case", [
    pytest.param(case, id=case.name,
                 marks=[pytest.mark.xfail(reason=case.known, strict=False)] if case.known else [])
    for case in CORPUS
])
def test_fio_and_loadgen_report_the_same(case, tmp_path):
    comparison = compare(case, tmp_path)
    assert comparison.problems == [], comparison.problems
    assert comparison.rows  # at least one entry was compared


def test_exec_commands_write_the_same_files(tmp_path):
    case = next(c for c in CORPUS if c.name == "exec_pre_post")
    compare(case, tmp_path)
    for tool in ("fio", "loadgen"):
        assert (tmp_path / tool / "x.prerun.txt").read_text() == "pre\n"
        assert (tmp_path / tool / "x.postrun.txt").read_text() == "post\n"
