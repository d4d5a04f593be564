"""Real faults made safe for tests: a capped OOM victim, and loadgen runs under watch
(every process they start can be found again, to prove there are no orphans)."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil

from loadgen.controller import cgroup
from loadgen.report.jsonl import validate

# every test allocation is capped here too, so a cgroup that does not limit (or a
# kernel that lets the child through) can never take the machine's memory
CHILD_CAP_BYTES = 512 << 20
CGROUP_LIMIT_BYTES = 64 << 20

# a child that joins the given memory cgroup, then touches anonymous memory in 4 MiB
# steps until killed, up to CHILD_CAP_BYTES; it exits 0 if it survives
HOG = r"""
import os, sys
with open(os.path.join(sys.argv[1], "cgroup.procs"), "w") as procs:
    procs.write(str(os.getpid()))
with open("/proc/self/oom_score_adj", "w") as adj:
    adj.write("1000")
chunks = []
for _ in range(int(sys.argv[2]) // (4 << 20)):
    chunks.append(bytearray(4 << 20))  # zero-filled by calloc/mmap: touch every page
    chunk = chunks[-1]
    for off in range(0, len(chunk), 4096):
        chunk[off] = 1
"""


def run_hog(group: cgroup.MemoryCgroup) -> subprocess.Popen[bytes]:
    """Start a child that allocates inside ``group`` until the OOM killer stops it."""
    return subprocess.Popen([sys.executable, "-c", HOG, str(group.path), str(CHILD_CAP_BYTES)])


REPO = Path(__file__).resolve().parents[2]
MARK_VAR = "LOADGEN_TEST_RUN"


@dataclass
class LoadgenRun:
    """A ``python -m loadgen run`` under test, marked in its environment so that every
    process it starts (workers, helpers) can be found again, orphaned or not."""

    proc: subprocess.Popen[bytes]
    mark: str
    seen: dict[int, float] = field(default_factory=dict)  # pid -> create_time

    @property
    def pid(self) -> int:
        return self.proc.pid

    def note_children(self) -> list[psutil.Process]:
        """The run's processes now (remembered, to look for zombies after the run)."""
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for child in children:
            with contextlib.suppress(psutil.Error):
                self.seen[child.pid] = child.create_time()
        return children

    def wait_for_workers(self, count: int, timeout_s: float = 30) -> list[psutil.Process]:
        """Wait until ``count`` worker processes exist: the fork helper's children (the
        helper is the controller's own child)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            children = self.note_children()
            helpers = {c.pid for c in children if _ppid(c) == self.pid and _is_helper(c)}
            workers = [c for c in children if _ppid(c) in helpers]
            if len(workers) >= count:
                return workers
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{count} workers did not appear (run status {self.proc.poll()})")

    def leftovers(self) -> list[str]:
        """Processes of this run still there (orphans, zombies), as descriptions."""
        found: dict[int, str] = {}
        for pid, created in self.seen.items():
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.create_time() == created:
                    found[pid] = f"{pid} {process.status()} {process.name()}"
        for process in psutil.process_iter(["pid"]):
            with contextlib.suppress(psutil.Error):
                if process.environ().get(MARK_VAR) == self.mark and process.pid != self.pid:
                    found[process.pid] = f"{process.pid} {process.status()} {process.name()}"
        return sorted(found.values())


def _is_helper(process: psutil.Process) -> bool:
    try:
        return "loadgen.engine.helper" in process.cmdline()
    except psutil.Error:
        return False


def _ppid(process: psutil.Process) -> int | None:
    try:
        return process.ppid()
    except psutil.Error:
        return None


def start_loadgen(args: list[str], *, group: cgroup.MemoryCgroup | None = None,
                  stdout: int | None = subprocess.PIPE, new_session: bool = False,
                  extra_path: Path | None = None, extra_env: dict[str, str] | None = None,
                  command: str = "run", limits: dict[int, int] | None = None,
                  closed: tuple[int, ...] = ()) -> LoadgenRun:
    """Start ``python -m loadgen COMMAND ARGS`` (inside ``group`` from its first instruction
    on, so its workers are too; ``new_session``: in a process group of its own, like a
    terminal's foreground job; ``extra_path``: also on every process's PYTHONPATH;
    ``limits``: ``resource`` limits, soft and hard, set in the child before it starts;
    ``closed``: its file descriptors closed before it starts, as the shell's ``>&-``)."""
    mark = uuid.uuid4().hex
    path = os.pathsep.join(str(p) for p in (REPO, extra_path) if p is not None)
    env = {**os.environ, "PYTHONPATH": path, MARK_VAR: mark, **(extra_env or {})}

    def prepare() -> None:
        if group is not None:
            group.add(os.getpid())
        for which, value in (limits or {}).items():
            resource.setrlimit(which, (value, value))
        for fd in closed:
            os.close(fd)

    proc = subprocess.Popen([sys.executable, "-m", "loadgen", command, *args], env=env,
                            stdout=stdout, stderr=subprocess.PIPE, preexec_fn=prepare,
                            start_new_session=new_session)
    return LoadgenRun(proc, mark)


def wait_gone(run: LoadgenRun, timeout_s: float = 10) -> list[str]:
    """Wait (up to ``timeout_s``) until none of the run's processes is left; what is left."""
    deadline = time.monotonic() + timeout_s
    while (left := run.leftovers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON lines file; fails on a line that is cut short, not JSON, or
    not what the published schema (``loadgen.report.jsonl.SCHEMA``) allows."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), f"{path}: last line incomplete: {data[-80:]!r}"
    records = [orjson.loads(line) for line in data.splitlines()]
    for record in records:
        assert validate(record) == [], (validate(record), record)
    return records


def wait_for_lines(path: Path, count: int, run: LoadgenRun, timeout_s: float = 30,
                   record_type: str = "interval") -> None:
    """Wait until ``path`` holds ``count`` records of ``record_type`` (the workers run)."""
    marker = b'{"event.dataset":"loadgen.%s"' % record_type.encode()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run.note_children()
        if path.exists() and path.read_bytes().count(marker) >= count:
            return
        if run.proc.poll() is not None:
            raise AssertionError(f"run ended ({run.proc.returncode}) before {count} lines")
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} lines in {path} after {timeout_s} s")


# loaded by the loadgen process under test (PYTHONPATH): at a named moment of its start --
# the import of a module, or the open of a file -- it signals itself, once, and leaves a
# mark so the test knows that moment was reached; the variable is removed at once, so
# the processes loadgen starts (the fork helper) never do it
SIGNAL_AT = """\
import os, sys
_at = os.environ.pop("LOADGEN_TEST_SIGNAL_AT", "")
_signum = int(os.environ.pop("LOADGEN_TEST_SIGNAL", "2"))
_mark = os.environ.pop("LOADGEN_TEST_SIGNAL_MARK", "")
_sent = []

def _hook(event, args):
    if _sent or not _at:
        return
    kind, _, what = _at.partition(":")
    if (kind == "import" and event == "import" and args[0] == what) or \\
            (kind == "open" and event == "open" and str(args[0]) == what):
        _sent.append(1)
        with open(_mark, "w") as mark:
            mark.write(event)
        os.kill(os.getpid(), _signum)

sys.addaudithook(_hook)
"""


def signal_at(tmp_path: Path, moment: str, signum: int) -> tuple[Path, dict[str, str]]:
    """A PYTHONPATH folder and environment that make loadgen signal itself with ``signum``
    at ``moment`` (``import:MODULE`` or ``open:PATH``); ``tmp_path/signalled`` exists
    afterwards where the moment was reached."""
    inject = tmp_path / "signal-at"
    inject.mkdir(exist_ok=True)
    (inject / "sitecustomize.py").write_text(SIGNAL_AT)
    env = {"LOADGEN_TEST_SIGNAL_AT": moment, "LOADGEN_TEST_SIGNAL": str(signum),
           "LOADGEN_TEST_SIGNAL_MARK": str(tmp_path / "signalled")}
    return inject, env
