"""``python -m facepaint.cli``: the ``facepaint`` command without its script (tests, venvs)."""

from facepaint.cli import main

raise SystemExit(main())
