"""``python -m loadgen`` runs the same command line as the ``loadgen`` script."""

from loadgen.cli import console

console()
