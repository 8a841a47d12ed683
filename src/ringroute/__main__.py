"""Allow ``python -m ringroute``."""

from ringroute.cli import main

raise SystemExit(main())
