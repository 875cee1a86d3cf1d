"""Turning scores into picks under a candidate mask, with fixed shapes."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def top_k_masked(key: jax.Array, scores: jax.Array, candidate_mask: jax.Array, k: int) -> jax.Array:
  """The k highest-scoring candidates; ties broken uniformly at random by ``key``.

  `lax.top_k` prefers the lower index among equal values, so the pool is first put in a
  random order (a permutation drawn from ``key``) and the picks mapped back: every tie is
  broken by that seeded permutation, and with the same key the picks are identical.

  Args:
    key: PRNG key for the tie-breaking permutation.
    scores: float[N], higher first. NaN ranks with -inf, after every finite score
      (`registry.pick` refuses non-finite probabilities before it gets here).
    candidate_mask: bool[N], the samples that may be picked.
    k: the number of picks (static), 1 <= k <= N.

  Returns:
    int32[k], distinct indices inside the mask, best first; -1 in the slots left over
    when fewer than k samples are candidates (never an index outside the mask).
  """
  chex.assert_rank([scores, candidate_mask], 1)
  chex.assert_equal_shape([scores, candidate_mask])
  if not 1 <= k <= scores.shape[0]:
    raise ValueError(f"k must be in [1, N={scores.shape[0]}], got {k}")
  permutation = jax.random.permutation(key, scores.shape[0])
  values = jnp.where(jnp.isnan(scores), -jnp.inf, scores.astype(jnp.float32))
  # Candidates at -inf (a score of -inf, or NaN) must still beat the non-candidates.
  rank = jnp.where(candidate_mask, jnp.maximum(values, jnp.finfo(jnp.float32).min), -jnp.inf)
  top, positions = jax.lax.top_k(rank[permutation], k)
  return jnp.where(top > -jnp.inf, permutation[positions], -1).astype(jnp.int32)
