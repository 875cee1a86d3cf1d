"""autoal_jax: automated active learning (AutoAL, Wang, Zhan & Huang, ICML 2025) in JAX.

Shape alphabet used in every docstring: N pool samples, V validation samples, K candidate
strategies, C classes, D embedding size, T Monte-Carlo samples, b query budget per round.
"""

from autoal_jax import (
  checkpoint,
  data,
  loop,
  losses,
  metrics,
  models,
  passes,
  relaxation,
  search,
  sharding,
  strategies,
  train,
)
from autoal_jax.data import DataNotFoundError, from_arrays, load_dataset
from autoal_jax.loop import ActiveLearner, ALConfig, ALState, RoundLog
from autoal_jax.metrics import aubc, final_accuracy
from autoal_jax.models import (
  MLP,
  LossNet,
  ResNet18,
  SearchNet,
  SmallCNN,
  get_model,
  load_variables,
)
from autoal_jax.search import AutoAL, SearchConfig, SearchState
from autoal_jax.strategies import Setup, Strategy
from autoal_jax.train import TrainConfig, Trainer, TrainState
from autoal_jax.types import Context, Dataset, DatasetInfo, Needs, PoolOutputs, QueryInfo

# AutoAL's strategies join the one registry here, explicitly: `strategies` sits below
# `search`, so its registry cannot import them, and importing a module registers nothing.
for _name, (_build, _doc) in search.STRATEGIES.items():
  strategies.register(_name, _build, _doc)
del _name, _build, _doc

__version__ = "0.1.0"

__all__ = [
  "ALConfig",
  "ALState",
  "Context",
  "ActiveLearner",
  "AutoAL",
  "DataNotFoundError",
  "Dataset",
  "DatasetInfo",
  "LossNet",
  "MLP",
  "Needs",
  "PoolOutputs",
  "QueryInfo",
  "ResNet18",
  "RoundLog",
  "SearchConfig",
  "SearchNet",
  "SearchState",
  "Setup",
  "SmallCNN",
  "Strategy",
  "TrainConfig",
  "TrainState",
  "Trainer",
  "aubc",
  "checkpoint",
  "data",
  "final_accuracy",
  "from_arrays",
  "get_model",
  "load_dataset",
  "load_variables",
  "loop",
  "losses",
  "metrics",
  "models",
  "passes",
  "relaxation",
  "search",
  "sharding",
  "strategies",
  "train",
]
