"""Local copies of the web assets an offline map page needs.

Where the copies come from
--------------------------
``--offline-map`` pages must work for a pip-installed user with no internet and
no npm, so the assets ship *inside the package*, in ``ringroute/_assets/``:

``leaflet/leaflet.js``, ``leaflet/leaflet.css``, ``leaflet/images/*.png``
    Byte-for-byte copies of ``dist/`` of the npm package ``leaflet``, version
    :data:`LEAFLET_VERSION` (pinned in the repository's ``package.json``), the
    same version folium's online page loads from its CDN. Leaflet is BSD-2-Clause
    licensed; its licence is ``leaflet/LICENSE`` and the copyright header is kept
    at the top of ``leaflet.js``. Only the three images ``leaflet.css`` refers
    to are kept.

Nothing else is vendored: the map draws only ``DivIcon`` markers and binds
popups and tooltips with plain Leaflet calls, so the offline page needs neither
jQuery, Bootstrap, Font Awesome nor Leaflet.awesome-markers, which folium's
online page loads by default.

To refresh the copies after changing the pinned version, run ``npm ci`` in the
repository, then ``python -m ringroute._assets node_modules``.

The tile images themselves are still fetched from the tile server: offline, the
map shows the routes, markers and summary on a blank background.
"""

from __future__ import annotations

import base64
import re
import shutil
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

#: Leaflet version of the vendored copy (and of folium 0.20's CDN links).
LEAFLET_VERSION = "1.9.3"

#: Vendored files, relative to ``node_modules/leaflet/dist`` and to ``_assets/leaflet``.
LEAFLET_FILES: tuple[str, ...] = (
    "leaflet.js",
    "leaflet.css",
    "images/layers.png",
    "images/layers-2x.png",
    "images/marker-icon.png",
)

_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=\S*\s*$", re.MULTILINE)
_CSS_URL = re.compile(r"url\((images/[A-Za-z0-9_.-]+\.png)\)")


def _leaflet_dir() -> Traversable:
    return files(__name__).joinpath("leaflet")


def _asset(rel: str) -> Traversable:
    node = _leaflet_dir()
    for part in rel.split("/"):
        node = node.joinpath(part)
    return node


def leaflet_js() -> str:
    """Leaflet's minified JavaScript, ready to inline in a ``<script>`` element.

    The source-map comment is removed (the map file is not shipped).

    Raises
    ------
    RuntimeError
        If the script contains ``</script`` and so cannot be inlined safely.
    """
    js = _SOURCE_MAP.sub("", _asset("leaflet.js").read_text(encoding="utf-8"))
    if "</script" in js.lower():
        msg = "leaflet.js cannot be inlined: it contains '</script'"
        raise RuntimeError(msg)
    return js


def leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined as ``data:`` URIs.

    Raises
    ------
    RuntimeError
        If the stylesheet contains ``</style`` and so cannot be inlined safely.
    """

    def _data_uri(match: re.Match[str]) -> str:
        png = _asset(match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(png).decode('ascii')})"

    css = _CSS_URL.sub(_data_uri, _asset("leaflet.css").read_text(encoding="utf-8"))
    if "</style" in css.lower():
        msg = "leaflet.css cannot be inlined: it contains '</style'"
        raise RuntimeError(msg)
    return css


def asset_path(rel: str) -> Path:
    """File system path of a vendored Leaflet file (e.g. ``"leaflet.js"``).

    Raises
    ------
    FileNotFoundError
        If the package is not installed as plain files (e.g. zipped).
    """
    path = Path(str(_asset(rel)))
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def sync_from_node_modules(node_modules: Path, dest: Path | None = None) -> list[Path]:
    """Copy the vendored Leaflet files from an ``npm ci`` tree into the package.

    Parameters
    ----------
    node_modules
        The ``node_modules`` folder holding ``leaflet`` at :data:`LEAFLET_VERSION`.
    dest
        Target folder (default: this package's ``leaflet`` folder).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ValueError
        If the installed leaflet is not :data:`LEAFLET_VERSION`.
    """
    pkg = node_modules / "leaflet"
    header = (pkg / "dist" / "leaflet.js").read_text(encoding="utf-8")[:300]
    if f"Leaflet {LEAFLET_VERSION}," not in header:
        msg = f"{pkg} is not leaflet {LEAFLET_VERSION}; run 'npm ci' first"
        raise ValueError(msg)
    target = dest if dest is not None else Path(str(_leaflet_dir()))
    written: list[Path] = []
    for rel in (*LEAFLET_FILES, "../LICENSE"):
        src = (pkg / "dist" / rel).resolve()
        out = target / Path(rel).name if rel.startswith("../") else target / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out)
        written.append(out)
    return written

