"""One interface for every strategy: an (init, query) pair of pure functions.

The way every optax optimiser is a ``GradientTransformation``, every active-learning
strategy is a `Strategy` (`types`):

    state = strategy.init(key, context)                        # once, before round 0
    picks, state, info = strategy.query(state, key, context, k)  # once per query

- ``context`` is a `types.Context`: the task model's pool outputs (with what the
  strategy's ``needs`` declared), the labeled mask, the labels of the labeled samples
  and the pool images. ``init`` gets the context of the initial labeled set, whose
  ``outputs`` is None (no model is trained yet).
- ``state`` is any pytree whose structure never changes: ``()`` for the single strategies
  and ``uniform-mix``, ALBL's bandit, AutoAL's networks. A run's state keeps one structure
  from round 0 to the end (checkpoints, scans and vmaps need that).
- ``picks`` are k distinct unlabeled indices (int32[k]); ``info`` a `types.QueryInfo` of
  arrays.

``query`` is traceable: it does not jit itself and reads nothing on the host, so its
caller jits it (k static, `jax.jit(query, static_argnums=3)`) and may vmap it over a
leading axis of states, keys and contexts (seeds). The loop asks nothing else of a
strategy: it trains the task model, computes the pool outputs its ``needs`` ask for, calls
``query`` and labels the picks. (AutoAL's strategies also carry a ``host_query``, the same
computation driven from the host, which the loop prefers on CPU.)

A strategy is made by its constructor from a `Setup` (what the experiment fixes: pool
size, query size, the candidates resolved to pickers, the task model, ...);
`registry` owns every name and builds a strategy by name. This module holds what
constructors share: `stateless`, `no_state` and the input checks of a single strategy.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from autoal_jax.strategies import scores
from autoal_jax.types import Context, Needs, Picker, PoolOutputs, QueryInfo, Setup, Strategy

__all__ = [
  "Setup",
  "Strategy",
  "candidates_needs",
  "check_inputs",
  "check_outputs",
  "no_state",
  "stateless",
]


def distance_space(outputs: PoolOutputs) -> jax.Array:
  """The embedding the coverage and clustering strategies measure distances on: the
  pool's fixed one where the run has it (`PoolOutputs.pool_embeddings`), else the task
  model's. float[N, E]."""
  return outputs.embeddings if outputs.pool_embeddings is None else outputs.pool_embeddings


def no_state(key: jax.Array, context: Context) -> tuple:
  """``init`` of a strategy that carries nothing across rounds."""
  del key, context
  return ()


def stateless(
  name: str,
  pick_fn: Callable,
  needs: Needs,
  doc: str = "",
  candidates: tuple = (),
) -> Strategy:
  """A `Strategy` from ``pick_fn(key, outputs, candidate_mask, k) -> int32[k]``: no state,
  the unlabeled samples as candidates, a traceable query."""

  def query(state, key, context: Context, k: int):
    return pick_fn(key, context.outputs, ~context.labeled, k), state, QueryInfo()

  return Strategy(name, no_state, query, needs, doc, candidates=candidates)


def candidates_needs(pickers) -> Needs:
  """What the candidates (`Picker`s) need together (the union of their `Needs`)."""
  needs = Needs()
  for picker in pickers:
    needs = needs | picker.needs
  return needs


def check_outputs(name: str, needs: Needs, outputs: PoolOutputs) -> None:
  """Raises ValueError unless ``outputs`` carries what ``needs`` asks for."""
  if needs.mc and (outputs.mc_probs is None or outputs.mc_probs.shape[0] < 2):
    raise ValueError(f"strategy {name!r} needs T >= 2 MC-dropout passes (num_mc >= 2)")
  if needs.loss and outputs.losses is None:
    raise ValueError(
      f"strategy {name!r} needs predicted losses (outputs.losses): a task model trained "
      "with a LossNet, TrainConfig(loss_prediction=True)"
    )


def _is_concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer)


def check_inputs(picker: Picker, outputs: PoolOutputs, candidate_mask, k: int) -> None:
  """`registry.pick`'s checks of its inputs (those that need values only outside jit)."""
  name = picker.name
  mask_dtype = getattr(candidate_mask, "dtype", None)
  if mask_dtype != np.bool_:
    raise TypeError(f"candidate_mask must be bool[N], got dtype {mask_dtype}")
  probs_shape = getattr(outputs.probs, "shape", ())
  if candidate_mask.ndim != 1 or len(probs_shape) != 2 or probs_shape[0] != len(candidate_mask):
    raise ValueError(
      f"{name}: outputs.probs must be [N, C] and candidate_mask bool[N], got shapes "
      f"{probs_shape} and {candidate_mask.shape}"
    )
  check_outputs(name, picker.needs, outputs)
  if _is_concrete(candidate_mask):  # NumPy: jnp would trace even a constant under jit
    available = int(np.sum(np.asarray(candidate_mask)))
    if not 1 <= k <= available:
      raise ValueError(f"{name}: k={k} picks asked from {available} candidates")
  if _is_concrete(outputs.probs):
    scores.check_probs(outputs.probs, "outputs.probs")
    if picker.needs.mc:
      scores.check_probs(outputs.mc_probs, "outputs.mc_probs")
