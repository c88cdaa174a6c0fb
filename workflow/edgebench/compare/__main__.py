"""``python -m edgebench.compare``: the console script."""

import sys

from edgebench.compare.cli import main

sys.exit(main())
