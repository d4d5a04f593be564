"""argparse for the subcommands, with a user's mistake as one line and exit status 2."""

from __future__ import annotations

import argparse
from typing import NoReturn

from loadgen.errors import InputError


class ArgParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are ``InputError`` (the command line prints them)."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message}")
