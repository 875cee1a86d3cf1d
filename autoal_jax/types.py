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
