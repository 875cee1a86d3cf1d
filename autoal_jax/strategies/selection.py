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
    scores: float[N], higher first. NaN is an error upstream (see the strategies).
    candidate_mask: bool[N], the samples that may be picked; at least k of them.
    k: the number of picks (static).

  Returns:
    int32[k], distinct indices inside the mask, best first.
  """
  chex.assert_rank([scores, candidate_mask], 1)
  chex.assert_equal_shape([scores, candidate_mask])
  permutation = jax.random.permutation(key, scores.shape[0])
  masked = jnp.where(candidate_mask, scores.astype(jnp.float32), -jnp.inf)[permutation]
  _, positions = jax.lax.top_k(masked, k)
  return permutation[positions].astype(jnp.int32)
