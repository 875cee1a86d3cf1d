"""Losses shared by the task model's training and AutoAL's search (pure functions)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def weighted_mean(x: jax.Array, weights: jax.Array) -> jax.Array:
  """sum(weights * x) / sum(weights), 0 when every weight is 0 (an all-padding batch)."""
  return jnp.sum(weights * x) / jnp.maximum(jnp.sum(weights), 1.0)


def ranking_loss(pred: jax.Array, target: jax.Array, weight: jax.Array, margin: float = 1.0):
  """LL4AL's pairwise loss (Yoo & Kweon 2019): the batch's halves form the pairs.

  ``max(0, -sign(l_i - l_j) (p_i - p_j) + margin)``, averaged over pairs of valid samples.

  Returns:
    (loss, ranking accuracy: the fraction of pairs ordered like the targets).
  """
  half = pred.shape[0] // 2
  sign = jnp.sign(target[:half] - target[half : 2 * half])
  diff = pred[:half] - pred[half : 2 * half]
  pair = weight[:half] * weight[half : 2 * half]
  count = jnp.maximum(jnp.sum(pair), 1.0)
  loss = jnp.sum(pair * jnp.maximum(0.0, -sign * diff + margin)) / count
  correct = (jnp.sign(diff) == sign).astype(jnp.float32)
  return loss, jnp.sum(pair * correct) / count
