"""The candidates' decision matrix, the mixtures' common input.

`decisions` runs K single strategies on one set of pool outputs and returns AutoAL's
matrix A[N, K] (0/1 picks, or scaled ranks); `uniform_mix` sums its columns with equal
weights (the no-search baseline); `signal_column` turns any score into such a column.
Every function takes the candidates resolved (`types.Picker`, as `registry.build` puts
them in `Setup.pickers`), never names to look up again at every trace.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from autoal_jax.strategies import base, selection
from autoal_jax.types import Picker, PoolOutputs, Setup, Strategy

SIGNALS = ("picks", "ranks")


def scaled_ranks(values: jax.Array, candidate_mask: jax.Array) -> jax.Array:
  """Each candidate's rank among the candidates, scaled to [0, 1] (1 = highest value).

  Ties are ranked by index (a stable sort); non-candidates get 0. float[N] -> float32[N].
  """
  n = values.shape[0]
  rank = jnp.where(candidate_mask, values.astype(jnp.float32), -jnp.inf)
  position = (
    jnp.zeros(n, jnp.float32)
    .at[jnp.argsort(rank, stable=True)]
    .set(jnp.arange(n, dtype=jnp.float32))
  )
  count = jnp.sum(candidate_mask).astype(jnp.float32)
  scaled = (position - (n - count)) / jnp.maximum(count - 1.0, 1.0)
  return jnp.where(candidate_mask, jnp.clip(scaled, 0.0, 1.0), 0.0)


def decisions(
  pickers: Sequence[Picker],
  key: jax.Array,
  outputs: PoolOutputs,
  candidate_mask: jax.Array,
  k: int,
  num_picks: jax.Array | None = None,
  signal: str = "picks",
) -> jax.Array:
  """AutoAL's decision matrix: A[i, j] = 1 iff strategy j picks sample i among its top k.

  All strategies read the same `PoolOutputs` (one forward pass and one set of T MC passes);
  strategy j draws its randomness from ``fold_in(key, j)``.

  Args:
    pickers: the K candidates' `Picker`s.
    key: PRNG key.
    outputs: `PoolOutputs` of the pool (with mc_probs if any strategy needs them).
    candidate_mask: bool[N].
    k: picks per strategy (static).
    num_picks: a traced n <= k: each strategy picks n (its ``pick_n``), so that one compiled
      program serves a count that changes from round to round. Default k.
    signal: ``picks`` (0/1 decisions) or ``ranks``: score strategies give their scaled rank
      among the candidates (`scaled_ranks`), set pickers still give 0/1 picks.

  Returns:
    float32[N, K]; with ``picks`` each column sums to n (fewer only if picks were missing).
  """
  if signal not in SIGNALS:
    raise ValueError(f"Unknown candidate signal {signal!r}. Valid signals: {list(SIGNALS)}")
  n = candidate_mask.shape[0]
  columns = []
  for j, picker in enumerate(pickers):
    if signal == "ranks" and picker.score is not None:
      columns.append(scaled_ranks(picker.score(outputs), candidate_mask))
      continue
    chosen = _picks(picker, j, key, outputs, candidate_mask, k, num_picks)
    chosen = jnp.where(chosen < 0, n, chosen)  # -1 (missing) falls outside and is dropped
    columns.append(jnp.zeros(n, jnp.float32).at[chosen].set(1.0, mode="drop"))
  return jnp.stack(columns, axis=1)


def _picks(picker: Picker, j, key, outputs, candidate_mask, k, num_picks=None):
  """Candidate j's picks, its randomness from ``fold_in(key, j)``."""
  subkey = jax.random.fold_in(key, j)
  if num_picks is None:
    base.check_inputs(picker, outputs, candidate_mask, k)
    return picker.pick(subkey, outputs, candidate_mask, k)
  base.check_inputs(picker, outputs, candidate_mask, 1)  # k is a cap
  return picker.pick_n(subkey, outputs, candidate_mask, k, num_picks)


def candidate_picks(
  pickers: Sequence[Picker],
  j: int,
  key: jax.Array,
  outputs: PoolOutputs,
  candidate_mask: jax.Array,
  k: int,
  num_picks: jax.Array | None = None,
) -> jax.Array:
  """Candidate j's picks alone, as column j of `decisions` picks them (its randomness from
  ``fold_in(key, j)``): int32[k], the first ``num_picks`` valid; -1 where missing (jit)."""
  return _picks(pickers[j], j, key, outputs, candidate_mask, k, num_picks)


def pick_lists(
  pickers: Sequence[Picker], key: jax.Array, outputs: PoolOutputs, candidate_mask: jax.Array, k: int
) -> jax.Array:
  """Every candidate's k picks in its own order (the bandits' arms): int32[K, k].

  Row j is what `registry.pick` returns for candidate j with ``fold_in(key, j)`` (the same
  picks as column j of `decisions`); -1 where picks are missing (only under jit).
  """
  return jnp.stack(
    [_picks(picker, j, key, outputs, candidate_mask, k) for j, picker in enumerate(pickers)]
  )


def signal_column(values: jax.Array, mask: jax.Array, num: jax.Array, signal: str) -> jax.Array:
  """A score as a column of A: its scaled ranks, or (``picks``) 1 on its top ``num``."""
  ranks = scaled_ranks(values, mask)
  if signal == "ranks":
    return ranks
  count = jnp.sum(mask).astype(jnp.float32)
  position = ranks * jnp.maximum(count - 1.0, 1.0)
  return (mask & (position >= count - num.astype(jnp.float32) - 0.5)).astype(jnp.float32)


def uniform_mix(
  key: jax.Array,
  outputs: PoolOutputs,
  candidate_mask: jax.Array,
  k: int,
  candidates: Sequence[Picker],
  num: jax.Array | None = None,
) -> jax.Array:
  """The candidates' decisions summed with equal weights, no search: int32[k].

  Every candidate picks k (`decisions`, one shared set of outputs); the samples picked
  by the most candidates are bought, ties (many: the votes are small integers) broken
  uniformly at random by ``key`` (`selection.top_k_masked`). With one candidate this is
  that candidate's pick set. A traced ``num`` <= k: each candidate picks num and so does
  the mixture (slots from num on are -1).
  """
  decision_key, tie_key = jax.random.split(key)
  votes = decisions(candidates, decision_key, outputs, candidate_mask, k, num_picks=num)
  return selection.top_k_masked(tie_key, votes.sum(axis=1), candidate_mask, k, num=num)


UNIFORM_MIX_DOC = "the candidates' 0/1 decisions summed with equal weights (no search)"


def uniform_mix_strategy(setup: Setup) -> Strategy:
  """The ``uniform-mix`` strategy over ``setup.pickers`` (stateless, traceable)."""
  candidates = setup.pickers

  def pick(key, outputs, mask, k):
    return uniform_mix(key, outputs, mask, k, candidates)

  needs = base.candidates_needs(candidates)
  return base.stateless("uniform-mix", pick, needs, UNIFORM_MIX_DOC, setup.candidates)
