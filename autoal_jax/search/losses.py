"""The search's objectives as pure, named functions (AUTOAL.md section 3).

Shapes: B samples of a batch of V. ``s`` is the soft selection, ``ce`` FitNet's
per-sample cross-entropy, ``weight`` 1 for real samples and 0 for padding, ``valid`` the
same as a mask, ``ratio`` r.
"""

from __future__ import annotations

import jax
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
