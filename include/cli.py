"""``python -m include.cli COMMAND ...``: the command line over published models (include/serving/cli.py)."""

import sys

from include.serving.cli import main

if __name__ == "__main__":
    sys.exit(main())
