"""ringroute: cycling loops of a target length through named sights.

Load a city's OpenStreetMap bike network (:mod:`ringroute.network`), resolve sights
(:mod:`ringroute.sights`), plan loops (:mod:`ringroute.loop`) and export them as GPX
(:mod:`ringroute.gpx`) and Folium web maps (:mod:`ringroute.webmap`).

Map data © OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ringroute")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

logging.getLogger("ringroute").addHandler(logging.NullHandler())

__all__ = ["__version__"]
