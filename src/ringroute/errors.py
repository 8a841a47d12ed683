"""Error types raised by ringroute.

Every error a user can cause by bad input subclasses :class:`InputError` (a
:class:`ValueError`); the CLI maps those to exit code 2. Failures of the
environment (network, disk) subclass :class:`RingrouteRuntimeError` and map to
exit code 1.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: an argument, a file or a request that cannot be satisfied."""


class UnknownCityError(InputError):
    """A city name that has no catalogue file."""


class UnknownSightError(InputError):
    """A sight that is not in the catalogue and is not a ``lat,lon`` pair."""


class SightOffNetworkError(InputError):
    """A sight (or start) too far from the loaded bike network."""


class InfeasibleLoopError(InputError):
    """No loop through the requested sights can meet the target length."""


class DisconnectedSightsError(InputError):
    """Requested points lie in parts of the network that do not connect."""


class OSMDataError(InputError):
    """An OSM extract that is missing, empty, truncated or not OSM data."""


class GPXImportError(InputError):
    """A GPX file that cannot be read as GPX."""


class RingrouteRuntimeError(RuntimeError):
    """A failure of the environment rather than of the input."""


class DownloadError(RingrouteRuntimeError):
    """The Overpass or Nominatim service could not deliver usable data."""


class OutputError(RingrouteRuntimeError):
    """An output file could not be written."""
