"""``python -m m2v_format._conformance``: the same as the ``m2v-conformance`` command."""

import sys

from m2v_format._conformance._cli import main

sys.exit(main())
