"""Stage 4 on arrays: effect sizes, intervals, tests, ANCOVA, multiplicity and funnel limits.

Plain numpy and scipy on small arrays, vectorized across groups where the
formula allows; no dataframe. Each function states its formula and reference.

- :mod:`~outcomes.stats.effect_sizes`: SRM (d_z), d_av and g_av, d_s and Hedges' g,
  Glass's delta, Cliff's delta, Hedges' exact J;
- :mod:`~outcomes.stats.intervals`: noncentral-t inversion, Wilson, exact (Garwood)
  Poisson, the t-interval of a mean, BCa bootstrap of a mean;
- :mod:`~outcomes.stats.testing`: Welch's comparison, the Wilcoxon signed-rank test;
- :mod:`~outcomes.stats.ancova`: the baseline-adjusted difference of two groups;
- :mod:`~outcomes.stats.mixed`: a linear mixed model by REML (random intercept and slope);
- :mod:`~outcomes.stats.multiplicity`: Holm's adjustment;
- :mod:`~outcomes.stats.funnel_limits`: funnel-plot control limits, with overdispersion
  (Spiegelhalter's winsorised phi, multiplicative and additive random-effects limits);
- :mod:`~outcomes.stats.benchmarking`: between-unit variance by one-way random-effects ANOVA,
  reliability, empirical-Bayes shrinkage, rank intervals;
- :mod:`~outcomes.stats.weighting`: inverse-probability-weighted means with a sandwich variance.
"""

from outcomes.stats._arrays import independent_columns
from outcomes.stats.ancova import AncovaFit, ancova_fit, ancova_pairs
from outcomes.stats.benchmarking import RandomEffectsAnova, RankIntervals, random_effects_anova, rank_intervals
from outcomes.stats.effect_sizes import (
    EffectSize,
    cliffs_delta,
    cohens_d_av,
    cohens_d_s,
    g_av_stats,
    glass_delta,
    hedges_g,
    hedges_g_av,
    hedges_g_stats,
    hedges_j,
    srm,
    srm_stats,
)
from outcomes.stats.funnel_limits import (
    Overdispersion,
    binomial_limits,
    dersimonian_laird_tau2,
    normal_limits,
    overdispersed_normal_limits,
    overdispersed_proportion_limits,
    overdispersion,
)
from outcomes.stats.intervals import (
    BOOTSTRAP_MIN_N,
    bca_mean_intervals,
    mean_interval_stats,
    nct_interval,
    poisson_interval,
    wilson_interval,
)
from outcomes.stats.mixed import MixedFit, mixed_fit
from outcomes.stats.multiplicity import holm
from outcomes.stats.testing import (
    EXACT_WILCOXON_MAX_N,
    PERMUTATION_WILCOXON_MAX_N,
    welch_stats,
    wilcoxon_signed_rank_stats,
)
from outcomes.stats.weighting import WeightedMeans, ipw_means

__all__ = [
    "BOOTSTRAP_MIN_N",
    "EXACT_WILCOXON_MAX_N",
    "PERMUTATION_WILCOXON_MAX_N",
    "AncovaFit",
    "EffectSize",
    "MixedFit",
    "Overdispersion",
    "RandomEffectsAnova",
    "RankIntervals",
    "WeightedMeans",
    "ancova_fit",
    "ancova_pairs",
    "bca_mean_intervals",
    "binomial_limits",
    "cliffs_delta",
    "cohens_d_av",
    "cohens_d_s",
    "dersimonian_laird_tau2",
    "g_av_stats",
    "glass_delta",
    "hedges_g",
    "hedges_g_av",
    "hedges_g_stats",
    "hedges_j",
    "holm",
    "independent_columns",
    "ipw_means",
    "mean_interval_stats",
    "mixed_fit",
    "nct_interval",
    "normal_limits",
    "overdispersed_normal_limits",
    "overdispersed_proportion_limits",
    "overdispersion",
    "poisson_interval",
    "random_effects_anova",
    "rank_intervals",
    "srm",
    "srm_stats",
    "welch_stats",
    "wilcoxon_signed_rank_stats",
    "wilson_interval",
]
