"""Array helpers shared by the statistics modules."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.linalg

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


def as_float(x: ArrayLike) -> FloatArray:
    """``x`` as a float64 array."""
    return np.asarray(x, dtype=np.float64)


def check_level(confidence_level: float) -> None:
    """Raise ValueError unless ``0 < confidence_level < 1``."""
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")


def independent_columns(x: FloatArray) -> list[int]:
    """Columns of ``x`` that vary and are not linear combinations of the others (pivoted QR of the centred columns)."""
    if x.shape[1] == 0:
        return []
    centred = x - x.mean(axis=0)
    scale = np.sqrt((centred**2).sum(axis=0))
    varies = scale > 1e-12 * (1.0 + np.abs(x).max(axis=0))
    idx = np.flatnonzero(varies)
    if not idx.size:
        return []
    unit = centred[:, idx] / scale[idx]
    _, r, pivot = scipy.linalg.qr(unit, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-9 * max(1.0, float(diag[0]))).sum()) if diag.size else 0
    return sorted(int(i) for i in idx[pivot[:rank]])
