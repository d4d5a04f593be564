"""``python -m loadgen`` runs the same command line as the ``loadgen`` script."""

import sys

from loadgen.cli import main

sys.exit(main())
