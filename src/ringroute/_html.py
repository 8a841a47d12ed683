"""Safe HTML for Folium pages: escaping, JS literals, verbatim elements, popups.

OSM names are user-generated; everything shown in a page goes through
:func:`escape` (HTML, Jinja braces, JavaScript template literals) or
:func:`js_literal`, and popups/tooltips are bound with JSON strings rather than
through Jinja, template literals or jQuery.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

import jinja2
from branca.element import Element, Figure

EXTRA_ESCAPES = str.maketrans({
    "{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;", "\\": "&#92;",
})


def escape(text: object) -> str:
    """Escape ``text`` for any place in the page where HTML is parsed.

    Besides ``& < > " '``, the braces (Jinja), backtick and dollar sign
    (JavaScript template literals) and backslash become character references,
    which the browser turns back into the same characters when it parses the
    HTML.
    """
    return html.escape(str(text), quote=True).translate(EXTRA_ESCAPES)


def js_literal(value: object) -> str:
    """``value`` as a JavaScript literal that is safe inside ``<script>``."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c").replace(">", "\\u003e")
        .replace("&", "\\u0026").replace("'", "\\u0027")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


class Raw(Element):
    """Verbatim page text: unlike ``branca.element.Element(text)`` it is not a template."""

    _template = jinja2.Template("{{ this.data }}")

    def __init__(self, data: str) -> None:
        super().__init__()
        self._name = "Raw"
        self.data = data


class Bind(Element):
    """``parent.bindPopup(content, options)`` or ``parent.bindTooltip(...)``.

    The content is already-escaped HTML; it is emitted as a JSON string and
    never passes through Jinja, template literals or jQuery.
    """

    def __init__(self, method: str, content: str, options: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "Bind"
        self.method = method
        self.content = content
        self.options = dict(options)

    def render(self, **kwargs: Any) -> str:
        """Add the binding call to the page's script (returns ``""``)."""
        if self._parent is None:
            msg = "Bind must be added to a marker or path first"
            raise TypeError(msg)
        js = (f"{self._parent.get_name()}.{self.method}("
              f"{js_literal(self.content)}, {js_literal(self.options)});")
        Raw(js).add_to(figure_of(self).script, name=self.get_name())
        return ""


def figure_of(element: Element) -> Figure:
    """Return the page (``branca`` ``Figure``) that ``element`` belongs to."""
    root = element.get_root()
    if not isinstance(root, Figure):
        msg = "the element is not part of a map page"
        raise TypeError(msg)
    return root


def popup(html_text: str, max_width: int = 300) -> Bind:
    """Bind ``html_text`` (already escaped) as the parent's popup."""
    return Bind("bindPopup", html_text, {"maxWidth": max_width})


def tooltip(html_text: str) -> Bind:
    """Bind ``html_text`` (already escaped) as the parent's sticky tooltip."""
    return Bind("bindTooltip", html_text, {"sticky": True})
