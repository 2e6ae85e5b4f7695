"""`python -m compose`: the same as the `studio` command."""

import sys

from .cli import main

sys.exit(main())
