"""Active-learning strategies: pure scores, set-level pickers, mixtures, one interface.

`registry`: the single strategies, ``pick(name, key, outputs, candidate_mask, k)``.
`decisions`: the candidates' decision matrix and the equal-weight mixture.
`base`: every strategy as an (init, query) pair built by name (`build`), the interface
the active-learning loop runs; the bandits `albl` (and `albl_port`) and `tailor`, and
AutoAL's search (`autoal_jax.search`) are strategies with a state, registered there like
any other. `clustering`: the cluster-based single strategies TypiClust and Cluster-Margin.
"""

from autoal_jax.strategies import albl, albl_port, base, clustering, decisions, registry, tailor
from autoal_jax.strategies.base import (
  Setup,
  Strategy,
  build,
  get,
  names,
  register,
  stateless,
)
from autoal_jax.strategies.clustering import cluster_margin, typicality, typiclust
from autoal_jax.strategies.decisions import (
  SIGNALS,
  pick_lists,
  scaled_ranks,
  signal_column,
  uniform_mix,
)
from autoal_jax.strategies.pickers import (
  badge,
  kcenter_greedy,
  kmeans_sampling,
  min_sq_dist_to_set,
)
from autoal_jax.strategies.registry import (
  AUTOAL_CANDIDATES,
  DEFAULT_CANDIDATES,
  Picker,
  candidates_needs,
  check_candidates,
  check_outputs,
  get_picker,
  is_picker,
  pick,
  picker_names,
  random_sampling,
  register_picker,
  register_score,
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
  "Picker",
  "SIGNALS",
  "Setup",
  "Strategy",
  "albl",
  "albl_port",
  "badge",
  "bald",
  "base",
  "build",
  "candidates_needs",
  "check_candidates",
  "check_outputs",
  "check_probs",
  "cluster_margin",
  "clustering",
  "decisions",
  "entropy",
  "get",
  "get_picker",
  "is_picker",
  "kcenter_greedy",
  "kmeans_sampling",
  "least_confidence",
  "margin",
  "mean_std",
  "min_sq_dist_to_set",
  "names",
  "pick_lists",
  "pick",
  "picker_names",
  "random_sampling",
  "register",
  "register_picker",
  "register_score",
  "registry",
  "scaled_ranks",
  "signal_column",
  "stateless",
  "tailor",
  "top_k_masked",
  "typicality",
  "typiclust",
  "uniform_mix",
  "var_ratio",
]
