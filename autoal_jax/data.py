"""Datasets as host arrays, and the on-device normalisation and augmentation.

`load_dataset` is the one entry point: it returns a `Dataset` (uint8 NHWC images or float32
features, int32 labels, a `DatasetInfo`) from

- ``fashion_mnist``: Debian's ``dataset-fashion-mnist`` idx files when present, else tfds;
- ``digits``: the UCI handwritten digits bundled with scikit-learn (1,797 8x8 images, 10
  classes; a fixed stratified split, 1,297 train and 500 test): a second real dataset
  that every install has offline;
- any tfds catalog name (``mnist``, ``cifar10``, ``cifar100``, ``svhn_cropped``, ...),
  read through ``tfds.data_source`` (no TensorFlow needed) and never downloaded;
- ``npz:PATH``: a file in MedMNIST's layout (``train_images``, ``train_labels``,
  ``test_images``, ``test_labels``), the inputs uint8 images or float features, and
  optionally ``train_embeddings`` (a fixed embedding of the pool, `Dataset.embeddings`);
- in-memory numpy arrays, through `from_arrays`.

Inputs are of two kinds (`DatasetInfo.kind`): ``images``, uint8 [N, H, W, Ch] normalised per
channel on device; and ``features``, float arrays of any shape [N, *F] (a foundation
model's or a self-supervised encoder's embeddings, a table, signals) standardised per
feature once, on the host, with the pool's statistics (the test set with the same ones),
and stored as float32. Augmentation (crop, flip) is for images only.

Missing data raises `DataNotFoundError` at once, saying how to get it: a test must never
wait on tfds' download retries.

`normalize` and `augment` are pure functions used inside the jitted training step, so an
image pool stays on device as uint8 (4x smaller than float32) and augmentation is seeded.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct

import chex
import jax
import jax.numpy as jnp
import numpy as np

from autoal_jax.types import Dataset, DatasetInfo

DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST_CLASSES = (
  "t-shirt/top",
  "trouser",
  "pullover",
  "dress",
  "coat",
  "sandal",
  "shirt",
  "sneaker",
  "bag",
  "ankle boot",
)


DIGITS_TEST_SIZE = 500


class DataNotFoundError(FileNotFoundError):
  """The data is not on this machine; the message says how to get it."""


def _read_idx(path: str) -> np.ndarray:
  """Reads an idx file (LeCun's MNIST format), gzipped or not."""
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rb") as f:
    raw = f.read()
  zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
  if zero != 0 or dtype_code != 0x08:
    raise ValueError(f"{path} is not an unsigned-byte idx file")
  shape = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
  data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
  if data.size != int(np.prod(shape)):
    raise ValueError(f"{path} is truncated: {data.size} bytes for shape {shape}")
  return data.reshape(shape)


def _load_idx_dir(directory: str) -> tuple[np.ndarray, ...]:
  def find(stem):
    for suffix in (".gz", ""):
      path = os.path.join(directory, stem + suffix)
      if os.path.exists(path):
        return path
    raise DataNotFoundError(f"{stem}[.gz] is missing in {directory}")

  train_x = _read_idx(find("train-images-idx3-ubyte"))[..., None]
  train_y = _read_idx(find("train-labels-idx1-ubyte"))
  test_x = _read_idx(find("t10k-images-idx3-ubyte"))[..., None]
  test_y = _read_idx(find("t10k-labels-idx1-ubyte"))
  return train_x, train_y, test_x, test_y


def _tfds_split_to_arrays(source, image_key: str, label_key: str):
  """Reads every record of a tfds random-access data source into two arrays."""
  n = len(source)
  images, labels = [], []
  chunk = 1024
  for start in range(0, n, chunk):
    keys = list(range(start, min(start + chunk, n)))
    try:
      records = source.__getitems__(keys)
    except (TypeError, AttributeError):  # mocked or older sources: one at a time
      records = [source[i] for i in keys]
    for record in records:
      images.append(np.asarray(record[image_key]))
      labels.append(int(record[label_key]))
  return np.stack(images), np.asarray(labels, dtype=np.int64)


def _load_tfds(name: str, data_dir: str | None):
  # Imported lazily: tfds costs about a second to import and the Debian path avoids it.
  import tensorflow_datasets as tfds

  get_help = (
    f"Prepare it once on a machine with network access, in array_record format:\n"
    f"  pip install tensorflow && tfds build {name} --file_format=array_record"
    + (f" --data_dir={data_dir}" if data_dir else "")
    + "\nthen pass its data_dir (default ~/tensorflow_datasets)."
  )
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    raise ValueError(
      f"Unknown dataset {name!r}. Valid: 'fashion_mnist', 'digits', 'npz:PATH', arrays through "
      "from_arrays(), or a tfds catalog name such as 'mnist', 'cifar10', 'cifar100', "
      "'svhn_cropped'."
    ) from None
  try:
    sources = tfds.data_source(name, split=["train", "test"], data_dir=data_dir, download=False)
  except Exception as e:  # tfds raises several types here; all mean 'not usable as is'.
    if not builder.is_prepared():
      raise DataNotFoundError(
        f"Dataset {name!r} is not prepared in {builder.data_dir}.\n{get_help}"
      ) from None
    raise DataNotFoundError(
      f"Dataset {name!r} is prepared but not readable without TensorFlow ({e}).\n{get_help}"
    ) from e
  features = builder.info.features
  image_key = "image" if "image" in features else next(iter(features))
  label_feature = features["label"]
  (train_x, train_y), (test_x, test_y) = (
    _tfds_split_to_arrays(s, image_key, "label") for s in sources
  )
  names = tuple(label_feature.names) if getattr(label_feature, "names", None) else None
  return train_x, train_y, test_x, test_y, int(label_feature.num_classes), names


def _load_digits():
  """scikit-learn's copy of the UCI optical-recognition digits (Alpaydin & Kaynak 1998),
  read from the package, never downloaded: 4-bit grey levels (0-16) scaled to uint8, split
  with a fixed seed, stratified by class."""
  from sklearn.datasets import load_digits  # a requirement; only this loader needs it
  from sklearn.model_selection import train_test_split

  digits = load_digits()
  images = np.clip(digits.images * 16, 0, 255).astype(np.uint8)
  labels = digits.target.astype(np.int32)
  return train_test_split(
    images, labels, test_size=DIGITS_TEST_SIZE, stratify=labels, random_state=0
  )


def _load_npz(path: str):
  if not os.path.exists(path):
    raise DataNotFoundError(
      f"{path} does not exist. Expected an .npz in MedMNIST's layout with train_images, "
      "train_labels, test_images, test_labels (e.g. `pip install medmnist` and its "
      "download, or numpy.savez of your own arrays)."
    )
  with np.load(path) as f:
    missing = {"train_images", "train_labels", "test_images", "test_labels"} - set(f.files)
    if missing:
      raise ValueError(f"{path} lacks {sorted(missing)}; it has {sorted(f.files)}")
    arrays = tuple(f[k] for k in ("train_images", "train_labels", "test_images", "test_labels"))
    return (*arrays, f["train_embeddings"] if "train_embeddings" in f.files else None)


IMAGES, FEATURES = "images", "features"
# The ranks a pool of inputs may have: [N, D] and [N, L, Ch] features, [N, H, W, Ch] images
# (or features of that shape), [N, T, H, W, Ch] volumes or clips of features.
INPUT_RANKS = {2, 3, 4, 5}


def input_kind(inputs: np.ndarray) -> str:
  """``images`` for uint8 arrays, ``features`` for floating ones (`DatasetInfo.kind`)."""
  return FEATURES if np.issubdtype(np.asarray(inputs).dtype, np.floating) else IMAGES


def _as_inputs(inputs: np.ndarray, what: str) -> np.ndarray:
  """uint8 images as [N, H, W, Ch] (a grey [N, H, W] gets its channel axis), or finite
  float features [N, *F] as they are; anything else is refused with what to do."""
  inputs = np.asarray(inputs)
  if np.issubdtype(inputs.dtype, np.floating):
    if inputs.ndim < 2:
      raise ValueError(f"{what}: float features must be [N, D] or [N, *F], got {inputs.shape}")
    bad = int(np.sum(~np.isfinite(inputs)))
    if bad:
      raise ValueError(f"{what} holds {bad} NaN or Inf values; features must be finite")
    return inputs
  if inputs.dtype != np.uint8:
    raise TypeError(
      f"{what} must be uint8 images in [0, 255] or float features, got dtype {inputs.dtype}"
    )
  if inputs.ndim == 3:  # grey images without a channel axis (MNIST-like, MedMNIST)
    inputs = inputs[..., None]
  if inputs.ndim != 4:
    raise ValueError(
      f"{what} must be uint8 images of rank 3 [N, H, W] or 4 [N, H, W, C], got "
      f"{inputs.shape}; pass other data as float features"
    )
  return inputs


def _chunked_moments(
  x: np.ndarray, reduce_shape, divisor: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
  """Mean and variance of ``x / divisor`` in float64 over all axes but
  ``reduce_shape``'s trailing ones, in chunks of samples (bounded memory)."""
  total = np.zeros(reduce_shape)
  total_sq = np.zeros(reduce_shape)
  for start in range(0, x.shape[0], 8192):
    chunk = x[start : start + 8192].reshape(-1, *reduce_shape).astype(np.float64) / divisor
    total += chunk.sum(0)
    total_sq += (chunk * chunk).sum(0)
  count = x.size // max(int(np.prod(reduce_shape)), 1)
  mean = total / count
  return mean, total_sq / count - mean * mean


def standardize_features(train: np.ndarray, test: np.ndarray):
  """Per-feature standardisation with the pool's statistics: float32 (train, test).

  A constant feature (std below 1e-6 of the largest) is centred and left unscaled.
  """
  mean, var = _chunked_moments(train, train.shape[1:])
  std = np.sqrt(np.maximum(var, 0.0))
  std = np.where(std > 1e-6 * max(float(std.max(initial=0.0)), 1e-30), std, 1.0)

  def apply(x):
    return ((x - mean) / std).astype(np.float32)

  return apply(train), apply(test)


def _as_labels(labels: np.ndarray, n: int, num_classes: int, what: str) -> np.ndarray:
  labels = np.asarray(labels)
  if labels.ndim == 2 and labels.shape[1] == 1:  # MedMNIST stores [N, 1]
    labels = labels[:, 0]
  if labels.ndim != 1 or labels.shape[0] != n:
    raise ValueError(f"{what} must have shape [{n}], got {labels.shape}")
  if not np.issubdtype(labels.dtype, np.integer):
    raise TypeError(f"{what} must be integers, got dtype {labels.dtype}")
  if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
    raise ValueError(
      f"{what} must lie in [0, {num_classes}), got values in [{labels.min()}, {labels.max()}]"
    )
  return labels.astype(np.int32)


def as_embeddings(embeddings, n: int, what: str = "embeddings") -> np.ndarray:
  """A fixed pool embedding as float32 [N, E] (finite), or a clear error."""
  embeddings = np.asarray(embeddings)
  if not np.issubdtype(embeddings.dtype, np.number) or embeddings.ndim != 2:
    raise ValueError(
      f"{what} must be a float array [N, E], got {embeddings.dtype} {embeddings.shape}"
    )
  if embeddings.shape[0] != n:
    raise ValueError(f"{what} has {embeddings.shape[0]} rows for a pool of {n}")
  bad = int(np.sum(~np.isfinite(embeddings)))
  if bad:
    raise ValueError(f"{what} holds {bad} NaN or Inf values")
  return embeddings.astype(np.float32)


def check_dataset(dataset: Dataset) -> None:
  """Raises a clear error if a `Dataset` breaks the layout `from_arrays` makes, or if a
  class has no sample in the pool (labels 1..C read as C + 1 classes, class 0 empty)."""
  info = dataset.info
  if dataset.embeddings is not None:
    as_embeddings(dataset.embeddings, dataset.train_labels.shape[0])
    if dataset.embeddings.dtype != np.float32:
      raise TypeError(f"embeddings must be float32, got {dataset.embeddings.dtype}")
  for split in ("train", "test"):
    images = getattr(dataset, f"{split}_images")
    labels = getattr(dataset, f"{split}_labels")
    if input_kind(images) != info.kind:
      raise TypeError(f"{split}_images are {input_kind(images)}, the info says {info.kind}")
    if info.kind == FEATURES and images.dtype != np.float32:
      raise TypeError(f"{split}_images: features must be float32, got {images.dtype}")
    _as_inputs(images, f"{split}_images")  # dtype and finiteness
    if images.shape[1:] != tuple(info.image_shape):
      raise ValueError(
        f"{split}_images must be [N, *{tuple(info.image_shape)}], got {images.shape}"
      )
    _as_labels(labels, images.shape[0], info.num_classes, f"{split}_labels")
  counts = np.bincount(np.asarray(dataset.train_labels), minlength=info.num_classes)
  empty = np.flatnonzero(counts == 0).tolist()
  if empty:
    shifted = " (1-based labels? shift them to 0..C-1)" if empty == [0] else ""
    raise ValueError(
      f"class{'es' if len(empty) > 1 else ''} {empty} of {info.num_classes} "
      f"ha{'ve' if len(empty) > 1 else 's'} no sample in the pool{shifted}; samples per "
      f"class: {counts.tolist()}. Labels must be 0..C-1 with every class in the pool."
    )


def fingerprint(dataset: Dataset) -> str:
  """SHA-256 of a dataset's arrays and info: a checkpoint made on other data is refused."""
  info = tuple(dataset.info)
  if dataset.info.kind == IMAGES:  # an image dataset's digest from before `kind` existed
    info = info[:-1]
  digest = hashlib.sha256(repr(info).encode())
  arrays = dataset[:4] if dataset.embeddings is None else (*dataset[:4], dataset.embeddings)
  for array in arrays:
    array = np.ascontiguousarray(array)
    digest.update(f"{array.dtype}{array.shape}".encode())
    digest.update(memoryview(array).cast("B"))
  return digest.hexdigest()


def imbalance(key: jax.Array, images, labels, num_classes: int, ratio: float):
  """Subsamples a dataset to an exponential (long-tailed) class profile.

  Class c keeps ``n_max * ratio ** (-c / (C - 1))`` samples, n_max being the size of the
  smallest class (so every class can be served), as in Cui et al. 2019's CIFAR-LT. Which
  samples are kept is drawn with ``key``; the kept samples stay in their original order.

  Args:
    key: PRNG key.
    images: [N, ...].
    labels: int[N] in [0, C).
    num_classes: C.
    ratio: most frequent / least frequent class size, >= 1.

  Returns:
    (images, labels) subsampled.
  """
  if ratio < 1:
    raise ValueError(f"imbalance_ratio must be >= 1, got {ratio}")
  counts = np.bincount(labels, minlength=num_classes)
  n_max = int(counts.min())
  keep_per_class = [
    max(1, int(n_max * ratio ** (-c / max(num_classes - 1, 1)))) for c in range(num_classes)
  ]
  order = np.asarray(jax.random.permutation(key, labels.shape[0]))
  keep = np.zeros(labels.shape[0], dtype=bool)
  for c in range(num_classes):
    members = order[labels[order] == c]
    keep[members[: keep_per_class[c]]] = True
  return images[keep], labels[keep]


def from_arrays(
  train_images,
  train_labels,
  test_images,
  test_labels,
  num_classes: int | None = None,
  name: str = "arrays",
  class_names: tuple[str, ...] | None = None,
  embeddings=None,
) -> Dataset:
  """Validates in-memory arrays and wraps them as a `Dataset`.

  Args:
    train_images: uint8[N, H, W] or [N, H, W, Ch] images, or float features [N, *F]
      (standardised per feature with the pool's statistics, stored as float32).
    train_labels: int[N] (or [N, 1]) in [0, C).
    test_images: of the same kind and shape as train.
    test_labels: int[N_test] in [0, C).
    num_classes: C; defaults to max label + 1.
    name: recorded in `DatasetInfo.name`.
    class_names: optional, length C.
    embeddings: optional float [N, E], a fixed embedding of the pool (a foundation
      model's, a self-supervised encoder's) on which the coverage and clustering
      strategies measure distances (`Dataset.embeddings`); stored as float32, as given.

  Returns:
    A `Dataset`: images with per-channel normalisation statistics of the pool; features
    standardised (their statistics then 0 and 1).
  """
  kind = input_kind(train_images)
  if input_kind(test_images) != kind:
    raise TypeError(
      f"train_images are {kind} but test_images are {input_kind(test_images)} (dtype "
      f"{np.asarray(test_images).dtype}); pass both as uint8 images or both as float features"
    )
  train_images = _as_inputs(train_images, "train_images")
  test_images = _as_inputs(test_images, "test_images")
  if train_images.shape[1:] != test_images.shape[1:]:
    raise ValueError(
      f"train and test inputs differ in shape: {train_images.shape[1:]} vs {test_images.shape[1:]}"
    )
  if num_classes is None:
    num_classes = int(max(np.max(train_labels), np.max(test_labels))) + 1
  train_labels = _as_labels(train_labels, train_images.shape[0], num_classes, "train_labels")
  test_labels = _as_labels(test_labels, test_images.shape[0], num_classes, "test_labels")
  if train_images.shape[0] == 0:
    raise ValueError("the training pool is empty")
  if kind == FEATURES:
    train_images, test_images = standardize_features(train_images, test_images)
    mean, std = np.zeros(1), np.ones(1)
  else:  # per-channel statistics in [0, 1] units over the whole pool
    mean, var = _chunked_moments(train_images, train_images.shape[-1:], 255.0)
    std = np.sqrt(np.maximum(var, 1e-12))
  info = DatasetInfo(
    name=name,
    num_classes=int(num_classes),
    image_shape=tuple(int(s) for s in train_images.shape[1:]),
    mean=tuple(float(m) for m in mean),
    std=tuple(float(s) for s in std),
    class_names=class_names,
    kind=kind,
  )
  if embeddings is not None:
    embeddings = as_embeddings(embeddings, train_images.shape[0])
  return Dataset(train_images, train_labels, test_images, test_labels, info, embeddings)


def subsample(key: jax.Array, dataset: Dataset, pool_size: int = 0, test_size: int = 0) -> Dataset:
  """A seeded random subset of the pool and/or the test set (0 keeps a split whole).

  The normalisation statistics are kept from the full training split.
  """
  pool_key, test_key = jax.random.split(key)

  def keep(k, n, size, what):
    if size <= 0:
      return slice(None)
    if size > n:
      raise ValueError(f"{what} ({size}) is larger than the split ({n})")
    return np.sort(np.asarray(jax.random.permutation(k, n))[:size])

  pool = keep(pool_key, dataset.train_labels.shape[0], pool_size, "pool_size")
  test = keep(test_key, dataset.test_labels.shape[0], test_size, "test_size")
  embeddings = None if dataset.embeddings is None else dataset.embeddings[pool]
  return Dataset(
    dataset.train_images[pool],
    dataset.train_labels[pool],
    dataset.test_images[test],
    dataset.test_labels[test],
    dataset.info,
    embeddings,
  )


def load_dataset(
  name: str,
  data_dir: str | None = None,
  imbalance_ratio: float = 1.0,
  seed: int = 0,
) -> Dataset:
  """Loads a dataset by name; see the module docstring for the sources.

  Args:
    name: ``fashion_mnist``, ``digits``, a tfds catalog name, or ``npz:PATH``.
    data_dir: for ``fashion_mnist`` a folder of idx files (default: Debian's, then tfds);
      for tfds names the tfds data_dir.
    imbalance_ratio: > 1 subsamples the training pool to an exponential class profile
      (`imbalance`); the test set stays balanced.
    seed: seeds the imbalance subsampling.

  Returns:
    A `Dataset`.

  Raises:
    DataNotFoundError: the data is not on this machine (immediately, with instructions).
    ValueError: unknown name or malformed data.
  """
  class_names, embeddings = None, None
  if name.startswith("npz:"):
    train_x, train_y, test_x, test_y, embeddings = _load_npz(name[len("npz:") :])
    num_classes = None
  elif name == "fashion_mnist":
    directory = data_dir or DEBIAN_FASHION_MNIST_DIR
    if os.path.isdir(directory) and any("idx" in f for f in os.listdir(directory)):
      train_x, train_y, test_x, test_y = _load_idx_dir(directory)
    else:
      try:
        train_x, train_y, test_x, test_y, _, _ = _load_tfds(name, data_dir)
      except DataNotFoundError as e:
        raise DataNotFoundError(
          f"Fashion-MNIST was found neither in {directory} nor through tfds. On Debian or "
          f"Ubuntu: `sudo apt-get install dataset-fashion-mnist` (files under "
          f"{DEBIAN_FASHION_MNIST_DIR}). Through tfds:\n{e}"
        ) from None
    num_classes = 10
    class_names = FASHION_MNIST_CLASSES
  elif name == "digits":
    train_x, test_x, train_y, test_y = _load_digits()
    num_classes = 10
  else:
    train_x, train_y, test_x, test_y, num_classes, class_names = _load_tfds(name, data_dir)
  dataset = from_arrays(
    train_x, train_y, test_x, test_y, num_classes, name, class_names, embeddings
  )
  if imbalance_ratio != 1.0:
    kept = imbalance(
      jax.random.key(seed),
      np.arange(dataset.train_labels.shape[0]),
      dataset.train_labels,
      dataset.info.num_classes,
      imbalance_ratio,
    )[0]
    images, labels = dataset.train_images[kept], dataset.train_labels[kept]
    dataset = from_arrays(
      images,
      labels,
      dataset.test_images,
      dataset.test_labels,
      dataset.info.num_classes,
      f"{name}(imbalance={imbalance_ratio:g})",
      class_names,
      None if dataset.embeddings is None else dataset.embeddings[kept],
    )
  return dataset


def normalize(images: jax.Array, mean, std) -> jax.Array:
  """uint8[..., H, W, Ch] -> float32 standardised per channel (mean/std in [0, 1] units);
  float32 features (standardised when the dataset was made: mean 0, std 1) pass through."""
  if images.dtype != jnp.uint8:
    chex.assert_type(images, jnp.float32)
    x = images
  else:
    x = images.astype(jnp.float32) / 255.0
  shape = (1,) * (x.ndim - 1) + (-1,)  # explicit: tests run with rank promotion raising
  return (x - jnp.asarray(mean, jnp.float32).reshape(shape)) / jnp.asarray(
    std, jnp.float32
  ).reshape(shape)


def augment(key: jax.Array, images: jax.Array, crop_padding: int, flip: bool) -> jax.Array:
  """Random crop after zero padding, and random horizontal flip, per image.

  Args:
    key: PRNG key.
    images: float32[B, H, W, Ch], already normalised (so zero padding is the mean colour).
    crop_padding: pixels of padding on each side before the random crop; 0 disables.
    flip: whether to flip each image left-right with probability 1/2.

  Returns:
    float32[B, H, W, Ch].
  """
  chex.assert_rank(images, 4)
  crop_key, flip_key = jax.random.split(key)
  batch, height, width, _ = images.shape
  if crop_padding > 0:
    p = crop_padding
    padded = jnp.pad(images, ((0, 0), (p, p), (p, p), (0, 0)))
    offsets = jax.random.randint(crop_key, (batch, 2), 0, 2 * p + 1)

    def crop(image, offset):
      return jax.lax.dynamic_slice(
        image, (offset[0], offset[1], 0), (height, width, image.shape[-1])
      )

    images = jax.vmap(crop)(padded, offsets)
  if flip:
    do_flip = jax.random.bernoulli(flip_key, 0.5, (batch, 1, 1, 1))
    images = jnp.where(do_flip, images[:, :, ::-1, :], images)
  return images
