"""`python -m tsvis_live`: the same command as `tsvis-live`."""

import sys

from tsvis_live.cli import main

sys.exit(main())
