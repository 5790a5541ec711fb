"""``python -m esmaml_core``: the command line (see esmaml_core.cli)."""

import sys

from esmaml_core.cli import main

sys.exit(main())
