"""`python -m pipeline` is the same as the `examaudit` console script."""

from pipeline.cli import main

raise SystemExit(main())
