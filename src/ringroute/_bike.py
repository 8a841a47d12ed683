"""Which OSM ways a bicycle may use, in which direction, and how pleasant they are.

The rules, in order (documented in the README, "Which ways are rideable"):

* Only ways with a ``highway`` tag are considered; buildings, landuse, areas
  (``area=yes``) and every other non-road way never become edges.
* Excluded classes: motorways and their links, ``construction``/``proposed``
  and other non-existent roads, platforms, corridors, elevators, escalators,
  raceways, bus guideways, rest areas and ``steps`` (a loaded bike cannot be
  ridden down steps; a planner that routes a group over them is wrong).
* Excluded by access: ``bicycle=no|use_sidepath``, ``motorroad=yes``,
  ``access=no|private`` (unless ``bicycle`` explicitly allows bikes), and service
  ways for ``parking_aisle``/``parking``/``emergency_access``/``private`` use.
* ``footway``, ``pedestrian``, ``bridleway`` and ``busway`` are rideable only with
  ``bicycle=yes|designated|permissive`` (osmnx's own bike filter drops them all).
* ``path`` is rideable unless ``bicycle=no`` (the legal default in Germany and
  Japan); ``track`` is rideable, with a penalty that grows with ``tracktype`` and
  unpaved ``surface``.
* One-way streets are respected (``oneway=yes|1|true|-1|reverse``, roundabouts)
  unless bikes are exempted: ``oneway:bicycle=no`` or a contraflow
  ``cycleway*=opposite*``; ``oneway:bicycle=yes`` makes a way one-way for bikes.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from ringroute.errors import InputError

#: OSM way tags the loader keeps (also passed to osmnx as ``useful_tags_way``).
WAY_TAGS: tuple[str, ...] = (
    "highway", "name", "name:en", "name:de", "name:ja", "ref", "surface", "tracktype",
    "smoothness", "oneway", "oneway:bicycle", "junction", "bicycle", "access", "motorroad",
    "service", "area", "cycleway", "cycleway:left", "cycleway:right", "cycleway:both",
    "cycleway:left:oneway", "cycleway:right:oneway", "bicycle_road", "cyclestreet",
    "foot", "segregated", "maxspeed", "lanes", "lcn", "rcn", "ncn", "width", "lit",
)

EXCLUDED_HIGHWAYS: frozenset[str] = frozenset(
    {
        "motorway", "motorway_link", "construction", "proposed", "planned", "abandoned",
        "disused", "razed", "no", "platform", "corridor", "elevator", "escalator", "raceway",
        "bus_guideway", "rest_area", "services", "steps", "emergency_bay", "via_ferrata",
        "bus_stop", "traffic_island",
    }
)
FOOT_CLASSES: frozenset[str] = frozenset({"footway", "pedestrian", "bridleway", "busway"})
BIKE_YES: frozenset[str] = frozenset({"yes", "designated", "permissive", "destination"})
MAIN_ROADS: frozenset[str] = frozenset(
    {"trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link"}
)
UNPAVED: frozenset[str] = frozenset(
    {
        "unpaved", "gravel", "fine_gravel", "compacted", "dirt", "earth", "ground", "grass",
        "sand", "mud", "pebblestone", "woodchips", "grass_paver", "rock",
    }
)
ROUGH: frozenset[str] = frozenset({"dirt", "earth", "ground", "grass", "sand", "mud", "rock"})
ONEWAY_FWD: frozenset[str] = frozenset({"yes", "true", "1"})
ONEWAY_REV: frozenset[str] = frozenset({"-1", "reverse"})

#: Way classes reported per route, from most to least bike-friendly.
WAY_CLASSES: tuple[str, ...] = (
    "cycleway", "quiet", "tertiary", "main_with_cycleway", "main", "unpaved",
)

_BASE_FACTOR: dict[str, float] = {
    "cycleway": 0.8,
    "living_street": 1.0,
    "residential": 1.0,
    "unclassified": 1.05,
    "road": 1.1,
    "service": 1.15,
    "track": 1.1,
    "path": 1.1,
    "footway": 1.2,
    "pedestrian": 1.3,
    "bridleway": 1.3,
    "busway": 1.2,
    "tertiary": 1.25,
    "tertiary_link": 1.25,
    "secondary": 3.5,
    "secondary_link": 3.5,
    "primary": 4.5,
    "primary_link": 4.5,
    "trunk": 6.0,
    "trunk_link": 6.0,
}

#: OSM highway values a rider may name to avoid (a link counts with its road: avoiding
#: ``primary`` avoids ``primary_link`` too)
AVOIDABLE_HIGHWAYS: tuple[str, ...] = tuple(sorted({h.removesuffix("_link") for h in _BASE_FACTOR}))


def check_avoid(names: Sequence[str], *, argument: str = "avoid") -> None:
    """Check names to avoid: way classes (:data:`WAY_CLASSES`) or highway values.

    ``argument`` names the option in the message.

    Raises
    ------
    InputError
        Naming the first unknown value, the closest valid ones and all valid ones.
    """
    valid = list(dict.fromkeys([*WAY_CLASSES, *AVOIDABLE_HIGHWAYS]))  # tertiary is both
    for name in names:
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
            hint = f" (closest: {', '.join(close)})" if close else ""
            msg = (f"{argument} {name!r} is not a way class or highway value{hint}; valid are "
                   f"{', '.join(WAY_CLASSES)} or {', '.join(AVOIDABLE_HIGHWAYS)}")
            raise InputError(msg)


#: Overpass QL filters equal in meaning to :func:`bike_access` (their union is
#: a superset of the rideable ways; :func:`bike_access` then decides exactly).
OVERPASS_FILTERS: tuple[str, ...] = (
    '["highway"]["area"!~"yes"]["access"!~"^(no|private)$"]'
    '["highway"!~"^(' + "|".join(sorted(EXCLUDED_HIGHWAYS | FOOT_CLASSES)) + ')$"]'
    '["bicycle"!~"^(no|use_sidepath)$"]["motorroad"!~"yes"]'
    '["service"!~"^(private|emergency_access|parking|parking_aisle)$"]',
    '["highway"~"^(' + "|".join(sorted(FOOT_CLASSES)) + ')$"]["area"!~"yes"]'
    '["bicycle"~"^(yes|designated|permissive|destination)$"]',
    '["highway"]["area"!~"yes"]["access"~"^(no|private)$"]'
    '["bicycle"~"^(yes|designated|permissive|destination)$"]',
)


def _has_cycle_infra(tags: Mapping[str, str]) -> bool:
    for key in ("cycleway", "cycleway:both", "cycleway:left", "cycleway:right"):
        if tags.get(key, "no") in {"lane", "track", "opposite_lane", "opposite_track",
                                    "shared_lane", "share_busway", "separate"}:
            return True
    return False


def bike_access(tags: Mapping[str, str]) -> tuple[bool, bool] | None:
    """Decide whether a bike may ride a way, and in which directions.

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    tuple of bool or None
        ``None`` if the way is not part of the bike network, else
        ``(forward, backward)`` relative to the way's node order.
    """
    highway = tags.get("highway")
    if not highway or highway in EXCLUDED_HIGHWAYS:
        return None
    if tags.get("area") == "yes":
        return None
    bicycle = tags.get("bicycle", "")
    if bicycle in {"no", "use_sidepath"} or tags.get("motorroad") == "yes":
        return None
    if tags.get("access") in {"no", "private"} and bicycle not in BIKE_YES:
        return None
    if tags.get("service") in {"private", "emergency_access", "parking", "parking_aisle"}:
        return None
    if highway in FOOT_CLASSES and bicycle not in BIKE_YES:
        return None
    return _directions(tags)


def _directions(tags: Mapping[str, str]) -> tuple[bool, bool]:
    oneway = tags.get("oneway", "")
    bike_oneway = tags.get("oneway:bicycle", "")
    if tags.get("junction") in {"roundabout", "circular"} and oneway != "no":
        oneway = "yes"
    if bike_oneway == "no":
        return True, True
    contraflow = any(
        tags.get(k, "").startswith("opposite")
        for k in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both")
    ) or "no" in (tags.get("cycleway:left:oneway"), tags.get("cycleway:right:oneway"))
    if bike_oneway in ONEWAY_FWD:
        oneway = "yes"
    elif bike_oneway in ONEWAY_REV:
        oneway = "-1"
    if oneway in ONEWAY_FWD:
        return True, contraflow
    if oneway in ONEWAY_REV:
        return contraflow, True
    return True, True


def way_class(tags: Mapping[str, str]) -> str:
    """Classify a rideable way into one of :data:`WAY_CLASSES`."""
    highway = tags.get("highway", "")
    surface = tags.get("surface", "")
    if surface in UNPAVED or (
        highway == "track" and tags.get("tracktype", "grade2") != "grade1" and not surface
    ):
        return "unpaved"
    if (
        highway == "cycleway"
        or tags.get("bicycle") == "designated"
        or tags.get("bicycle_road") == "yes"
        or tags.get("cyclestreet") == "yes"
    ):
        return "cycleway"
    if highway in MAIN_ROADS:
        return "main_with_cycleway" if _has_cycle_infra(tags) else "main"
    if highway in {"tertiary", "tertiary_link"}:
        return "tertiary"
    return "quiet"


def bike_factor(tags: Mapping[str, str], *, in_cycle_route: bool = False) -> float:
    """Return the cost multiplier of riding a way (1.0 = a quiet residential street).

    Lower is better. Cycleways and ways in OSM cycle route relations are cheaper,
    main roads without cycle infrastructure and unpaved surfaces dearer.
    """
    highway = tags.get("highway", "")
    factor = _BASE_FACTOR.get(highway, 1.2)
    bicycle = tags.get("bicycle", "")
    if bicycle == "designated" or tags.get("bicycle_road") == "yes" or (
        tags.get("cyclestreet") == "yes"
    ):
        factor = min(factor, 0.85)
    if highway in FOOT_CLASSES and bicycle in BIKE_YES:
        # car-free ways with explicit bike access (Tsukuba's pedestrian-and-bike
        # promenades, German "Gehweg, Radfahrer frei") ride well
        factor = min(factor, 0.95)
    if _has_cycle_infra(tags):
        # a lane or track takes most of the traffic stress away
        if highway in MAIN_ROADS:
            factor = 1.0 + (factor - 1.0) * 0.2
        elif highway in {"tertiary", "tertiary_link"}:
            factor = 1.0 + (factor - 1.0) * 0.3
    # a group on city and trekking bikes rides gravel only where it saves a lot
    surface = tags.get("surface", "")
    if surface in ROUGH:
        factor *= 3.0
    elif surface in UNPAVED:
        factor *= 1.9
    elif highway == "track" and not surface:
        factor *= {"grade1": 1.0, "grade2": 1.9}.get(tags.get("tracktype", ""), 2.4)
    if bicycle == "dismount":
        factor *= 3.0
    if in_cycle_route:
        factor *= 0.85
    return round(factor, 4)
