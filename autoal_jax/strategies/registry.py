"""One signature for every strategy, and a registry by name.

Every registered strategy is called as ``pick(name, key, outputs, candidate_mask, k)``:

- ``key``: a PRNG key (random strategies and tie-breaking use it; deterministic ones
  ignore it),
- ``outputs``: the `PoolOutputs` of one forward pass of the task model over the pool (and
  its MC passes, for strategies with ``needs_mc``),
- ``candidate_mask``: bool[N], the samples that may be picked (the unlabeled ones),
- ``k``: the number of picks, static,

and returns int32[k] distinct indices inside the mask. The function is pure and
jittable; the active-learning loop jits it once per (strategy, k).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax

from autoal_jax.strategies import scores, selection
from autoal_jax.types import PoolOutputs

PickFn = Callable[[jax.Array, PoolOutputs, jax.Array, int], jax.Array]


class Strategy(NamedTuple):
  """A registered strategy.

  Attributes:
    name: the registry name.
    pick: ``pick(key, outputs, candidate_mask, k) -> int32[k]``.
    needs_mc: whether ``outputs.mc_probs`` must be present (T MC-dropout passes).
    doc: one line for listings.
  """

  name: str
  pick: PickFn
  needs_mc: bool
  doc: str


_REGISTRY: dict[str, Strategy] = {}


def register(name: str, pick_fn: PickFn, needs_mc: bool = False, doc: str = "") -> Strategy:
  """Adds a strategy to the registry (names are unique)."""
  if name in _REGISTRY:
    raise ValueError(f"strategy {name!r} is already registered")
  _REGISTRY[name] = Strategy(name, pick_fn, needs_mc, doc)
  return _REGISTRY[name]


def register_score(name: str, score_fn: Callable, needs_mc: bool = False, doc: str = ""):
  """Registers a score strategy: its picks are the top-k scores among the candidates."""

  def pick_fn(key, outputs, candidate_mask, k):
    values = score_fn(outputs.mc_probs if needs_mc else outputs.probs)
    return selection.top_k_masked(key, values, candidate_mask, k)

  return register(name, pick_fn, needs_mc, doc)


def names() -> list[str]:
  """The registered strategy names, sorted."""
  return sorted(_REGISTRY)


def get(name: str) -> Strategy:
  """The `Strategy` called ``name``; an unknown name lists the valid ones."""
  if name not in _REGISTRY:
    raise ValueError(f"Unknown strategy {name!r}. Valid strategies: {names()}")
  return _REGISTRY[name]


def pick(name: str, key: jax.Array, outputs: PoolOutputs, candidate_mask: jax.Array, k: int):
  """Runs the strategy ``name``: returns int32[k] distinct indices inside ``candidate_mask``."""
  strategy = get(name)
  if strategy.needs_mc and outputs.mc_probs is None:
    raise ValueError(f"strategy {name!r} needs MC-dropout probabilities (num_mc >= 2)")
  return strategy.pick(key, outputs, candidate_mask, k)


def random_sampling(key: jax.Array, candidate_mask: jax.Array, k: int) -> jax.Array:
  """k candidates uniformly at random without replacement: bool[N] -> int32[k]."""
  score_key, tie_key = jax.random.split(key)
  values = jax.random.uniform(score_key, candidate_mask.shape)
  return selection.top_k_masked(tie_key, values, candidate_mask, k)


register(
  "random",
  lambda key, outputs, mask, k: random_sampling(key, mask, k),
  doc="uniform sampling without replacement",
)
register_score("entropy", scores.entropy, doc="predictive entropy (Settles 2009)")
