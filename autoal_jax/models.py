"""Flax linen task models. Every model maps images to ``(logits[B, C], embedding[B, D])``.

Contract shared by all task models (the strategies and the AutoAL search rely on it):

- ``__call__(x, train=False, mc_dropout=False)``: ``x`` float32[B, H, W, Ch] already
  normalised. ``train`` turns on dropout and batch statistics; ``mc_dropout`` turns on
  dropout only, BatchNorm staying in inference mode (Gal & Ghahramani 2016's MC dropout for
  BALD / MeanSTD on a trained network).
- Dropout sits between the embedding and the head, so the embedding is deterministic and
  MC passes differ only in the head.
- Input size and class count come from the data: nothing is tied to 28x28 or 32x32.
- ``return_features=True`` also returns the intermediate feature maps (a tuple, input side
  first): the search network exposes them to LossNet (Yoo & Kweon 2019).

This module also holds AutoAL's SearchNet (a task-model backbone with a K-way head) and
LossNet (the loss-prediction module on SearchNet's feature maps).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


class _DropoutHead(nn.Module):
  """Dropout then a dense layer: the part of every task model that MC dropout samples."""

  num_classes: int
  dropout_rate: float

  @nn.compact
  def __call__(self, embedding, stochastic: bool):
    x = nn.Dropout(self.dropout_rate, deterministic=not stochastic)(embedding)
    return nn.Dense(self.num_classes, name="logits")(x)


def _outputs(logits, embedding, maps, return_features: bool):
  return (logits, embedding, tuple(maps)) if return_features else (logits, embedding)


class SmallCNN(nn.Module):
  """The CPU default: conv-pool stages, a dense embedding, dropout, a dense head.

  With the default widths it trains at about 5k and scores at about 24k 28x28 images/s on
  two CPU cores (float32), which keeps a whole AL experiment within minutes.

  Attributes:
    num_classes: C.
    features: channels of the conv stages (one 3x3 conv and a 2x2 max-pool each).
    embedding_dim: D.
    dropout_rate: dropout before the head (also the MC-dropout rate).
  """

  num_classes: int
  features: Sequence[int] = (16, 32)
  embedding_dim: int = 128
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(
    self, x, train: bool = False, mc_dropout: bool = False, return_features: bool = False
  ):
    maps = []
    for width in self.features:
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
      maps.append(x)
    x = x.reshape((x.shape[0], -1))
    embedding = nn.relu(nn.Dense(self.embedding_dim)(x))
    logits = _DropoutHead(self.num_classes, self.dropout_rate, name="head")(
      embedding, train or mc_dropout
    )
    return _outputs(logits, embedding, maps, return_features)


class MLP(nn.Module):
  """A multi-layer perceptron on flattened images; the tiniest model, for tests.

  Attributes:
    num_classes: C.
    hidden: widths of the hidden layers; the last one is D.
    dropout_rate: dropout before the head.
  """

  num_classes: int
  hidden: Sequence[int] = (256, 128)
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(
    self, x, train: bool = False, mc_dropout: bool = False, return_features: bool = False
  ):
    x = x.reshape((x.shape[0], -1))
    maps = []
    for width in self.hidden:
      x = nn.relu(nn.Dense(width)(x))
      maps.append(x)
    logits = _DropoutHead(self.num_classes, self.dropout_rate, name="head")(x, train or mc_dropout)
    return _outputs(logits, x, maps, return_features)


class _BasicBlock(nn.Module):
  features: int
  strides: int
  norm: Callable[..., Any]

  @nn.compact
  def __call__(self, x):
    residual = x
    y = nn.Conv(self.features, (3, 3), (self.strides, self.strides), use_bias=False)(x)
    y = nn.relu(self.norm()(y))
    y = nn.Conv(self.features, (3, 3), use_bias=False)(y)
    # Zero-init of the last BN scale makes each block start as the identity (Goyal et al.
    # 2017), which trains ResNets from scratch more stably at small labeled-set sizes.
    y = self.norm(scale_init=nn.initializers.zeros)(y)
    if residual.shape != y.shape:
      residual = nn.Conv(self.features, (1, 1), (self.strides, self.strides), use_bias=False)(x)
      residual = self.norm()(residual)
    return nn.relu(residual + y)


class ResNet18(nn.Module):
  """CIFAR ResNet-18 (He et al. 2016): 3x3 stem without max-pool, 4 stages of 2 blocks.

  Attributes:
    num_classes: C.
    widths: channels of the four stages; the last is D.
    dropout_rate: dropout before the head (the released AutoAL code has none, which makes
      its BALD / MeanSTD degenerate).
  """

  num_classes: int
  widths: Sequence[int] = (64, 128, 256, 512)
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(
    self, x, train: bool = False, mc_dropout: bool = False, return_features: bool = False
  ):
    norm = lambda **kw: nn.BatchNorm(use_running_average=not train, momentum=0.9, **kw)  # noqa: E731
    x = nn.Conv(self.widths[0], (3, 3), use_bias=False, name="stem")(x)
    x = nn.relu(norm()(x))
    maps = []
    for stage, width in enumerate(self.widths):
      for block in range(2):
        strides = 2 if stage > 0 and block == 0 else 1
        x = _BasicBlock(width, strides, norm)(x)
      maps.append(x)
    embedding = jnp.mean(x, axis=(1, 2))
    logits = _DropoutHead(self.num_classes, self.dropout_rate, name="head")(
      embedding, train or mc_dropout
    )
    return _outputs(logits, embedding, maps, return_features)


MODELS = {"small_cnn": SmallCNN, "resnet18": ResNet18, "mlp": MLP}


def mc_head(model: nn.Module) -> Callable | None:
  """The stochastic part of a task model alone, for cheap MC-dropout passes.

  Every model here puts dropout between a deterministic embedding and the dense head, so T
  MC passes need one backbone pass and T head passes (T x fewer convolutions). Returns
  ``head(params, embedding[B, D], key) -> logits[B, C]`` for the models of this module,
  None for any other flax module (whose MC passes then run the whole network).
  """
  if isinstance(model, WithLossNet):
    inner = mc_head(model.model)
    if inner is None:
      return None
    return lambda params, embedding, key: inner(params["model"], embedding, key)
  if type(model) not in MODELS.values():
    return None
  head = _DropoutHead(model.num_classes, model.dropout_rate)

  def apply(params, embedding, key):
    return head.apply({"params": params["head"]}, embedding, True, rngs={"dropout": key})

  return apply


def get_model(name: str, num_classes: int, **kwargs) -> nn.Module:
  """Builds a registered task model by name (``small_cnn``, ``resnet18``, ``mlp``)."""
  if name not in MODELS:
    raise ValueError(f"Unknown model {name!r}. Valid models: {sorted(MODELS)}")
  if num_classes < 2:
    raise ValueError(f"num_classes must be >= 2, got {num_classes}")
  return MODELS[name](num_classes=num_classes, **kwargs)


class SearchNet(nn.Module):
  """AutoAL's search network: a task-model backbone with a K-way head (Wang et al. 2025).

  One logit per candidate strategy per sample; the relaxation (`autoal_jax.relaxation`)
  turns them into per-sample strategy weights. The backbone is any registered task model
  (the small CNN by default, ResNet-18 on GPU/TPU) with ``num_classes = K``.

  Attributes:
    num_strategies: K (the candidates, plus one column when loss prediction is used).
    backbone: a name in `MODELS`.
    backbone_kwargs: extra attributes of the backbone (widths, dropout_rate, ...), as a
      tuple of (name, value) pairs so that the module stays hashable.

  Returns from ``__call__(x, train=False)``: (logits[B, K], feature maps, input side first).
  """

  num_strategies: int
  backbone: str = "small_cnn"
  backbone_kwargs: tuple = ()

  @nn.compact
  def __call__(self, x, train: bool = False):
    net = get_model(self.backbone, self.num_strategies, **dict(self.backbone_kwargs))
    logits, _, maps = net(x, train=train, return_features=True)
    return logits, maps


class LossNet(nn.Module):
  """The loss-prediction module of Yoo & Kweon 2019 (LL4AL) on a network's feature maps.

  Each map is global-average-pooled (rank-4 maps; rank-2 ones are used as they are), sent
  through its own dense layer of ``hidden`` units and a ReLU; the concatenation goes
  through one dense layer to a predicted loss per sample.

  Attributes:
    hidden: units per feature map (128 in the paper).

  Returns from ``__call__(maps)``: float32[B], the predicted loss.
  """

  hidden: int = 128

  @nn.compact
  def __call__(self, maps: Sequence[jnp.ndarray]):
    pooled = [jnp.mean(m, axis=(1, 2)) if m.ndim == 4 else m for m in maps]
    hidden = [nn.relu(nn.Dense(self.hidden)(p)) for p in pooled]
    return nn.Dense(1)(jnp.concatenate(hidden, axis=-1))[:, 0]


class WithLossNet(nn.Module):
  """A task model trained together with a LossNet on its feature maps (LL4AL).

  Yoo & Kweon 2019: the LossNet predicts each sample's loss from the task model's
  intermediate maps; the active-learning score is the predicted loss. Called like the task
  model it returns (logits, embedding); with ``predict_loss=True`` also the predicted loss.
  ``loss_gate`` scales the gradient that reaches the task model through the maps (1: the
  joint training of the paper's first epochs; 0: detached, its last ones) without
  changing the forward values, so one traced scalar switches it without recompiling.

  Attributes:
    model: the task model (any module with ``return_features``).
    hidden: LossNet's units per map.

  Parameters: ``{"model": task model, "loss_net": LossNet}``.
  """

  model: nn.Module
  hidden: int = 128

  @nn.compact
  def __call__(
    self,
    x,
    train: bool = False,
    mc_dropout: bool = False,
    predict_loss: bool = False,
    loss_gate=1.0,
  ):
    logits, embedding, maps = self.model(
      x, train=train, mc_dropout=mc_dropout, return_features=True
    )
    if not (predict_loss or self.is_initializing()):
      return logits, embedding
    gate = jnp.asarray(loss_gate, jnp.float32)
    gated = [jax.lax.stop_gradient(m) + gate * (m - jax.lax.stop_gradient(m)) for m in maps]
    loss = LossNet(self.hidden, name="loss_net")(gated)
    return logits, embedding, loss
