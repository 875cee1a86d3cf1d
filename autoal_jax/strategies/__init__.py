"""Active-learning strategies: pure scores, set-level pickers, mixtures, one interface.

`base`: the (init, query) interface every strategy has, the one the active-learning
loop runs (`types.Strategy`), and what constructors share (`stateless`).
`registry`: every name: the single strategies (``pick(name, key, outputs,
candidate_mask, k)``), the mixtures and bandits, and `register` / `build` by name; the
bandits `albl` (and `albl_port`) and `tailor`, and AutoAL's search (`autoal_jax.search`,
registered by the package's top level) are strategies with a state like any other.
`decisions`: the candidates' decision matrix and the equal-weight mixture.
`clustering`: the cluster-based single strategies TypiClust and Cluster-Margin.
`coverage`: ProbCover, MaxHerding, DropQuery and Uncertainty Herding's greedy step;
`uherding`: Uncertainty Herding (a calibration model, then the greedy step).
"""

from autoal_jax.strategies import (
  albl,
  albl_port,
  base,
  clustering,
  coverage,
  decisions,
  registry,
  tailor,
  uherding,
)
from autoal_jax.strategies.base import distance_space, stateless
from autoal_jax.strategies.clustering import cluster_margin, typicality, typiclust
from autoal_jax.strategies.coverage import dropquery, herding, probcover
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
  build,
  candidates_needs,
  check_candidates,
  check_outputs,
  get,
  get_picker,
  is_picker,
  is_registered,
  names,
  pick,
  picker_names,
  random_sampling,
  register,
  register_picker,
  register_score,
  resolve,
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
from autoal_jax.types import Setup, Strategy

__all__ = [
  "coverage",
  "distance_space",
  "dropquery",
  "herding",
  "probcover",
  "uherding",
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
  "is_registered",
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
  "resolve",
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
