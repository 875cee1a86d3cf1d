"""Pool embeddings fixed for a run: what the coverage and clustering strategies measure
distances on, instead of the task model's embedding trained on the few labels it is meant
to help choose (`Dataset.embeddings`, `PoolOutputs.pool_embeddings`).

The published low-budget results (TypiClust, ProbCover, DCoM, Uncertainty Herding) use
embeddings that do not depend on the labels: a self-supervised encoder's (SimCLR) or a
foundation model's. The options (`attach`, ``--config.embeddings``):

- ``model``: none fixed; the task model's embedding of each round (the library's default
  before this module).
- ``npz:PATH``: a user's array, ``embeddings`` (or ``train_embeddings``, as a dataset's
  own npz may hold them) [N, E] in the file, a row per sample of the training split (or
  ``from_arrays(..., embeddings=)``).
- ``pca`` / ``pca:DIM``: the top DIM (default 50) principal components of the pool's
  inputs (normalised pixels or standardised features), fitted on the pool.
- ``ssl``: a SimCLR encoder (Chen et al. 2020: two augmented views per image, the NT-Xent
  loss on a projection head, the embedding before the head) trained once on the
  unlabeled pool (labels are never read) with `SSLConfig`; images only.

`attach` caches what it computes under a key of the pool's fingerprint and the option's
config, so every strategy and seed of an experiment, and every later experiment on the
same pool, reuses it.

`as_features` goes one step further, to the frozen-feature protocol of the recent AL
benchmarks (a linear or MLP head on fixed embeddings): the task model's inputs themselves,
pool and test set, become the embedding (``pca`` / ``pca:DIM`` / ``ssl``, fitted on the
pool), as float features (``--config.inputs``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import time
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from autoal_jax import data as data_lib
from autoal_jax import models
from autoal_jax.types import Dataset

PCA_DIM = 50


class SSLConfig(NamedTuple):
  """SimCLR on the pool (`simclr`).

  Attributes:
    steps: optimiser steps (each on ``batch_size`` images, two views of each).
    batch_size: images per step (2 x that many encoder passes).
    learning_rate: Adam's peak rate, cosine-decayed to 0.
    temperature: NT-Xent's temperature (0.5: SimCLR's for small batches).
    features: the encoder's conv widths (`models.SmallCNN` stages).
    embedding_dim: D of the embedding kept.
    projection_dim: the projection head's output (the loss's space).
    min_crop: the smallest crop's side as a fraction of the image's (random resized crop).
    seed: the encoder's initialisation, batches and augmentations.
  """

  steps: int = 600
  batch_size: int = 128
  learning_rate: float = 2e-3
  temperature: float = 0.5
  features: tuple = (32, 64)
  embedding_dim: int = 128
  projection_dim: int = 64
  min_crop: float = 0.6
  seed: int = 0


class _SimCLRNet(nn.Module):
  """The small CNN's backbone (its embedding) and a two-layer projection head."""

  features: tuple
  embedding_dim: int
  projection_dim: int

  @nn.compact
  def __call__(self, x, project: bool = True):
    for width in self.features:
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
    embedding = nn.relu(nn.Dense(self.embedding_dim)(x.reshape((x.shape[0], -1))))
    if not project:
      return embedding
    hidden = nn.relu(nn.Dense(self.embedding_dim)(embedding))
    return nn.Dense(self.projection_dim)(hidden)


def _view(key: jax.Array, image: jax.Array, min_crop: float) -> jax.Array:
  """One augmented view of a normalised image [H, W, Ch]: random resized crop, flip,
  brightness and contrast jitter, Gaussian noise (SimCLR's, without colour for grey)."""
  crop_key, pos_key, flip_key, jitter_key, noise_key = jax.random.split(key, 5)
  h, w, ch = image.shape
  side = jax.random.uniform(crop_key, (), minval=min_crop, maxval=1.0)
  offset = jax.random.uniform(pos_key, (2,)) * (1.0 - side) * jnp.array([h, w], jnp.float32)
  scale = 1.0 / side
  view = jax.image.scale_and_translate(
    image, (h, w, ch), (0, 1), jnp.array([scale, scale]), -offset * scale, method="linear"
  )
  view = jnp.where(jax.random.bernoulli(flip_key), view[:, ::-1], view)
  contrast, brightness = jax.random.uniform(jitter_key, (2,), minval=-0.4, maxval=0.4)
  view = view * (1.0 + contrast) + brightness
  return view + 0.1 * jax.random.normal(noise_key, view.shape)


def nt_xent(z1: jax.Array, z2: jax.Array, temperature: float) -> jax.Array:
  """SimCLR's loss: each view's positive is the other view of its image among the 2B - 1
  others (cosine similarities / temperature). z1, z2 float32[B, P] -> scalar."""
  z = jnp.concatenate([z1, z2], axis=0)
  z = z / jnp.maximum(jnp.linalg.norm(z, axis=-1, keepdims=True), 1e-12)
  logits = z @ z.T / temperature
  n = z1.shape[0]
  logits = jnp.where(jnp.eye(2 * n, dtype=bool), -jnp.inf, logits)
  positive = jnp.concatenate([jnp.arange(n) + n, jnp.arange(n)])
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, positive))


def simclr(dataset: Dataset, config: SSLConfig | None = None, log=None):
  """Trains a SimCLR encoder on the pool's images (never their labels).

  Args:
    dataset: an image `Dataset` (the pool is ``train_images``).
    config: `SSLConfig`.
    log: optional ``log(step, loss)`` every 100 steps.

  Returns:
    ``embed(images uint8[M, H, W, Ch]) -> float32[M, D]``, the trained encoder.
  """
  config = SSLConfig() if config is None else config
  info = dataset.info
  if info.kind != data_lib.IMAGES or not models.is_image_shape(info.image_shape):
    raise ValueError(
      f"ssl trains a convolutional encoder on images; these inputs are {info.kind} of shape "
      f"{tuple(info.image_shape)} (use 'model', 'pca' or a user's embeddings)"
    )
  net = _SimCLRNet(config.features, config.embedding_dim, config.projection_dim)
  key = jax.random.key(config.seed)
  init_key, data_key = jax.random.split(key)
  params = net.init(init_key, jnp.zeros((1, *info.image_shape), jnp.float32))["params"]
  # Adam with its rate set every step (cosine decay to 0), as `train.make_optimizer`
  # does: one compiled step for the whole run.
  tx = optax.inject_hyperparams(lambda learning_rate: optax.adam(learning_rate))(
    learning_rate=config.learning_rate
  )
  opt_state = tx.init(params)
  pool = jnp.asarray(dataset.train_images)
  stats = dict(mean=tuple(info.mean), std=tuple(info.std))
  views = jax.vmap(functools.partial(_view, min_crop=config.min_crop))

  @jax.jit
  def step(params, opt_state, key, i):
    progress = jnp.minimum(i.astype(jnp.float32) / max(config.steps, 1), 1.0)
    rate = config.learning_rate * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
    opt_state.hyperparams["learning_rate"] = rate
    batch_key, view1_key, view2_key = jax.random.split(key, 3)
    index = jax.random.choice(batch_key, pool.shape[0], (config.batch_size,), replace=False)
    x = data_lib.normalize(pool[index], **stats)
    x1 = views(jax.random.split(view1_key, config.batch_size), x)
    x2 = views(jax.random.split(view2_key, config.batch_size), x)

    def loss_fn(p):
      z = net.apply({"params": p}, jnp.concatenate([x1, x2]))
      return nt_xent(z[: config.batch_size], z[config.batch_size :], config.temperature)

    loss, grads = jax.value_and_grad(loss_fn)(params)
    with jax.numpy_dtype_promotion("standard"):  # as `train.apply_updates`: optax's
      updates, opt_state = tx.update(grads, opt_state, params)  # bias correction
    return optax.apply_updates(params, updates), opt_state, loss

  for i in range(config.steps):
    params, opt_state, loss = step(params, opt_state, jax.random.fold_in(data_key, i), i)
    if log is not None and (i + 1) % 100 == 0:
      log(i + 1, float(loss))

  @jax.jit
  def embed_chunk(x):
    return net.apply({"params": params}, data_lib.normalize(x, **stats), project=False)

  def embed(images) -> np.ndarray:
    return np.concatenate(
      [
        np.asarray(embed_chunk(jnp.asarray(images[i : i + 1024])))
        for i in range(0, len(images), 1024)
      ]
    )

  return embed


def _flat_inputs(inputs: np.ndarray, info) -> np.ndarray:
  """The inputs as float32 [M, P], normalised as the models see them (`data.normalize`:
  images per channel, standardised features as they are), in chunks."""
  chunks = [
    np.asarray(data_lib.normalize(jnp.asarray(inputs[i : i + 8192]), info.mean, info.std))
    for i in range(0, len(inputs), 8192)
  ]
  return np.concatenate(chunks).reshape(len(inputs), -1)


def pca(dataset: Dataset, dim: int = PCA_DIM):
  """The top ``dim`` principal components of the pool's inputs (fitted on the pool).

  Returns:
    ``project(inputs[M, ...]) -> float32[M, dim]``.
  """
  x = _flat_inputs(dataset.train_images, dataset.info)
  if not 1 <= dim <= x.shape[1]:
    raise ValueError(f"pca:DIM must be in [1, {x.shape[1]}], got {dim}")
  mean = x.mean(0, dtype=np.float64)
  covariance = np.zeros((x.shape[1], x.shape[1]))
  for start in range(0, x.shape[0], 8192):
    chunk = x[start : start + 8192].astype(np.float64) - mean
    covariance += chunk.T @ chunk
  _, vectors = np.linalg.eigh(covariance / max(x.shape[0] - 1, 1))
  basis = vectors[:, ::-1][:, :dim].astype(np.float32)  # eigh sorts ascending
  mean = mean.astype(np.float32)

  def project(inputs) -> np.ndarray:
    return (_flat_inputs(inputs, dataset.info) - mean) @ basis

  return project


def _user(path: str, n: int) -> np.ndarray:
  if not os.path.exists(path):
    raise data_lib.DataNotFoundError(f"{path} does not exist (expected an .npz with 'embeddings')")
  with np.load(path) as f:
    name = next((k for k in ("embeddings", "train_embeddings") if k in f.files), None)
    if name is None:
      raise ValueError(f"{path} lacks 'embeddings' [N, E]; it has {sorted(f.files)}")
    return data_lib.as_embeddings(f[name], n, f"{path}:{name}")


OPTIONS = ("model", "npz:PATH", "pca", "pca:DIM", "ssl")


def parse(spec: str) -> tuple[str, int]:
  """('model' | 'npz' | 'pca' | 'ssl', pca's dim); a clear error for anything else.

  A bare ``pca`` asks for PCA_DIM components, or every one where the inputs have fewer
  (`pca_dim`); ``pca:DIM`` for exactly DIM."""
  if spec in ("model", "ssl"):
    return spec, 0
  if spec == "pca":
    return "pca", PCA_DIM
  if spec.startswith("pca:") and spec[4:].isdigit():
    return "pca", int(spec[4:])
  if spec.startswith("npz:") and len(spec) > 4:
    return "npz", 0
  raise ValueError(f"Unknown embeddings {spec!r}. Valid: {list(OPTIONS)}")


def pca_dim(dataset: Dataset, spec: str) -> int:
  """The components ``spec`` (``pca`` or ``pca:DIM``) takes on this dataset: DIM as given,
  or for a bare ``pca`` PCA_DIM capped at the inputs' size (a 6-feature table gets its 6)."""
  _, dim = parse(spec)
  if spec == "pca":
    dim = min(dim, int(np.prod(dataset.train_images.shape[1:])))
  return dim


def cache_key(dataset: Dataset, spec: str, ssl_config: SSLConfig | None = None) -> str:
  """The cache entry of ``spec`` on this dataset: its fingerprint (pool and test set, its
  embeddings left out) and the option's config."""
  pool = data_lib.fingerprint(dataset._replace(embeddings=None))
  detail = repr(tuple(ssl_config or SSLConfig())) if spec == "ssl" else ""
  return hashlib.sha256(f"{pool}|{spec}|{detail}".encode()).hexdigest()[:32]


def attach(
  dataset: Dataset,
  spec: str,
  cache_dir: str | None = None,
  ssl_config: SSLConfig | None = None,
  log=print,
) -> Dataset:
  """``dataset`` with the pool embedding ``spec`` names (`Dataset.embeddings`).

  Args:
    dataset: the pool (after any subsampling: the embedding is of these rows).
    spec: ``model`` (none: returns the dataset without one), ``npz:PATH``, ``pca``,
      ``pca:DIM`` or ``ssl``.
    cache_dir: where computed embeddings are kept (``pca``, ``ssl``) under `cache_key`;
      None: not cached.
    ssl_config: `SSLConfig` for ``ssl`` (None: its defaults).
    log: progress messages (None: silent).

  Returns:
    The `Dataset` with ``embeddings`` float32 [N, E] (None for ``model``).
  """
  kind, _ = parse(spec)
  n = dataset.train_labels.shape[0]
  if kind == "model":
    return dataset._replace(embeddings=None)
  if kind == "npz":
    return dataset._replace(embeddings=_user(os.path.expanduser(spec[4:]), n))
  path = None
  if cache_dir:
    cache_dir = os.path.expanduser(cache_dir)
    path = os.path.join(cache_dir, f"{kind}-{cache_key(dataset, spec, ssl_config)}.npy")
    if os.path.exists(path):
      return dataset._replace(embeddings=data_lib.as_embeddings(np.load(path), n, path))
  start = time.perf_counter()
  if kind == "pca":
    embeddings = pca(dataset, pca_dim(dataset, spec))(dataset.train_images)
  else:
    progress = None if log is None else (lambda i, loss: log(f"  ssl step {i}: loss {loss:.3f}"))
    embeddings = simclr(dataset, ssl_config, progress)(dataset.train_images)
  if log is not None:
    log(f"embeddings {spec}: {embeddings.shape} in {time.perf_counter() - start:.1f} s")
  if path is not None:
    _store(path, lambda f: np.save(f, embeddings))
  return dataset._replace(embeddings=data_lib.as_embeddings(embeddings, n))


def _store(path: str, write) -> None:
  """``write(file)`` into the cache entry ``path``, atomically: a killed run leaves no
  half-written entry."""
  folder = os.path.dirname(path)
  os.makedirs(folder, exist_ok=True)
  with tempfile.NamedTemporaryFile(dir=folder, suffix=os.path.splitext(path)[1], delete=False) as f:
    write(f)
  os.replace(f.name, path)


FEATURE_OPTIONS = ("raw", "pca", "pca:DIM", "ssl")


def as_features(
  dataset: Dataset,
  spec: str,
  cache_dir: str | None = None,
  ssl_config: SSLConfig | None = None,
  log=print,
  keep_embedding: bool = False,
) -> Dataset:
  """The frozen-feature protocol: ``dataset`` with its pool and test inputs replaced by a
  fixed embedding of them, as float features, for a ``linear`` or ``mlp`` task model.

  The features are centred with the pool's mean and divided by one scale (the pool's root
  mean square per entry), not standardised per component as `data.from_arrays` does with
  a user's features: the embedding's geometry is kept. Per-component standardisation
  whitens a PCA, and at a few labels its trailing, noisy components then weigh as much as
  the first ones.

  The map is fitted on the pool's inputs only, labels never read (``pca`` / ``pca:DIM``:
  the principal components; ``ssl``: a SimCLR encoder, images only), then applied to the
  pool and the test set alike. The dataset's own fixed embedding (``npz:PATH`` rows), if
  any, is kept, unless ``keep_embedding``.

  ``keep_embedding`` stores the pool's embedding as it came (before centring and scaling)
  as `Dataset.embeddings`, where the coverage and clustering strategies measure
  (``--config.embeddings=inputs``).

  Args:
    dataset: the pool and test set (after any subsampling and imbalance).
    spec: ``raw`` (returns ``dataset`` unchanged), ``pca``, ``pca:DIM`` or ``ssl``.
    cache_dir: where the embedded pool and test set are kept, under the `cache_key` of
      the dataset (its test set included) and the option; None: not cached.
    ssl_config: `SSLConfig` for ``ssl`` (None: its defaults).
    log: progress messages (None: silent).
    keep_embedding: `Dataset.embeddings` = the pool's embedding before standardisation.

  Returns:
    A `Dataset` of float features [N, E] (``info.kind`` 'features'), named
    ``NAME[SPEC]``.
  """
  if spec == "raw":
    return dataset
  kind, _ = parse(spec)
  if kind not in ("pca", "ssl"):
    raise ValueError(f"Unknown inputs {spec!r}. Valid: {list(FEATURE_OPTIONS)}")
  path = None
  if cache_dir:  # the key covers the test set too (the fingerprint's arrays)
    key = cache_key(dataset, spec, ssl_config)
    path = os.path.join(os.path.expanduser(cache_dir), f"features-{kind}-{key}.npz")
  if path is not None and os.path.exists(path):
    with np.load(path) as f:
      train, test = f["train"], f["test"]
  else:
    start = time.perf_counter()
    if kind == "pca":
      embed = pca(dataset, pca_dim(dataset, spec))
    else:
      progress = None if log is None else (lambda i, loss: log(f"  ssl step {i}: loss {loss:.3f}"))
      embed = simclr(dataset, ssl_config, progress)
    train, test = embed(dataset.train_images), embed(dataset.test_images)
    if log is not None:
      log(f"inputs {spec}: {train.shape[1]} features in {time.perf_counter() - start:.1f} s")
    if path is not None:
      _store(path, lambda f: np.savez(f, train=train, test=test))
  info = dataset.info
  features = data_lib.from_arrays(  # validated (and standardised: replaced below)
    train.astype(np.float32),
    dataset.train_labels,
    test.astype(np.float32),
    dataset.test_labels,
    info.num_classes,
    name=f"{info.name}[{spec}]",
    class_names=info.class_names,
    embeddings=train.astype(np.float32) if keep_embedding else dataset.embeddings,
  )
  mean = train.mean(0, dtype=np.float64)
  scale = max(float(np.sqrt(np.mean((train - mean) ** 2))), 1e-12)
  return features._replace(
    train_images=((train - mean) / scale).astype(np.float32),
    test_images=((test - mean) / scale).astype(np.float32),
  )
