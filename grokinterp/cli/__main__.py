"""``python -m grokinterp.cli``: the command line."""

import sys

from grokinterp.cli import main

sys.exit(main())
