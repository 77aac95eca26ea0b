"""Tests on arrays: Welch's two-sample comparison, the Wilcoxon signed-rank test from rank sums."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats

from outcomes.stats._arrays import ArrayLike, FloatArray, as_float

__all__ = ["EXACT_WILCOXON_MAX_N", "PERMUTATION_WILCOXON_MAX_N", "welch_stats", "wilcoxon_signed_rank_stats"]

EXACT_WILCOXON_MAX_N = 50
"""Groups up to this size without ties or zeros get an exact Wilcoxon p-value (as scipy's ``method='auto'``)."""

PERMUTATION_WILCOXON_MAX_N = 13
"""Groups up to this size with ties or zeros get the p-value of all 2**n sign flips (as scipy's ``method='auto'``)."""


def welch_stats(
    mean_a: ArrayLike,
    sd_a: ArrayLike,
    n_a: ArrayLike,
    mean_b: ArrayLike,
    sd_b: ArrayLike,
    n_b: ArrayLike,
    /,
    *,
    confidence_level: float = 0.95,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Welch's difference ``mean_a - mean_b``: interval and two-sided p-value, vectorized.

    ``se^2 = sd_a^2/n_a + sd_b^2/n_b``; Welch-Satterthwaite
    ``df = se^4 / ((sd_a^2/n_a)^2/(n_a-1) + (sd_b^2/n_b)^2/(n_b-1))`` (Welch 1947).

    Returns
    -------
    diff, ci_low, ci_high, p_value

    References
    ----------
    .. [1] Welch, B. L. (1947). The generalization of "Student's" problem when several
       different population variances are involved. *Biometrika*, 34(1-2), 28-35.
       https://doi.org/10.1093/biomet/34.1-2.28
    """
    ma, sa, na = as_float(mean_a), as_float(sd_a), as_float(n_a)
    mb, sb, nb = as_float(mean_b), as_float(sd_b), as_float(n_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        va, vb = sa**2 / na, sb**2 / nb
        se = np.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
        valid = (na >= 2) & (nb >= 2) & (se > 0)
        diff = ma - mb
        q = stats.t.ppf(0.5 + confidence_level / 2, df)
        p = 2 * stats.t.sf(np.abs(diff / se), df)
        return (
            np.where((na >= 1) & (nb >= 1), diff, np.nan),
            np.where(valid, diff - q * se, np.nan),
            np.where(valid, diff + q * se, np.nan),
            np.where(valid, p, np.nan),
        )


def wilcoxon_signed_rank_stats(
    w_plus: ArrayLike,
    n_nonzero: ArrayLike,
    tie_term: ArrayLike,
    /,
    *,
    exact_samples: Sequence[FloatArray | None] = (),
) -> tuple[FloatArray, npt.NDArray[np.object_]]:
    """Two-sided Wilcoxon signed-rank p-values from per-group rank sums, vectorized.

    Zeros are dropped (``zero_method="wilcox"``), tied absolute differences
    get their average rank. ``w_plus`` is the sum of the ranks of the positive
    differences, ``n_nonzero`` the number of non-zero differences and
    ``tie_term`` the sum of ``t^3 - t`` over groups of ``t`` tied absolute
    values. The normal approximation, with the tie correction and no
    continuity correction, is ``z = (W+ - n(n+1)/4) / sqrt(n(n+1)(2n+1)/24 -
    tie_term/48)``. Where ``exact_samples[i]`` holds the differences of group
    ``i``, the p-value is the one ``scipy.stats.wilcoxon(method="auto")``
    gives for them: ``exact`` (the distribution of W+ without ties) for at most
    :data:`EXACT_WILCOXON_MAX_N` differences with no tie or zero, ``permutation``
    (W+ over all ``2**n`` sign flips, exact with ties and zeros) for at most
    :data:`PERMUTATION_WILCOXON_MAX_N`; larger samples keep the approximation.
    The normal approximation is anti-conservative for small samples with ties
    ([2, 2, 2, 2] gives 0.046; all sign flips give 0.125).

    Returns
    -------
    p_value : numpy.ndarray
        NaN where the variance is 0 (no non-zero difference).
    method : numpy.ndarray of object
        ``"exact"``, ``"permutation"``, ``"asymptotic"`` or None (no p-value).

    References
    ----------
    .. [1] Wilcoxon, F. (1945). Individual comparisons by ranking methods. *Biometrics
       Bulletin*, 1(6), 80-83. https://doi.org/10.2307/3001968
    """
    nz = as_float(n_nonzero)
    w = as_float(w_plus)
    tie = as_float(tie_term)
    mean = nz * (nz + 1) / 4
    var = nz * (nz + 1) * (2 * nz + 1) / 24 - tie / 48
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (w - mean) / np.sqrt(var)
        p = np.where(var > 0, 2 * stats.norm.sf(np.abs(z)), np.nan)
    method = np.array(["asymptotic" if np.isfinite(x) else None for x in p], dtype=object)
    for i, values in enumerate(exact_samples):
        if values is None or not np.isfinite(p[i]):
            continue
        abs_nonzero = np.abs(values[values != 0])
        ties_or_zeros = abs_nonzero.size < values.size or np.unique(abs_nonzero).size < abs_nonzero.size
        if not ties_or_zeros and values.size <= EXACT_WILCOXON_MAX_N:
            p[i], method[i] = stats.wilcoxon(values, method="exact").pvalue, "exact"
        elif values.size <= PERMUTATION_WILCOXON_MAX_N:
            # 2**13 = 8192 sign flips are fewer than the default 9999 resamples: every one is enumerated
            p[i] = stats.wilcoxon(values, method=stats.PermutationMethod(n_resamples=9999)).pvalue
            method[i] = "permutation"
    return p, method
