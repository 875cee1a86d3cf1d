"""Turning scores into picks under a candidate mask, with fixed shapes."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def check_k(k: int, n: int) -> None:
  """Raises ValueError unless 1 <= k <= n (k is static, so this runs at trace time)."""
  if not 1 <= k <= n:
    raise ValueError(f"k must be in [1, N={n}], got {k}")


def top_k_masked(
  key: jax.Array,
  scores: jax.Array,
  candidate_mask: jax.Array,
  k: int,
  num: jax.Array | None = None,
) -> jax.Array:
  """The k highest-scoring candidates; ties at the boundary broken at random by ``key``.

  One `lax.top_k` finds the k-th best score s_k. Every candidate scoring above s_k is
  picked; among the candidates scoring exactly s_k, the remaining slots go to a uniformly
  random subset drawn from ``key`` (a second `top_k` over random keys of the tied samples).
  That is exact random tie-breaking of the picked set at O(N) extra cost, where a random
  permutation of the pool would sort it. Within the result, picks are in decreasing score,
  equal scores above s_k by index.

  Args:
    key: PRNG key for the tie-breaking.
    scores: float[N], higher first. NaN ranks with -inf, after every finite score
      (`registry.pick` refuses non-finite probabilities before it gets here).
    candidate_mask: bool[N], the samples that may be picked.
    k: the number of picks (static), 1 <= k <= N.
    num: a traced count n <= k: the top n (same tie rule), slots from n on -1; one
      compiled program serves every n.

  Returns:
    int32[k], distinct indices inside the mask; -1 in the slots left over when fewer than
    k samples are candidates (never an index outside the mask).
  """
  chex.assert_rank([scores, candidate_mask], 1)
  chex.assert_equal_shape([scores, candidate_mask])
  check_k(k, scores.shape[0])
  values = jnp.where(jnp.isnan(scores), -jnp.inf, scores.astype(jnp.float32))
  # Candidates at -inf (a score of -inf, or NaN) must still beat the non-candidates.
  rank = jnp.where(candidate_mask, jnp.maximum(values, jnp.finfo(jnp.float32).min), -jnp.inf)
  # The barrier keeps XLA:CPU from turning top_k into a full sort of the pool once its
  # values feed more arithmetic (measured: 8 ms instead of 0.4 ms at N = 50,000). Only
  # the values pass it: XLA's TopkDecomposer aborts on a barrier over both outputs in a
  # multi-device program (jax 0.10.2, CPU).
  top, index = jax.lax.top_k(rank, k)
  top = jax.lax.optimization_barrier(top)
  last = k - 1 if num is None else jnp.clip(num - 1, 0, k - 1)
  threshold = top[last]
  above = jnp.sum(rank > threshold)  # these are index[:above], as top_k sorts descending
  tied = (rank == threshold) & (threshold > -jnp.inf)
  _, tie_index = jax.lax.top_k(jnp.where(tied, jax.random.uniform(key, rank.shape), -1.0), k)
  slot = jnp.arange(k)
  from_ties = tie_index[jnp.clip(slot - above, 0, k - 1)]
  valid_tie = tied[from_ties] & (slot - above < jnp.sum(tied))
  picks = jnp.where(slot < above, index, jnp.where(valid_tie, from_ties, -1))
  if num is not None:
    picks = jnp.where(slot < num, picks, -1)
  return picks.astype(jnp.int32)


def random_sampling(key: jax.Array, candidate_mask: jax.Array, k: int) -> jax.Array:
  """k candidates uniformly at random without replacement: bool[N] -> int32[k].

  The k largest of N i.i.d. uniform keys over the candidates (a uniformly random k-subset;
  equal keys, which have probability ~0, go to the lower index). -1 fills the slots left
  over when fewer than k samples are candidates.
  """
  check_k(k, candidate_mask.shape[0])
  values = jnp.where(candidate_mask, jax.random.uniform(key, candidate_mask.shape), -1.0)
  top, index = jax.lax.top_k(values, k)
  return jnp.where(top >= 0.0, index, -1).astype(jnp.int32)
