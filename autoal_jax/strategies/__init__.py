"""Active-learning strategies: pure scores, set-level pickers and one registry.

See `registry` for the uniform call ``pick(name, key, outputs, candidate_mask, k)`` and
the table of strategies.
"""

from autoal_jax.strategies import albl
from autoal_jax.strategies.pickers import (
  badge,
  kcenter_greedy,
  kmeans_sampling,
  min_sq_dist_to_set,
)
from autoal_jax.strategies.registry import (
  AUTOAL_CANDIDATES,
  DEFAULT_CANDIDATES,
  SIGNALS,
  Strategy,
  candidates_need_loss,
  candidates_need_mc,
  check_candidates,
  decisions,
  get,
  is_mixture,
  names,
  pick,
  random_sampling,
  register,
  register_score,
  scaled_ranks,
  uniform_mix,
)
from autoal_jax.strategies.scores import (
  bald,
  check_probs,
  entropy,
  least_confidence,
  margin,
  mean_std,
  var_ratio,
)
from autoal_jax.strategies.selection import top_k_masked

__all__ = [
  "AUTOAL_CANDIDATES",
  "DEFAULT_CANDIDATES",
  "SIGNALS",
  "Strategy",
  "albl",
  "badge",
  "bald",
  "candidates_need_loss",
  "candidates_need_mc",
  "check_candidates",
  "check_probs",
  "decisions",
  "entropy",
  "get",
  "is_mixture",
  "kcenter_greedy",
  "kmeans_sampling",
  "least_confidence",
  "margin",
  "mean_std",
  "min_sq_dist_to_set",
  "names",
  "pick",
  "random_sampling",
  "register",
  "register_score",
  "scaled_ranks",
  "top_k_masked",
  "uniform_mix",
  "var_ratio",
]
