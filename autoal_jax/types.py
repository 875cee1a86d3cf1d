"""Small immutable containers passed between the library's pure functions.

Shape alphabet (used in every docstring of the package): N pool samples, V validation
samples, K candidate strategies, C classes, D embedding size, T Monte-Carlo samples,
b query budget per round, H/W/Ch image height/width/channels.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np


class DatasetInfo(NamedTuple):
  """Metadata of a dataset, everything a model and the normaliser need.

  Attributes:
    name: the source the data came from (``fashion_mnist``, ``npz:/path``, ...).
    num_classes: C.
    image_shape: (H, W, Ch) of one image.
    mean: per-channel mean of the training images in [0, 1], length Ch.
    std: per-channel standard deviation of the training images in [0, 1], length Ch.
    class_names: optional human-readable class names, length C.
  """

  name: str
  num_classes: int
  image_shape: tuple[int, int, int]
  mean: tuple[float, ...]
  std: tuple[float, ...]
  class_names: tuple[str, ...] | None = None


class Dataset(NamedTuple):
  """Train (the active-learning pool) and test arrays on the host.

  Attributes:
    train_images: uint8[N, H, W, Ch], the pool.
    train_labels: int32[N] in [0, C).
    test_images: uint8[N_test, H, W, Ch].
    test_labels: int32[N_test] in [0, C).
    info: the `DatasetInfo`.
  """

  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray
  info: DatasetInfo


class PoolOutputs(NamedTuple):
  """One chunked forward pass of a task model over the pool.

  Attributes:
    logits: float32[N, C].
    probs: float32[N, C], softmax of the logits.
    embeddings: float32[N, D], the penultimate features (before dropout).
    mc_probs: float32[T, N, C] from T MC-dropout passes (BatchNorm in inference mode),
      or None when T = 0 was asked for.
    losses: float32[N], the loss a LossNet trained with the task model predicts (LL4AL;
      `TrainConfig.loss_prediction`), or None.
  """

  logits: jax.Array
  probs: jax.Array
  embeddings: jax.Array
  mc_probs: jax.Array | None = None
  losses: jax.Array | None = None


class Needs(NamedTuple):
  """What a strategy needs in its `PoolOutputs` beyond logits, probs and embeddings.

  Attributes:
    mc: T >= 2 MC-dropout passes (``mc_probs``); the task model must accept
      ``mc_dropout=True`` (docs/models.md).
    loss: predicted losses (``losses``) of a LossNet trained with the task model (LL4AL);
      the task model must accept ``return_features=True``.
  """

  mc: bool = False
  loss: bool = False

  def __or__(self, other: Needs) -> Needs:
    return Needs(self.mc or other.mc, self.loss or other.loss)


class Context(NamedTuple):
  """What a round knows when a strategy queries (a pytree of arrays).

  Attributes:
    outputs: the task model's `PoolOutputs` over the pool, with what the strategy's
      `Needs` declared; None in the context given to ``init`` (before any model).
    labeled: bool[N], the labeled mask.
    labels: int32[N], the labels of the labeled samples, -1 everywhere else (a strategy
      cannot read a label it has not bought).
    images: uint8[N, H, W, Ch], the pool (for strategies that train networks).
  """

  outputs: PoolOutputs | None
  labeled: jax.Array
  labels: jax.Array
  images: jax.Array


class QueryInfo(NamedTuple):
  """What a query reports besides its picks (host values, written to results.json).

  Attributes:
    weights: float[W], the strategy weights of a mixture: the mean weight per column over
      the picks (AutoAL), the arm probabilities of the draw (ALBL); length 0 for a single
      strategy. The column names are the strategy's ``weight_names``.
    arm: the index into ``weight_names`` of the arm a bandit drew, -1 for none.
    reward: the reward a bandit gave its previous arm, NaN for none.
    metrics: named float metrics of a strategy that trains networks (AutoAL's search).
    search_seconds: the part of the query spent training networks (AutoAL's search).
  """

  weights: np.ndarray = np.zeros(0, np.float32)
  arm: int = -1
  reward: float = float("nan")
  metrics: dict = {}
  search_seconds: float = 0.0
