"""``python -m m2v_format.cli``: the ``m2v`` command without its console script."""

from m2v_format.cli._dispatch import main

raise SystemExit(main())
