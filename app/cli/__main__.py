"""`python -m app.cli`: the `keyrack` command."""

import sys

from app.cli import main

sys.exit(main())
