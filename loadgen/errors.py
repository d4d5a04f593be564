"""Errors that are the user's to fix: one line, exit status 2, nothing started."""

from __future__ import annotations


class InputError(Exception):
    """Bad input.  ``str()`` is the whole line the user sees: ``FILE:LINE: message``."""

    def __init__(self, message: str, location: str = "") -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)
