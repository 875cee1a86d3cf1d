"""Informativeness scores: higher means more informative, picked first.

Each score is written for one example and lifted to the pool with `jax.vmap` (rlax's
habit), so the per-example maths stays readable and testable by hand.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def _entropy_one(p: jax.Array) -> jax.Array:
  # 0 log 0 = 0: xlogy is exact there, where p * log(p) would give NaN.
  return -jnp.sum(jax.scipy.special.xlogy(p, p))


def entropy(probs: jax.Array) -> jax.Array:
  """Predictive entropy -sum_c p_c log p_c (Settles 2009; Shannon 1948).

  Args:
    probs: float[N, C], rows on the simplex.

  Returns:
    float[N].
  """
  chex.assert_rank(probs, 2)
  return jax.vmap(_entropy_one)(probs)
