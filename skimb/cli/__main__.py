"""``python -m skimb.cli``: the ``skimb`` command."""

import sys

from skimb.cli import main

sys.exit(main())
