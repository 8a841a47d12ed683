"""Array type aliases shared by the package's numeric modules."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: float, integer and boolean numpy arrays (node/edge attributes, distances, masks)
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
