"""``python -m artifacts``: the same as the ``artifacts`` command."""

import sys

from .cli import main

sys.exit(main())
