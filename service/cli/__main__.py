"""``python -m service.cli``: the ``lector`` command, as ``lector up`` starts its children."""

import sys

from service.cli import main

sys.exit(main())
