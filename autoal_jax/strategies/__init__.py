"""Active-learning strategies: pure scores, pickers and one registry.

See `registry` for the uniform call ``pick(name, key, outputs, candidate_mask, k)``.
"""

from autoal_jax.strategies.registry import Strategy, get, names, pick, random_sampling, register
from autoal_jax.strategies.scores import entropy
from autoal_jax.strategies.selection import top_k_masked

__all__ = [
  "Strategy",
  "entropy",
  "get",
  "names",
  "pick",
  "random_sampling",
  "register",
  "top_k_masked",
]
