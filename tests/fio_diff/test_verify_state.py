"""fio's verify state file and loadgen's: the same file, and each reads the other's."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.engine import verifystate
from loadgen.plan import Job

from .harness import GLOBAL, fio_skip_reason, run_fio, run_loadgen

pytestmark = [pytest.mark.skipif(fio_skip_reason() is not None, reason=str(fio_skip_reason())),
              pytest.mark.slow]

RAND = slice(24 + 24, 24 + 24 + 56)  # fio's random state: loadgen writes zeros


def test_state_files_match_and_load_across_tools(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v.fio"
    path.write_text(GLOBAL + "[v]\nrw=write\nsize=1m\nverify=crc32c\nnumber_ios=77\n")
    dirs = {tool: tmp_path / tool for tool in ("fio", "loadgen")}
    for d in dirs.values():
        d.mkdir()
    assert run_fio(path, (), dirs["fio"]).status == 0
    assert run_loadgen(path, (), dirs["loadgen"]).status == 0
    theirs = (dirs["fio"] / "local-v-0-verify.state").read_bytes()
    ours = (dirs["loadgen"] / "local-v-0-verify.state").read_bytes()
    assert len(theirs) == len(ours)
    assert theirs[:16] == ours[:16] and theirs[24:RAND.start] == ours[24:RAND.start]
    assert theirs[RAND.stop:] == ours[RAND.stop:]
    job = Job(name="v", thread_number=1, subjob=0, numjobs=1, group_id=0)
    (tmp_path / "local-v-0-verify.state").write_bytes(theirs)
    monkeypatch.chdir(tmp_path)
    assert verifystate.load(job) == 77  # fio's CRC-32C checks out
