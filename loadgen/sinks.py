"""Output sinks for ``--output`` and ``--jsonl``: a file or stdout, written whole.

Why not plain ``open()``: a run streams for hours into files that logrotate moves
(SIGHUP reopens the path), into pipes whose reader may go away (``| head -1`` must end
the run quietly, not with a traceback or "Exception ignored" at exit), and onto disks
that fill up (the run stops and says how much it wrote).  Files are opened
``O_APPEND`` and every line goes out in one ``write()``, so concurrent appenders
never interleave inside a line; a line cut short by a full disk is cut off again
(``ftruncate``), so the file holds only complete lines.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

from loadgen.errors import InputError

STDOUT_TARGETS = ("", "-")
_STD_NAMES = {0: "standard input", 1: "standard output", 2: "standard error"}
# fds 0-2 that were closed when loadgen started (``>&-``); they now hold /dev/null
_closed_std_fds: set[int] = set()
# errors that mean "this output cannot take more data": stop the run, say what got out
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


def guard_standard_fds() -> frozenset[int]:
    """Put /dev/null where fd 0, 1 or 2 is closed, and remember which were.

    A closed fd 1 (``loadgen run ... >&-``) would otherwise be the number the next
    ``open()`` gets: the ``--output`` file would receive what loadgen means for stdout, and
    a write to "stdout" would fail with EBADF mid-run.  A stdout target is then refused
    before anything starts (``Sink.open``); Python itself already made ``sys.stdout`` None.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            _closed_std_fds.add(fd)
    if sys.stdout is None:  # closed at the interpreter's start, whatever holds fd 1 now
        _closed_std_fds.add(1)
    if sys.stderr is None:
        _closed_std_fds.add(2)
    return frozenset(_closed_std_fds)


def std_fd_closed(fd: int) -> str:
    """``"standard output is closed"`` where loadgen started without that fd, else ``""``."""
    return f"{_STD_NAMES[fd]} is closed" if fd in _closed_std_fds else ""


class SinkError(Exception):
    """An output failed mid-run; ``str()`` is the line for the user."""

    def __init__(self, sink: Sink, reason: str) -> None:
        self.sink = sink
        super().__init__(f"{sink.label}: {reason}; {sink.summary()}")


class SinkClosed(SinkError):
    """The reader of a pipe went away (EPIPE): the run stops cleanly, status 0."""


class SinkFull(SinkError):
    """No more data fits (ENOSPC, EDQUOT, EFBIG, EIO): the run stops, status 1."""


class Sink:
    """One output target.  ``target`` ``""``/``"-"`` is stdout, anything else a path.

    ``label`` names it in messages (``--jsonl out.jsonl``); ``truncate`` empties an
    existing file at the first open (a report), never at a SIGHUP reopen."""

    def __init__(self, target: str, label: str, *, truncate: bool = False, std_fd: int = 1) -> None:
        self.target = target
        self.label = label
        self.truncate = truncate
        self.std_fd = std_fd  # where a stdout target writes: 2 sends it to stderr
        self.fd = -1
        self.lines_written = 0
        self.bytes_written = 0
        self.closed_by_reader = False
        self.reopen_errno = 0  # why the last reopen failed (0: it did not)

    @property
    def is_stdout(self) -> bool:
        return self.target in STDOUT_TARGETS

    def open(self) -> Sink:
        """Open before anything starts: an unwritable path is bad input (exit 2)."""
        if self.is_stdout:
            if closed := std_fd_closed(self.std_fd):
                raise InputError(f"{self.label}: cannot write: {closed}")
            self.fd = self.std_fd
            return self
        try:
            self.fd = self._open_file(truncate=self.truncate)
        except OSError as exc:
            raise InputError(f"{self.label}: cannot write: {exc.strerror}") from None
        return self

    def _open_file(self, *, truncate: bool) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(self.target, flags | (os.O_TRUNC if truncate else 0), 0o644)
        if stat.S_ISDIR(os.fstat(fd).st_mode):  # pragma: no cover - open() refuses first
            os.close(fd)
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        return fd

    def reopen(self) -> str:
        """SIGHUP: write to whatever file now has the path (after logrotate moved the
        old one).  Returns ``""``, or why the old file is kept (then writing goes on)."""
        self.reopen_errno = 0
        if self.is_stdout or self.fd < 0:
            return ""
        try:
            new_fd = self._open_file(truncate=False)
        except OSError as exc:
            self.reopen_errno = exc.errno or 0
            return f"{self.label}: cannot reopen ({exc.strerror}); still writing the old file"
        old_fd, self.fd = self.fd, new_fd
        os.close(old_fd)
        return ""

    def write(self, data: bytes) -> None:
        """Write all of ``data`` (one ``write()`` unless the kernel takes less)."""
        if self.closed_by_reader:
            raise SinkClosed(self, "the reader closed the pipe")
        view, done = memoryview(data), 0
        while done < len(data):
            try:
                done += os.write(self.fd, view[done:])
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue
            except BrokenPipeError:
                self._reader_gone()
                raise SinkClosed(self, "the reader closed the pipe") from None
            except OSError as exc:
                if exc.errno not in _FULL_ERRNOS:
                    raise
                if not self._cut_partial(done):
                    self.bytes_written += done  # out for good: say so
                raise SinkFull(self, exc.strerror or os.strerror(exc.errno)) from None
        self.bytes_written += len(data)
        self.lines_written += data.count(b"\n")

    def write_text(self, text: str) -> None:
        self.write(text.encode())

    def _cut_partial(self, partial: int) -> bool:
        """Remove the first ``partial`` bytes of a write that did not complete, so a
        full disk leaves whole lines only; False where they stay (stdout, whatever it is,
        is not ours to truncate)."""
        if not partial:
            return True
        if self.is_stdout:
            return False
        try:
            os.ftruncate(self.fd, os.fstat(self.fd).st_size - partial)
        except OSError:
            return False
        return True

    def _reader_gone(self) -> None:
        """The pipe's reader is gone.  For stdout, point fd 1 at /dev/null so the
        interpreter's last flush of ``sys.stdout`` has nowhere to fail ("Exception
        ignored ... BrokenPipeError")."""
        self.closed_by_reader = True
        if self.is_stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.std_fd)
            os.close(devnull)

    def summary(self) -> str:
        where = ("stdout" if self.std_fd == 1 else "stderr") if self.is_stdout else self.target
        return f"{self.lines_written} lines ({self.bytes_written} bytes) were written to {where}"

    def close(self) -> None:
        if self.fd > 2:
            os.close(self.fd)
        self.fd = -1
