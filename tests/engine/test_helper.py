from __future__ import annotations

import os

from loadgen import protocol
from loadgen.engine.helper import HELPER_NAME
from loadgen.launch import HelperProcess


def _replies_until_spawned(helper: HelperProcess) -> list[protocol.HelperReply]:
    got: list[protocol.HelperReply] = []
    buf = b""
    while not any(isinstance(m, protocol.Spawned) for m in got):
        data = helper.replies.recv(1 << 16)
        assert data, "the helper exited"
        messages, buf = protocol.split_replies(buf + data)
        got += messages
    return got


def test_the_serving_helper_is_named_and_maps_the_kernel_but_not_scipy() -> None:
    helper = HelperProcess()
    try:
        gate_r, gate_w = os.pipe()
        protocol.send_msg(helper.commands, protocol.SpawnRequest(0, (), 10**9), (gate_r,))
        os.close(gate_r)
        os.close(gate_w)
        replies = _replies_until_spawned(helper)  # it serves: the kernel is loaded
        protocol.check_hello(replies[0])
        assert [m.pids for m in replies if isinstance(m, protocol.Spawned)] == [()]
        pid = helper.process.pid
        with open(f"/proc/{pid}/comm") as f:
            assert f.read().strip() == HELPER_NAME
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read()
        assert "llvmlite" in maps  # the compiled kernel's runtime, inherited by each worker
        assert "/scipy/" not in maps  # numba's version check only: kept out of every fork
    finally:
        helper.discard()


def _storm(tmp: str, lean: str) -> list[dict[str, object]]:
    import json
    import subprocess
    import sys
    from pathlib import Path

    job = Path(tmp) / "storm.fio"
    job.write_text("[storm]\nioengine=page_fault\nrw=randrw\nbs=4k\nsize=1m\nnumjobs=8\n")
    env = {**os.environ, "LOADGEN_LEAN": lean}
    out = subprocess.run([sys.executable, "-m", "loadgen", "run", str(job), "--output-format=json"],
                         capture_output=True, text=True, env=env, check=True, timeout=120).stdout
    jobs: list[dict[str, object]] = json.loads(out[out.index("{"):])["jobs"]
    return jobs


def test_a_storm_runs_as_lean_workers_with_the_python_workers_counts(tmp_path: object) -> None:
    lean, python = _storm(str(tmp_path), "1"), _storm(str(tmp_path), "0")

    def ios(jobs: list[dict[str, object]]) -> list[tuple[int, int]]:
        return [(j["read"]["total_ios"], j["write"]["total_ios"]) for j in jobs]  # type: ignore[index]

    assert ios(lean) == ios(python) and sum(map(sum, ios(lean))) == 8 * 256
    assert all(256 <= j["minf"] <= 256 + 16 for j in lean), [j["minf"] for j in lean]  # type: ignore[operator]
