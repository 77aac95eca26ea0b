"""Multiplicity: Holm's step-down adjustment of p-values within families."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from outcomes.stats._arrays import ArrayLike, FloatArray, as_float

__all__ = ["holm"]


def holm(p_values: Sequence[float] | FloatArray, /, *, families: ArrayLike | None = None) -> FloatArray:
    """Holm (1979) step-down adjusted p-values; NaNs stay NaN and are not counted.

    A p-value outside [0, 1] raises ValueError: it is not a p-value, and
    adjusting it would hide the error upstream.

    Within a family of ``m`` p-values sorted ascending,
    ``p_(i)adj = max_{j <= i} min(1, (m - j + 1) p_(j))``.

    Parameters
    ----------
    p_values : sequence of float
    families : array_like, optional
        One family label per p-value; each family is adjusted on its own.
        None: all p-values form one family.

    References
    ----------
    .. [1] Holm, S. (1979). A simple sequentially rejective multiple test procedure.
       *Scandinavian Journal of Statistics*, 6(2), 65-70. https://www.jstor.org/stable/4615733

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(4).tolist()
    [0.03, 0.06, 0.06]
    >>> holm([0.01, 0.04, 0.03, 0.02], families=["a", "a", "b", "b"]).round(4).tolist()
    [0.02, 0.04, 0.04, 0.04]
    """
    p = as_float(p_values)
    outside = np.flatnonzero(np.isfinite(p) & ((p < 0) | (p > 1)) | np.isinf(p))
    if outside.size:
        i = int(outside[0])
        raise ValueError(f"p-values must be between 0 and 1 (NaN for none); got {float(p.flat[i])} at position {i}")
    out = np.full(p.shape, np.nan)
    if families is None:
        _holm_into(out, p, np.arange(p.size))
        return out
    labels = np.asarray(families)
    if labels.shape != p.shape:
        raise ValueError("families must give one label per p-value")
    _, family_index = np.unique(labels, return_inverse=True)
    for family in range(int(family_index.max()) + 1 if p.size else 0):
        _holm_into(out, p, np.flatnonzero(family_index == family))
    return out


def _holm_into(out: FloatArray, p: FloatArray, members: np.ndarray) -> None:
    """Write the Holm-adjusted p-values of the family ``p[members]`` into ``out[members]``."""
    ok = members[np.isfinite(p[members])]
    m = ok.size
    if m == 0:
        return
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
