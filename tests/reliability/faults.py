"""Safe real faults for the reliability tests: an OOM victim capped in size."""

from __future__ import annotations

import subprocess
import sys

from loadgen.controller import cgroup

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
