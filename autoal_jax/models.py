"""Flax linen task models. Every model maps inputs to ``(logits[B, C], embedding[B, D])``.

Contract shared by all task models (the strategies and the AutoAL search rely on it):

- ``__call__(x, train=False, mc_dropout=False)``: ``x`` float32[B, H, W, Ch] images already
  normalised, or float32[B, *F] features (`data.from_arrays`; the MLP and the linear model
  take any shape, the convolutional ones images). ``train`` turns on dropout and batch
  statistics; ``mc_dropout`` turns on dropout only, BatchNorm staying in inference mode
  (Gal & Ghahramani 2016's MC dropout for BALD / MeanSTD on a trained network).
- Dropout sits between the embedding and the head, so the embedding is deterministic and
  MC passes differ only in the head.
- Input size and class count come from the data: nothing is tied to 28x28 or 32x32.
- ``return_features=True`` also returns the intermediate feature maps (a tuple, input side
  first): the search network exposes them to LossNet (Yoo & Kweon 2019).

This module also holds AutoAL's SearchNet (a task-model backbone with a K-way head) and
LossNet (the loss-prediction module on SearchNet's feature maps).
"""

from __future__ import annotations

import inspect
import os
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


class Linear(nn.Module):
  """A linear (softmax-regression) head on the flattened input: the frozen-feature protocol
  of the recent AL benchmarks (a foundation model's or a self-supervised encoder's
  embeddings, a linear probe on top). The embedding is the input itself (D = its size), so
  the embedding-based strategies measure distances on the given features.

  Attributes:
    num_classes: C.
    dropout_rate: dropout on the features before the head (also the MC-dropout rate).
  """

  num_classes: int
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(
    self, x, train: bool = False, mc_dropout: bool = False, return_features: bool = False
  ):
    x = x.reshape((x.shape[0], -1))
    logits = _DropoutHead(self.num_classes, self.dropout_rate, name="head")(x, train or mc_dropout)
    return _outputs(logits, x, [x], return_features)


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


MODELS = {"small_cnn": SmallCNN, "resnet18": ResNet18, "mlp": MLP, "linear": Linear}

# The models that take inputs of any shape (they flatten them); the others need images.
ANY_SHAPE = ("mlp", "linear")


def is_image_shape(shape) -> bool:
  """Whether one input of ``shape`` is an image the convolutional models can take: (H, W,
  Ch) with H, W >= 4 (the small CNN pools twice)."""
  return len(shape) == 3 and shape[0] >= 4 and shape[1] >= 4


def search_backbone(name: str, input_shape) -> str:
  """SearchNet's backbone for inputs of ``input_shape``: ``auto`` follows the input (the
  small CNN on images, the MLP on anything else); any other name is kept."""
  if name != "auto":
    return name
  return "small_cnn" if is_image_shape(input_shape) else "mlp"


def check_input(model: nn.Module, input_shape, who: str, fix: str) -> None:
  """Raises ValueError, before any training, when ``model`` cannot take one input of
  ``input_shape`` (a shape too small for its pooling, features for a convolutional net);
  the message names ``who`` and the ``fix``."""
  try:
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, *input_shape), jnp.float32))
  except Exception as e:  # flax raises several types here (ZeroDivisionError, ValueError, ...)
    raise ValueError(
      f"{who} ({type(model).__name__}) cannot take inputs of shape {tuple(input_shape)} "
      f"({type(e).__name__}: {e}); {fix}"
    ) from None


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
  """Builds a registered task model by name (``small_cnn``, ``resnet18``, ``mlp``,
  ``linear``)."""
  if name not in MODELS:
    raise ValueError(f"Unknown model {name!r}. Valid models: {sorted(MODELS)}")
  if num_classes < 2:
    raise ValueError(f"num_classes must be >= 2, got {num_classes}")
  return MODELS[name](num_classes=num_classes, **kwargs)


class SearchNet(nn.Module):
  """AutoAL's search network: a task-model backbone with a K-way head (Wang et al. 2025).

  One logit per candidate strategy per sample; the relaxation (`autoal_jax.relaxation`)
  turns them into per-sample strategy weights. The backbone is any registered task model
  (`search_backbone`: the small CNN on images, the MLP on features; ResNet-18 on GPU/TPU)
  with ``num_classes = K``.

  Attributes:
    num_strategies: K (the candidates, plus one column when loss prediction is used).
    backbone: a name in `MODELS` (``auto`` resolved by `search_backbone`).
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
    # mc_dropout only when asked: a model without MC dropout still trains with a LossNet.
    extra = {"mc_dropout": True} if mc_dropout else {}
    logits, embedding, maps = self.model(x, train=train, return_features=True, **extra)
    if not (predict_loss or self.is_initializing()):
      return logits, embedding
    gate = jnp.asarray(loss_gate, jnp.float32)
    gated = [jax.lax.stop_gradient(m) + gate * (m - jax.lax.stop_gradient(m)) for m in maps]
    loss = LossNet(self.hidden, name="loss_net")(gated)
    return logits, embedding, loss


# The optional capabilities of a task model (docs/models.md): the keyword argument of
# ``__call__`` that provides each, and what a strategy needs it for.
CAPABILITIES = {
  "mc_dropout": "MC-dropout passes (dropout on, BatchNorm in inference mode)",
  "return_features": "intermediate feature maps for a LossNet (LL4AL)",
}


def capabilities(model: nn.Module) -> frozenset:
  """The optional capabilities ``model`` declares: the `CAPABILITIES` keyword arguments its
  ``__call__`` accepts (a ``**kwargs`` parameter counts as all of them)."""
  try:
    parameters = inspect.signature(type(model).__call__).parameters
  except (TypeError, ValueError):  # no signature to read: assume the protocol is met
    return frozenset(CAPABILITIES)
  if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
    return frozenset(CAPABILITIES)
  return frozenset(name for name in CAPABILITIES if name in parameters)


def check_capabilities(model: nn.Module, needs, who: str) -> None:
  """Raises ValueError, before any training, when ``model`` lacks a capability that
  ``needs`` (a `types.Needs`) asks for; ``who`` names what needs it in the message."""
  has = capabilities(model)
  missing = []
  if needs.mc and "mc_dropout" not in has:
    missing.append("mc_dropout")
  if needs.loss and "return_features" not in has:
    missing.append("return_features")
  if not missing:
    return
  what = "; ".join(f"{name}: {CAPABILITIES[name]}" for name in missing)
  raise ValueError(
    f"{who} needs what the task model {type(model).__name__} does not provide ({what}). "
    f"Add the keyword argument{'s' if len(missing) > 1 else ''} "
    f"{', '.join(repr(m) for m in missing)} to its __call__ as docs/models.md describes, "
    "or choose strategies (or candidates) that do not need it."
  )


def check_variables(model: nn.Module, variables, shapes, wrapped: bool = False) -> dict:
  """The task-model variables a run starts from, checked against the model's own.

  Args:
    model: the task model.
    variables: ``{"params": ..., "batch_stats": ...}`` (batch_stats only with BatchNorm).
    shapes: the shapes of a fresh `train.TrainState` (``jax.eval_shape`` of its init).
    wrapped: the trained network is `WithLossNet`: the model's variables sit under "model".

  Returns:
    ``{"params", "batch_stats"}`` as float arrays of the model's dtypes.

  Raises:
    ValueError: a missing, extra or differently shaped parameter, named.
  """
  if not isinstance(variables, dict) or "params" not in variables:
    raise ValueError("init_variables must be a dict with 'params' (and 'batch_stats' with BN)")
  want = {"params": shapes.params, "batch_stats": shapes.batch_stats}
  if wrapped:
    want = {"params": want["params"]["model"], "batch_stats": want["batch_stats"].get("model", {})}
  out = {}
  for part in ("params", "batch_stats"):
    given = variables.get(part, {}) or {}
    flat_want = dict(jax.tree_util.tree_flatten_with_path(want[part])[0])
    flat_given = dict(jax.tree_util.tree_flatten_with_path(given)[0])
    name = jax.tree_util.keystr
    model_name = type(model).__name__
    for path in sorted(set(flat_want) ^ set(flat_given), key=name):
      if path in flat_want:
        raise ValueError(
          f"the given variables lack {part}{name(path)} of the task model {model_name}"
        )
      raise ValueError(f"{part}{name(path)} is not a variable of the task model {model_name}")
    for path, leaf in flat_want.items():
      if tuple(jnp.shape(flat_given[path])) != tuple(leaf.shape):
        raise ValueError(
          f"{part}{name(path)} has shape {jnp.shape(flat_given[path])}, the task model "
          f"{model_name} expects {leaf.shape}"
        )
    out[part] = jax.tree.map(lambda g, w: jnp.asarray(g, w.dtype), given, want[part])
  return out


def load_variables(path: str, like: dict) -> dict:
  """A user's pretrained task-model variables from ``path``, shaped like ``like``.

  Args:
    path: a flax msgpack file (``flax.serialization.to_bytes`` of the variables; the name
      ends in .msgpack) or an orbax checkpoint folder (``StandardCheckpointer`` save).
    like: variables of the same model (``model.init(...)``) giving the tree and dtypes.

  Raises:
    FileNotFoundError: nothing at ``path`` (never a download).
  """
  from flax import serialization

  if not os.path.exists(path):
    raise FileNotFoundError(f"no pretrained weights at {path!r}")
  like = {k: v for k, v in like.items() if k in ("params", "batch_stats")}
  if os.path.isfile(path):
    with open(path, "rb") as f:
      return serialization.from_bytes(like, f.read())
  import orbax.checkpoint as ocp

  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
  with ocp.StandardCheckpointer() as checkpointer:
    return checkpointer.restore(os.path.abspath(path), abstract)
