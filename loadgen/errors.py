"""Errors that are the user's to fix: one line, exit status 2, nothing started."""

from __future__ import annotations


class InputError(Exception):
    """Bad input.  ``str()`` is the whole line the user sees: ``FILE:LINE: message``."""

    def __init__(self, message: str, location: str = "") -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class MultiInputError(InputError):
    """Several mistakes found in one pass (every bad line of a job file, as fio lists them).

    ``errors`` holds one ``InputError`` per line; ``str()`` joins their lines.
    """

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(error) for error in errors))
        self.location = ""  # each line carries its own


def raise_collected(errors: list[InputError]) -> None:
    """Raise what a pass collected: nothing, the one error itself, or all of them together."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultiInputError(errors)
