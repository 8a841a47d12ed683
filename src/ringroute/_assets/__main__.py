"""``python -m ringroute._assets [NODE_MODULES]``: refresh the vendored Leaflet copy."""

from __future__ import annotations

import sys
from pathlib import Path

from ringroute._assets import sync_from_node_modules

for _path in sync_from_node_modules(Path(sys.argv[1] if len(sys.argv) > 1 else "node_modules")):
    print(_path)
