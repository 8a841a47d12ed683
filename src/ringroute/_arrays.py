"""Small numpy helpers shared by the numeric modules."""

from __future__ import annotations

import numpy as np

from ringroute._types import IntArray


def ranks(count: IntArray) -> IntArray:
    """0, 1, …, ``count[k]`` − 1 for each ``k``, concatenated.

    The position of each element within its group, where ``np.repeat(x, count)``
    lays out groups of ``count[k]`` copies.
    """
    count = np.asarray(count, dtype=np.int64)
    out: IntArray = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return out
