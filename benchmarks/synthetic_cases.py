"""The synthetic suite's cases as data: small Gaussian-mixture tasks whose best candidate
is known (`benchmarks/search_synthetic.py` describes each and runs the suite on them).

No command-line flags here, so that commands with flags of their own (`benchmarks/sweep.py`,
which runs the cases as float-feature datasets) can import the cases: absl refuses a flag
name defined twice.
"""

from __future__ import annotations

import numpy as np

CASES = ("margin", "trap", "low_budget", "blobs")

SCALE = 20.0  # uint8 = 128 + 20 x: features in about [-6, 6]


def encode(x: np.ndarray) -> np.ndarray:
  return np.clip(np.rint(128.0 + SCALE * x), 0, 255).astype(np.uint8)[:, None, None, :]


def _bands(rng, n, dims):
  """Three classes in bands of the plane, split by two sine curves: dense everywhere, so
  the boundaries are where labels are worth most. Noise in the other dimensions.

  Returns (float32[n, dims], int32[n])."""
  plane = rng.uniform(-2.0, 2.0, (n, 2))
  curve = 0.7 * np.sin(2.0 * plane[:, 0])
  y = (plane[:, 1] > curve - 0.6).astype(np.int32) + (plane[:, 1] > curve + 0.6)
  x = np.concatenate([plane, 0.5 * rng.randn(n, dims - 2)], axis=1)
  return x.astype(np.float32), y.astype(np.int32)


BLOB_CENTRES = 1.5 * (
  np.stack(np.meshgrid(np.arange(4.0), np.arange(4.0)), -1).reshape(16, 2) - 1.5
)
BLOB_CLASS = np.random.RandomState(11).permutation(np.repeat(np.arange(4), 4))


def _blobs(rng, n):
  """Sixteen blobs on a 4 x 4 grid of the plane (spacing 1.5, spread 0.5), four of each
  class in a fixed scramble, noise in four more dimensions: (float32[n, 6], int32[n],
  each sample's blob int[n])."""
  c = rng.randint(0, 16, n)
  plane = BLOB_CENTRES[c] + 0.5 * rng.randn(n, 2)
  x = np.concatenate([plane, 0.5 * rng.randn(n, 4)], axis=1).astype(np.float32)
  return x, BLOB_CLASS[c].astype(np.int32), c


def blobs_pool(seed: int = 0):
  """The ``blobs`` case's pool as `make_case` draws it for data seed ``seed`` (its first
  draw), with each sample's blob: (float32[3000, 6] before encoding, int32[3000], int[3000])."""
  return _blobs(np.random.RandomState(1000 + seed), 3000)


def make_case(name: str, seed: int = 0):
  """A case's data and budget: (Dataset, ALConfig, TrainConfig, model kwargs)."""
  from autoal_jax import data, loop, train

  rng = np.random.RandomState(1000 + seed)
  if name in ("margin", "trap"):
    classes = 3

    def sample(n, trap):
      x, y = _bands(rng, n, 6)
      if trap:  # a quarter of the pool in one cluster, off the plane, labels at random
        m = n // 4
        x[:m] = np.array([3.5, 3.5, 0, 0, 0, 0], np.float32) + 0.5 * rng.randn(m, 6)
        y[:m] = rng.randint(0, classes, m)
      return encode(x), y

    train_x, train_y = sample(3000, name == "trap")
    test_x, test_y = sample(1000, False)
    budget = loop.ALConfig(num_initial=20, query_size=20, quota=200, num_mc=5)
  elif name == "blobs":
    classes = 4

    def sample(n, _):
      x, y, _ = _blobs(rng, n)
      return encode(x), y

    train_x, train_y = sample(3000, False)
    test_x, test_y = sample(1000, False)
    budget = loop.ALConfig(num_initial=20, query_size=20, quota=200, num_mc=5)
  elif name == "low_budget":
    classes, clusters = 10, 30
    centres = 4.0 * np.random.RandomState(11).randn(clusters, 6)
    cluster_class = np.arange(clusters) % classes

    def sample(n, outliers):
      c = rng.randint(0, clusters, n)
      x = centres[c] + 0.3 * rng.randn(n, 6)
      if outliers:  # a tenth scattered far out, of their nearest cluster's class
        m = n // 10
        x[:m] = 6.0 * rng.randn(m, 6)
        c[:m] = np.argmin(((x[:m, None] - centres[None]) ** 2).sum(-1), axis=1)
      return encode(x.astype(np.float32)), cluster_class[c].astype(np.int32)

    train_x, train_y = sample(3000, True)
    test_x, test_y = sample(1000, False)
    budget = loop.ALConfig(num_initial=10, query_size=10, quota=60, num_mc=5)
  else:
    raise ValueError(f"Unknown case {name!r}. Valid cases: {list(CASES)}")
  dataset = data.from_arrays(train_x, train_y, test_x, test_y, classes, name=f"synthetic-{name}")
  training = train.TrainConfig(batch_size=32, epochs=30, min_steps=150, learning_rate=3e-3)
  return dataset, budget, training, {"hidden": (64, 64)}


def decode(images) -> np.ndarray:
  """The float features [n, D] of a case's uint8 [n, 1, 1, D] "images" (`encode`'s inverse
  up to its rounding)."""
  return ((np.asarray(images, np.float32) - 128.0) / SCALE).reshape(len(images), -1)
