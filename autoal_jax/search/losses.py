"""The search's objectives as pure, named functions (AUTOAL.md section 3).

Shapes: B samples of a batch of V. ``s`` is the soft selection, ``ce`` FitNet's
per-sample cross-entropy, ``weight`` 1 for real samples and 0 for padding, ``valid`` the
same as a mask, ``ratio`` r.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from autoal_jax import losses as shared_losses
from autoal_jax import relaxation
from autoal_jax import train as train_lib
from autoal_jax.train import TrainState

# LL4AL's pairwise ranking loss, shared with the task model's loss prediction.
ranking_loss = shared_losses.ranking_loss


def per_sample_ce(state: TrainState, params, x, y, train: bool, key=None):
  """Per-sample cross-entropy of ``state``'s network with ``params``: (float32[B], BN stats)."""
  (logits, _), batch_stats = train_lib.apply_model(state, params, x, train, key)
  return optax.softmax_cross_entropy_with_integer_labels(logits, y), batch_stats


def fit_objective(s, ce, weight, valid, ratio, lambda_fit) -> jax.Array:
  """FitNet's loss ``L_F = mean(sg(s) CE_F) + lambda_F L_size(s)``: FitNet fits the samples
  the current mixture selects; the selection is a constant for it."""
  s = jax.lax.stop_gradient(s)
  return shared_losses.weighted_mean(s * ce, weight) + lambda_fit * relaxation.size_loss(
    s, valid, ratio
  )


def hard_samples_objective(s, ce, weight, valid, ratio, lambda_search) -> jax.Array:
  """The paper's SearchNet loss ``L_S = -mean(s CE_F) + lambda_S L_size(s)`` (Wang et al.
  2025): select the samples FitNet finds hard, about r of them. Linear in the strategy
  weights up to the sigmoid (`../shared/SEARCH.md` section 1). ``ce`` is a stop-gradient
  at first order, and depends on SearchNet through one unrolled FitNet step at order 2."""
  return -shared_losses.weighted_mean(s * ce, weight) + lambda_search * relaxation.size_loss(
    s, valid, ratio
  )


def loss_net_objective(predicted, ce, weight, margin) -> tuple[jax.Array, jax.Array]:
  """LossNet's loss: LL4AL's pairwise ranking loss of its predictions against FitNet's
  (stop-gradient) losses, with the configured margin. Returns (loss, ranking accuracy)."""
  return ranking_loss(predicted, jax.lax.stop_gradient(ce), weight, margin)


def alignment_value(s, alignment, phi, residual, weight, gamma) -> jax.Array:
  """How much a (soft) selection is worth to a held-out set H, to first order.

  ``J(s) = sum_i s_i a_i / sum_i s_i - gamma / 2 * sum_ij s_i s_j <G_i, G_j> / (sum_i s_i)^2``
  with ``G_i = phi_i (p_i - y_i)^T`` (BADGE's gradient embedding) and ``a_i = <g_H, G_i>``,
  ``g_H`` H's mean gradient embedding: a gradient step on the selection lowers H's loss by
  about its mean alignment, and redundant picks (parallel gradients) add less than they
  count (`../shared/SEARCH.md` R2). ``<G_i, G_j> = (phi_i . phi_j)(r_i . r_j)`` (factorised).

  Args:
    s: float32[B] selection in [0, 1] (0/1 for a hard pick set).
    alignment: float32[B], a_i.
    phi: float32[B, D], embeddings.
    residual: float32[B, C], r_i = p_i - onehot(y_i).
    weight: float32[B], 1 for real samples, 0 for padding.
    gamma: the redundancy weight.

  Returns:
    float32 scalar, higher is better.
  """
  s = s * weight
  total = jnp.maximum(jnp.sum(s), 1e-6)
  gram = (phi @ phi.T) * (residual @ residual.T)
  return jnp.sum(s * alignment) / total - 0.5 * gamma * (s @ gram @ s) / total**2


def alignment_objective(
  s, alignment, phi, residual, weight, valid, ratio, gamma, lambda_search
) -> jax.Array:
  """SearchNet's loss for ``objective = alignment``: ``-J(s) + lambda_S L_size(s)``
  (`alignment_value`; FitNet, hence a, phi and r, is fixed during the search)."""
  value = alignment_value(s, alignment, phi, residual, weight, gamma)
  return -value + lambda_search * relaxation.size_loss(s, valid, ratio)


def global_and_local(logits, bias, log_prior, weight) -> tuple[jax.Array, jax.Array]:
  """The regularisers of the alignment search's parametrisation o_ik = alpha_k + delta_ik.

  Args:
    logits: float32[B, K], SearchNet's logits o.
    bias: float32[K], its head's bias: the global strategy logits alpha.
    log_prior: float32[K], the log prior carried across rounds (normalised or not).
    weight: float32[B].

  Returns:
    (the mean squared per-sample correction ``mean_i ||o_i - alpha||^2``,
    ``KL(softmax(alpha) || softmax(log_prior))``).
  """
  delta = jnp.sum((logits - bias[None, :]) ** 2, axis=-1)
  correction = shared_losses.weighted_mean(delta, weight)
  log_q = jax.nn.log_softmax(bias)
  kl = jnp.sum(jnp.exp(log_q) * (log_q - jax.nn.log_softmax(log_prior)))
  return correction, kl
