"""Every text ringroute writes for riders, in English, German and Japanese.

One catalogue serves the web map, the GPX file, the cue sheet and the comparison
report, so that a phrase reads the same in each of them and a new language is
added in one place.
"""

from __future__ import annotations

#: Languages of the texts (and of sight and city names in the catalogues).
LANGS: tuple[str, ...] = ("en", "de", "ja")

_TEXT: dict[str, dict[str, str]] = {
    # the loop and its figures (map, GPX, comparison)
    "route": {"en": "Route", "de": "Route", "ja": "ルート"},
    "alternative": {"en": "Alternative", "de": "Alternative", "ja": "代替ルート"},
    "loop": {"en": "loop", "de": "Rundtour", "ja": "周回コース"},
    "start_finish": {"en": "Start/Finish", "de": "Start/Ziel", "ja": "スタート/ゴール"},
    "start": {"en": "Start", "de": "Start", "ja": "スタート"},
    "target": {"en": "target", "de": "Ziel", "ja": "目標"},
    "actual": {"en": "actual", "de": "tatsächlich", "ja": "実際"},
    "repeated": {"en": "Ridden twice", "de": "Doppelt gefahren", "ja": "重複区間"},
    "unavoidable": {"en": "unavoidable at this length", "de": "bei dieser Länge unvermeidlich",
                    "ja": "この距離では不可避"},
    "turns": {"en": "Turns per km", "de": "Abbiegungen je km", "ja": "1kmあたりの曲がり角"},
    "sights": {"en": "Sights", "de": "Sehenswürdigkeiten", "ja": "見どころ"},
    "sights_in_text": {"en": "sights", "de": "Sehenswürdigkeiten", "ja": "見どころ"},
    "sights_passed": {"en": "Sights passed", "de": "Sehenswürdigkeiten", "ja": "通過した見どころ"},
    "at_km": {"en": "at km", "de": "bei km", "ja": "km地点"},
    "category": {"en": "Category", "de": "Kategorie", "ja": "カテゴリー"},
    "none": {"en": "none", "de": "keine", "ja": "なし"},
    "odbl": {"en": "Map data", "de": "Kartendaten", "ja": "地図データ"},
    # way classes (see ringroute._bike.WAY_CLASSES), as written within a sentence
    "cycleway": {"en": "cycleways", "de": "Radwege", "ja": "自転車道"},
    "quiet": {"en": "quiet roads", "de": "ruhige Straßen", "ja": "静かな道"},
    "tertiary": {"en": "minor through roads", "de": "Verbindungsstraßen", "ja": "補助幹線道路"},
    "main_with_cycleway": {"en": "main roads with cycle lane", "de": "Hauptstraßen mit Radweg",
                           "ja": "自転車レーン付き幹線道路"},
    "main": {"en": "main roads", "de": "Hauptstraßen", "ja": "幹線道路"},
    "unpaved": {"en": "unpaved", "de": "unbefestigt", "ja": "未舗装"},
    # the comparison report
    "compare_title": {"en": "Route comparison", "de": "Routenvergleich", "ja": "ルート比較"},
    "twin": {"en": "Twin cities side by side", "de": "Partnerstädte im Vergleich",
             "ja": "姉妹都市の比較"},
    "file": {"en": "File", "de": "Datei", "ja": "ファイル"},
    "city": {"en": "City", "de": "Stadt", "ja": "都市"},
    "length_km": {"en": "Length (km)", "de": "Länge (km)", "ja": "距離 (km)"},
    "gpx_length": {"en": "GPX length (km)", "de": "GPX-Länge (km)", "ja": "GPX距離 (km)"},
    "matched": {"en": "Matched to network", "de": "Aufs Netz abgebildet",
                "ja": "道路網への一致率"},
    "matched_path": {"en": "matched to the network", "de": "aufs Netz abgebildet",
                     "ja": "道路網に一致"},
    "deviation": {"en": "Mean deviation (m)", "de": "Mittlere Abweichung (m)",
                  "ja": "平均偏差 (m)"},
    "gap": {"en": "Longest stretch without a sight (km)",
            "de": "Längste Strecke ohne Sehenswürdigkeit (km)",
            "ja": "見どころのない最長区間 (km)"},
    "time": {"en": "Riding time", "de": "Fahrzeit", "ja": "走行時間"},
    "speed": {"en": "at", "de": "bei", "ja": "速度"},
    "climb": {"en": "Climb / descent (m)", "de": "Anstieg / Abstieg (m)",
              "ja": "上り / 下り (m)"},
    "classes": {"en": "Way classes", "de": "Wegarten", "ja": "道路の種類"},
    "map": {"en": "Map", "de": "Karte", "ja": "地図"},
    "metrics": {"en": "Metrics", "de": "Kennzahlen", "ja": "指標"},
    "charts": {"en": "Charts", "de": "Diagramme", "ja": "グラフ"},
    # the cue sheet
    "cue_title": {"en": "Cue sheet", "de": "Roadbook", "ja": "コース案内"},
    "cue_start": {"en": "Start at {name}", "de": "Start: {name}", "ja": "{name}をスタート"},
    "cue_finish": {"en": "Finish at {name}", "de": "Ziel: {name}", "ja": "{name}にゴール"},
    "cue_sight": {"en": "Sight {n}: {name}", "de": "Sehenswürdigkeit {n}: {name}",
                  "ja": "見どころ{n}: {name}"},
    "slight left": {"en": "Bear left", "de": "Leicht links", "ja": "やや左へ"},
    "slight right": {"en": "Bear right", "de": "Leicht rechts", "ja": "やや右へ"},
    "left": {"en": "Turn left", "de": "Links abbiegen", "ja": "左折"},
    "right": {"en": "Turn right", "de": "Rechts abbiegen", "ja": "右折"},
    "sharp left": {"en": "Sharp left", "de": "Scharf links", "ja": "鋭く左折"},
    "sharp right": {"en": "Sharp right", "de": "Scharf rechts", "ja": "鋭く右折"},
    "onto": {"en": "onto {street}", "de": "auf {street}", "ja": "{street}へ"},
    "km": {"en": "km", "de": "km", "ja": "km"},
    "instruction": {"en": "Instruction", "de": "Anweisung", "ja": "案内"},
    "next": {"en": "to next", "de": "bis nächste", "ja": "次まで"},
    "unnamed": {"en": "unnamed way", "de": "unbenannter Weg", "ja": "名称のない道"},
}


def text(key: str, lang: str, **fields: object) -> str:
    """The text ``key`` in ``lang`` (English where it has none), ``fields`` filled in.

    Raises
    ------
    KeyError
        If the catalogue has no text ``key`` (a programming error, see :func:`has_text`).
    """
    entry = _TEXT[key]
    found = entry.get(lang) or entry["en"]
    return found.format(**fields) if fields else found


def has_text(key: str) -> bool:
    """Whether the catalogue has a text ``key``."""
    return key in _TEXT


def heading(key: str, lang: str) -> str:
    """:func:`text` as a heading: its first letter upper case ("quiet roads" -> "Quiet roads")."""
    found = text(key, lang)
    return found[:1].upper() + found[1:]
