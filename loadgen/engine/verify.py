"""Data verification (fio's verify.c): what a written block carries, and its check.

Each verify interval of a written block (``verify_interval``, default the block) gets a
48-byte header at ``verify_offset`` -- magic 0xacca, version, type, interval length,
seed, offset, time, the write's number, thread, the header's CRC-32 -- followed by the
checksum of the interval's other bytes.  ``pattern`` fills the block with
``verify_pattern`` (``%o`` = the block's offset) and no header; ``pattern_hdr`` both;
``meta`` the header alone.  With ``verify_write_sequence`` (fio's default) the header's
write number must be that of the block's latest write.  Written blocks are logged
(offset, length, number); the verify phase (after the writes, or every ``verify_backlog``
writes) reads the latest write of each block through the kernel, so the reads are
counted as fio counts them, and checks the mapping.  Checksums come from hashlib and
zlib, the CRCs zlib lacks and xxHash32 from compiled (numba) table loops.
"""

from __future__ import annotations

import ctypes
import hashlib
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.engine.jit import choose_cache_dir

choose_cache_dir()

import numba  # noqa: E402  (the cache directory must be chosen first)
import numpy as np  # noqa: E402

from loadgen.engine.buffers import pattern_fill  # noqa: E402
from loadgen.plan import Job, RwMode, VerifyKind  # noqa: E402

MAGIC = 0xACCA
VERSION = 3
HEADER = np.dtype([
    ("magic", "<u2"), ("version", "u1"), ("type", "u1"), ("len", "<u4"), ("seed", "<u8"),
    ("offset", "<u8"), ("sec", "<u4"), ("nsec", "<u4"), ("numberio", "<u8"),
    ("thread", "<u2"), ("pad", "<u2"), ("crc32", "<u4"),
])
HEADER_BYTES = HEADER.itemsize  # 48 (loadgen.jobfile.engineopts.VERIFY_HEADER)
KIND_CODE = {kind: i for i, kind in enumerate(VerifyKind)}


def _reflected_table(poly: int, width: int) -> np.ndarray:
    table = np.zeros(256, dtype=np.uint64)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table[i] = c & ((1 << width) - 1)
    return table


def _crc7_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint64)
    for i in range(256):
        c = i
        for _ in range(8):
            c = ((c << 1) ^ (0x09 << 1)) if c & 0x80 else c << 1
            c &= 0xFF
        table[i] = c
    return table


CRC32C = _reflected_table(0x82F63B78, 32)
CRC64 = _reflected_table(0xC96C5795D7870F42, 64)  # CRC-64/XZ (ECMA-182, reflected)
CRC16 = _reflected_table(0xA001, 16)  # CRC-16/ARC, as fio's crc16
CRC7 = _crc7_table().astype(np.int64)  # CRC-7/MMC, as fio's crc7 (kept shifted left by one)


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def crc_reflected(data: Any, crc: np.uint64, table: Any) -> np.uint64:
    for b in data:
        crc = table[(crc ^ np.uint64(b)) & np.uint64(0xFF)] ^ (crc >> np.uint64(8))
    return crc


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _crc7(data: Any, crc: int, table: Any) -> int:
    for b in data:
        crc = table[(crc ^ b) & 0xFF]
    return crc


_P1, _P2, _P3, _P4, _P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
_M32 = 0xFFFFFFFF


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


@numba.njit(nogil=True, cache=True)  # type: ignore[untyped-decorator]
def xxh32(data: Any, seed: int) -> int:
    """xxHash32 of a uint8 array (the algorithm's reference definition)."""
    n = len(data)
    i = 0
    if n >= 16:
        v1 = (seed + _P1 + _P2) & _M32
        v2 = (seed + _P2) & _M32
        v3 = seed & _M32
        v4 = (seed - _P1) & _M32
        while i + 16 <= n:
            for k in range(4):
                j = i + 4 * k
                lane = (int(data[j]) | (int(data[j + 1]) << 8) | (int(data[j + 2]) << 16)
                        | (int(data[j + 3]) << 24))
                if k == 0:
                    v1 = (_rotl((v1 + lane * _P2) & _M32, 13) * _P1) & _M32
                elif k == 1:
                    v2 = (_rotl((v2 + lane * _P2) & _M32, 13) * _P1) & _M32
                elif k == 2:
                    v3 = (_rotl((v3 + lane * _P2) & _M32, 13) * _P1) & _M32
                else:
                    v4 = (_rotl((v4 + lane * _P2) & _M32, 13) * _P1) & _M32
            i += 16
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M32
    else:
        h = (seed + _P5) & _M32
    h = (h + n) & _M32
    while i + 4 <= n:
        lane = (int(data[i]) | (int(data[i + 1]) << 8) | (int(data[i + 2]) << 16)
                | (int(data[i + 3]) << 24))
        h = (_rotl((h + lane * _P3) & _M32, 17) * _P4) & _M32
        i += 4
    while i < n:
        h = (_rotl((h + int(data[i]) * _P5) & _M32, 11) * _P1) & _M32
        i += 1
    h ^= h >> 15
    h = (h * _P2) & _M32
    h ^= h >> 13
    h = (h * _P3) & _M32
    h ^= h >> 16
    return h  # type: ignore[no-any-return]


def _crc_digest(table: np.ndarray, width: int) -> Callable[[list[np.ndarray]], bytes]:
    mask = (1 << width) - 1

    def digest(parts: list[np.ndarray]) -> bytes:
        crc = np.uint64(mask)
        for part in parts:
            crc = np.uint64(crc_reflected(part, crc, table))
        return (int(crc) ^ mask).to_bytes(width // 8, "little")

    return digest


def _crc7_digest(parts: list[np.ndarray]) -> bytes:
    crc = 0
    for part in parts:
        crc = int(_crc7(part, crc, CRC7))
    return bytes([int(crc) >> 1])


def _crc16_digest(parts: list[np.ndarray]) -> bytes:
    crc = np.uint64(0)
    for part in parts:
        crc = np.uint64(crc_reflected(part, crc, CRC16))
    return int(crc).to_bytes(2, "little")


def _zlib_crc32(parts: list[np.ndarray]) -> bytes:
    crc = 0
    for part in parts:
        crc = zlib.crc32(part.data, crc)
    return crc.to_bytes(4, "little")


def _xxhash(parts: list[np.ndarray]) -> bytes:
    data = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return int(xxh32(data, 1)).to_bytes(4, "little")  # fio seeds xxhash with 1


def _hashlib(name: str) -> Callable[[list[np.ndarray]], bytes]:
    def digest(parts: list[np.ndarray]) -> bytes:
        h = hashlib.new(name)
        for part in parts:
            h.update(part.data)
        return h.digest()

    return digest


DIGESTS: dict[VerifyKind, Callable[[list[np.ndarray]], bytes]] = {
    VerifyKind.MD5: _hashlib("md5"), VerifyKind.SHA1: _hashlib("sha1"),
    VerifyKind.SHA256: _hashlib("sha256"), VerifyKind.SHA512: _hashlib("sha512"),
    VerifyKind.SHA3_224: _hashlib("sha3_224"), VerifyKind.SHA3_256: _hashlib("sha3_256"),
    VerifyKind.SHA3_384: _hashlib("sha3_384"), VerifyKind.SHA3_512: _hashlib("sha3_512"),
    VerifyKind.CRC32: _zlib_crc32, VerifyKind.CRC32C: _crc_digest(CRC32C, 32),
    VerifyKind.CRC32C_INTEL: _crc_digest(CRC32C, 32), VerifyKind.CRC64: _crc_digest(CRC64, 64),
    VerifyKind.CRC16: _crc16_digest, VerifyKind.CRC7: _crc7_digest, VerifyKind.XXHASH: _xxhash,
}


def warm_up() -> None:
    """Run every checksum once: the compiled loops load their machine code at the first
    call, whose page faults would otherwise count as a verify job's."""
    data = np.zeros(64, dtype=np.uint8)
    for digest in DIGESTS.values():
        digest([data[:32], data[32:]])


def region_view(address: int, size: int) -> np.ndarray:
    """A uint8 array over the mapping (no buffer export: the mapping can still close)."""
    return np.ctypeslib.as_array((ctypes.c_uint8 * size).from_address(address))


def _latest(offs: np.ndarray, lens: np.ndarray,
            nums: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The latest write of each offset, in write order (unique over the reversed log)."""
    _, first_rev = np.unique(offs[::-1], return_index=True)
    keep = np.sort(len(offs) - 1 - first_rev)
    return offs[keep], lens[keep], nums[keep]


@dataclass(frozen=True)
class Mismatch:
    """One bad block, as fio words it."""

    offset: int  # of the interval (or, for patterns, of the first bad byte)
    length: int
    block_offset: int
    block_length: int
    message: str


class Verifier:
    """Stamps written blocks and checks them; one per job with verify set."""

    def __init__(self, job: Job, mem: np.ndarray) -> None:
        self.job = job
        self.vc = job.verify
        self.pattern = bytes.fromhex(job.verify.pattern)
        self.kind = job.verify.kind
        self.mem = mem
        self.digest = DIGESTS.get(self.kind)
        self.digest_len = self.kind.digest_bytes
        self.numberio = 0
        self.log_offs: list[np.ndarray] = []
        self.log_lens: list[np.ndarray] = []
        self.log_nums: list[np.ndarray] = []
        self.since_backlog = 0
        self.mismatches: list[Mismatch] = []
        # fio's verify_header checks the write number only where the latest write of a
        # block is known: a writing job of one block size that is not time_based
        self.check_sequence = (self.vc.write_sequence and RwMode(job.rw).writes
                               and min(job.bs_min) == max(job.bs_max) and not job.time_based)

    # ---- writing ---------------------------------------------------------------------------
    def _pattern(self, offset: int, n: int) -> np.ndarray:
        buf = pattern_fill(self.pattern, n)
        if self.vc.pattern_offset_at:
            stamp = np.frombuffer(offset.to_bytes(8, "little"), np.uint8)
            plen = len(self.pattern)
            for place in self.vc.pattern_offset_at:
                for start in range(place, n, plen):
                    end = min(start + 8, n)
                    buf[start:end] = stamp[: end - start]
        return buf

    def _intervals(self, off: int, n: int) -> range:
        iv = self.vc.interval or n
        return range(off, off + n - iv + 1, iv)

    def _data(self, at: int, iv: int) -> list[np.ndarray]:
        h = at + self.vc.offset
        return [self.mem[at:h], self.mem[h + HEADER_BYTES + self.digest_len:at + iv]]

    def stamp(self, offs: np.ndarray, lens: np.ndarray, dirs: np.ndarray) -> None:
        """After the kernel wrote these I/Os: put the pattern, headers and checksums into
        the written blocks and log them."""
        writes = dirs == 1
        if not writes.any():
            return
        offs, lens = offs[writes], lens[writes]
        nums = np.arange(self.numberio, self.numberio + len(offs), dtype=np.int64)
        self.numberio += len(offs)
        self.log_offs.append(offs.copy())
        self.log_lens.append(lens.copy())
        self.log_nums.append(nums)
        self.since_backlog += len(offs)
        kind = self.kind
        if kind in (VerifyKind.NULL,):
            return
        now = time.time_ns()
        for off, n, num in zip(offs.tolist(), lens.tolist(), nums.tolist(), strict=True):
            if kind in (VerifyKind.PATTERN, VerifyKind.PATTERN_HDR):
                self.mem[off:off + n] = self._pattern(off, n)
            if not kind.has_header:
                continue
            iv = self.vc.interval or n
            for at in self._intervals(off, n):
                h = at + self.vc.offset
                head = np.zeros(1, dtype=HEADER)
                head["magic"], head["version"], head["type"] = MAGIC, VERSION, KIND_CODE[kind]
                head["len"], head["offset"], head["numberio"] = iv, at, num
                head["sec"], head["nsec"] = now // 1_000_000_000, now % 1_000_000_000
                head["thread"] = self.job.thread_number & 0xFFFF
                raw = head.view(np.uint8)
                head["crc32"] = zlib.crc32(raw[: HEADER_BYTES - 4].data)
                self.mem[h:h + HEADER_BYTES] = raw
                if self.digest is not None:
                    d = self.digest(self._data(at, iv))
                    self.mem[h + HEADER_BYTES:h + HEADER_BYTES + len(d)] = np.frombuffer(
                        d, np.uint8)

    # ---- what to read back ---------------------------------------------------------------
    def backlog_due(self) -> bool:
        return bool(self.vc.backlog) and self.since_backlog >= self.vc.backlog

    def pending(self, last: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(offsets, lengths, numbers) of the latest write of each block, in write order;
        ``last`` > 0: only among the last that many writes."""
        if not self.log_offs:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        offs = np.concatenate(self.log_offs)
        lens = np.concatenate(self.log_lens)
        nums = np.concatenate(self.log_nums)
        if last:
            offs, lens, nums = offs[-last:], lens[-last:], nums[-last:]
        return _latest(offs, lens, nums)

    def backlog_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The oldest ``verify_backlog_batch`` (default: backlog) logged writes, taken off
        the log as fio takes verified pieces off its list."""
        count = self.vc.backlog_batch or self.vc.backlog
        self.since_backlog = 0
        if not self.log_offs:
            return self.pending()
        # a write that a later one replaced is not verified (fio drops it from its list)
        offs, lens, nums = _latest(*(np.concatenate(a) for a in (
            self.log_offs, self.log_lens, self.log_nums)))
        self.log_offs, self.log_lens, self.log_nums = [offs[count:]], [lens[count:]], [
            nums[count:]]
        return offs[:count], lens[:count], nums[:count]

    # ---- checking --------------------------------------------------------------------------
    def check(self, offs: np.ndarray, lens: np.ndarray, nums: np.ndarray) -> bool:
        """Check these blocks in the mapping; False once verify_fatal should stop."""
        kind = self.kind
        if kind is VerifyKind.NULL:
            return True
        for off, n, num in zip(offs.tolist(), lens.tolist(), nums.tolist(), strict=True):
            bad = self._check_block(off, n, num)
            if bad is not None:
                self.mismatches.append(bad)
                if self.vc.dump:
                    self._dump(bad)
                if self.vc.fatal:
                    return False
        return True

    def _check_block(self, off: int, n: int, num: int) -> Mismatch | None:
        kind = self.kind
        name = kind.value
        if kind in (VerifyKind.PATTERN, VerifyKind.PATTERN_HDR):
            want = self._pattern(off, n)
            got = self.mem[off:off + n]
            if kind is VerifyKind.PATTERN_HDR:
                mask = np.ones(n, dtype=bool)
                for at in self._intervals(off, n):
                    h = at + self.vc.offset
                    mask[h - off:h - off + HEADER_BYTES] = False
                diff = np.flatnonzero((got != want) & mask)
            else:
                diff = np.flatnonzero(got != want)
            if len(diff):
                i = int(diff[0])
                bits = bin(int(got[i]) ^ int(want[i])).count("1")
                text = (f"fio: got pattern '{int(got[i]):02x}', wanted '{int(want[i]):02x}'. "
                        f"Bad bits {bits}; fio: bad pattern block offset {i}; "
                        f"pattern: verify failed at file {self.job.name} offset {off + i}, "
                        f"length {n} (requested block: offset={off}, length={n})")
                return Mismatch(off + i, n, off, n, text)
        if not kind.has_header:
            return None
        iv = self.vc.interval or n
        for at in self._intervals(off, n):
            h = at + self.vc.offset
            raw = self.mem[h:h + HEADER_BYTES].copy()
            head = raw.view(HEADER)[0]
            where = (f"at file {self.job.name} offset {at}, length {iv} "
                     f"(requested block: offset={off}, length={n})")
            if int(head["magic"]) != MAGIC:
                return Mismatch(at, iv, off, n, f"verify: bad magic header "
                                f"{int(head['magic']):x}, wanted {MAGIC:x} {where}")
            crc = zlib.crc32(raw[: HEADER_BYTES - 4].data)
            if int(head["crc32"]) != crc:
                return Mismatch(at, iv, off, n, f"verify: bad header crc {crc:x}, wanted "
                                f"{int(head['crc32']):x} {where}")
            if int(head["offset"]) != at:
                return Mismatch(at, iv, off, n, f"verify: bad header offset "
                                f"{int(head['offset'])}, wanted {at} {where}")
            if int(head["len"]) != iv:
                return Mismatch(at, iv, off, n, f"verify: bad header length "
                                f"{int(head['len'])}, wanted {iv} {where}")
            if self.check_sequence and int(head["numberio"]) != num:
                return Mismatch(at, iv, off, n, f"verify: bad header numberio "
                                f"{int(head['numberio'])}, wanted {num} {where}")
            if self.digest is not None:
                stored = bytes(self.mem[h + HEADER_BYTES:h + HEADER_BYTES + self.digest_len])
                computed = self.digest(self._data(at, iv))
                if stored != computed:
                    return Mismatch(at, iv, off, n, f"{name}: verify failed {where}; "
                                    f"Expected CRC: {stored.hex()}; "
                                    f"Received CRC: {computed.hex()}")
        return None

    def _dump(self, bad: Mismatch) -> None:
        """verify_dump: the received block, as fio's dump_buf (NAME.OFFSET.received)."""
        path = Path(f"{self.job.name}.{bad.block_offset}.received")
        path.write_bytes(bytes(self.mem[bad.block_offset:bad.block_offset + bad.block_length]))
        if self.kind in (VerifyKind.PATTERN, VerifyKind.PATTERN_HDR):
            want = self._pattern(bad.block_offset, bad.block_length)
            Path(f"{self.job.name}.{bad.block_offset}.expected").write_bytes(want.tobytes())
