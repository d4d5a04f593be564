"""fio's verify state file: saved by a write job, limiting a later verify_only job."""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import pytest

from loadgen.engine import verifystate
from loadgen.engine.runner import EngineError
from loadgen.plan import Backing, MemoryControls, VerifyControls, VerifyKind
from tests.engine.conftest import make_job, run_job

K = 1024
M = 1024 * K


def test_the_file_has_fios_name_and_layout(in_tmp: Path) -> None:
    job = make_job(name="a/b", thread_number=3, rw="write", size=M)
    path = verifystate.save(job, 1234)
    assert path.name == "local-a.b-2-verify.state"
    data = path.read_bytes()
    version, size, _crc = struct.unpack_from("<QQQ", data)
    assert (version, size, len(data)) == (7, 152, 24 + 152)
    depth, writes, index = struct.unpack_from("<I4xQQ", data, 24)
    assert (depth, writes, index) == (1, 1234, 2)
    assert data[24 + 80:24 + 84] == b"a/b\0"  # fio keeps the name as given
    assert data[-8:] == b"\xff" * 8  # no write in flight
    assert verifystate.load(job) == 1234


def test_a_damaged_or_missing_file_is_refused(in_tmp: Path) -> None:
    job = make_job(rw="write", size=M)
    with pytest.raises(verifystate.StateError) as missing:
        verifystate.load(job)
    assert missing.value.errno == errno.ENOENT
    path = verifystate.save(job, 10)
    data = bytearray(path.read_bytes())
    data[40] ^= 1  # the number of writes
    path.write_bytes(bytes(data))
    with pytest.raises(verifystate.StateError, match="corrupt"):
        verifystate.load(job)


def _file_job(path: Path, **kw: object) -> object:
    return make_job(rw="write", size=M, mm=MemoryControls(backing=Backing.FILE,
                                                          filename=str(path)), **kw)


def test_verify_only_with_the_state_checks_only_the_writes_done(in_tmp: Path) -> None:
    data = in_tmp / "data.bin"
    data.write_bytes(bytes(M))  # kept after the jobs: it existed
    run_job(_file_job(data, number_ios=100, verify=VerifyControls(kind=VerifyKind.MD5)))
    assert verifystate.load(make_job()) == 100  # the state records the 100 writes
    loaded = run_job(_file_job(data, verify=VerifyControls(kind=VerifyKind.MD5, only=True,
                                                           state_load=True)))
    assert loaded.ios == (100, 0)  # exactly the recorded writes read back, all good
    with pytest.raises(EngineError) as exc:  # without the state: the unwritten rest is bad
        run_job(_file_job(data, verify=VerifyControls(kind=VerifyKind.MD5, only=True)))
    assert exc.value.errno == errno.EILSEQ and exc.value.bad_offset == 100 * 4 * K


def test_verify_state_save_off_writes_no_file(in_tmp: Path) -> None:
    run_job(make_job(rw="write", size=64 * K, verify=VerifyControls(kind=VerifyKind.CRC32C,
                                                                    state_save=False)))
    assert not list(in_tmp.glob("*.state"))
    run_job(make_job(rw="write", size=64 * K, verify=VerifyControls(kind=VerifyKind.CRC32C)))
    assert [p.name for p in in_tmp.glob("*.state")] == ["local-t-0-verify.state"]
