"""``python -m attrition``: the command line (see :mod:`attrition.cli`)."""
import sys

from attrition.cli import main

if __name__ == "__main__":
    sys.exit(main())
