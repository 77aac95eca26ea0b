"""Array helpers shared by the statistics modules."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


def as_float(x: ArrayLike) -> FloatArray:
    """``x`` as a float64 array."""
    return np.asarray(x, dtype=np.float64)


def check_level(confidence_level: float) -> None:
    """Raise ValueError unless ``0 < confidence_level < 1``."""
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")
