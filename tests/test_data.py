import gzip
import struct
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import data
from tests.conftest import needs_fashion_mnist, synthetic_arrays


def _write_idx(path, array):
  header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(
    ">" + "I" * array.ndim, *array.shape
  )
  with gzip.open(path, "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_idx_files_from_a_folder(tmp_path):
  rng = np.random.RandomState(0)
  arrays = {
    "train-images-idx3-ubyte.gz": rng.randint(0, 256, (30, 28, 28)),
    "train-labels-idx1-ubyte.gz": np.arange(30) % 10,
    "t10k-images-idx3-ubyte.gz": rng.randint(0, 256, (10, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": np.arange(10),
  }
  for name, array in arrays.items():
    _write_idx(tmp_path / name, array)
  ds = data.load_dataset("fashion_mnist", data_dir=str(tmp_path))
  assert ds.train_images.shape == (30, 28, 28, 1) and ds.train_images.dtype == np.uint8
  assert ds.test_labels.dtype == np.int32
  np.testing.assert_array_equal(ds.train_images[..., 0], arrays["train-images-idx3-ubyte.gz"])
  np.testing.assert_array_equal(ds.test_labels, np.arange(10))
  assert ds.info.num_classes == 10 and ds.info.image_shape == (28, 28, 1)
  assert ds.info.class_names[0] == "t-shirt/top"
  expected_mean = arrays["train-images-idx3-ubyte.gz"].mean() / 255
  assert ds.info.mean[0] == pytest.approx(expected_mean, rel=1e-9)


def test_truncated_idx_file_is_an_error(tmp_path):
  path = tmp_path / "x.gz"
  with gzip.open(path, "wb") as f:
    f.write(struct.pack(">HBBI", 0, 8, 1, 100) + b"\x00" * 10)
  with pytest.raises(ValueError, match="truncated"):
    data._read_idx(str(path))


@needs_fashion_mnist
def test_debian_fashion_mnist_is_complete():
  ds = data.load_dataset("fashion_mnist")
  assert ds.train_images.shape == (60000, 28, 28, 1)
  assert ds.test_images.shape == (10000, 28, 28, 1)
  assert np.bincount(ds.train_labels).tolist() == [6000] * 10


def test_digits_are_bundled_and_split_the_same_way_every_time():
  ds = data.load_dataset("digits")  # scikit-learn's copy: no download, no network
  assert ds.train_images.shape == (1297, 8, 8, 1) and ds.train_images.dtype == np.uint8
  assert ds.test_images.shape == (500, 8, 8, 1) and ds.test_labels.dtype == np.int32
  assert ds.info.num_classes == 10 and ds.info.image_shape == (8, 8, 1)
  assert ds.train_images.max() == 255 and ds.train_images.min() == 0  # 0-16 scaled by 16
  assert np.bincount(ds.test_labels).min() >= 48  # stratified: 48-51 of each digit
  again = data.load_dataset("digits")
  assert np.array_equal(again.test_images, ds.test_images)
  assert np.array_equal(again.train_labels, ds.train_labels)


@pytest.mark.parametrize(
  "name, shape, classes",
  [("mnist", (28, 28, 1), 10), ("cifar10", (32, 32, 3), 10), ("cifar100", (32, 32, 3), 100)],
)
def test_tfds_data_source_with_mock_data(name, shape, classes):
  import tensorflow_datasets as tfds

  with tfds.testing.mock_data(num_examples=7):
    ds = data.load_dataset(name)
  assert ds.train_images.shape == (7, *shape) and ds.train_images.dtype == np.uint8
  assert ds.train_labels.dtype == np.int32 and ds.test_labels.shape == (7,)
  assert ds.info.num_classes == classes and ds.info.image_shape == shape
  assert ((ds.train_labels >= 0) & (ds.train_labels < classes)).all()


def test_unprepared_tfds_dataset_fails_fast_with_instructions(tmp_path):
  start = time.perf_counter()
  with pytest.raises(data.DataNotFoundError, match="tfds build mnist"):
    data.load_dataset("mnist", data_dir=str(tmp_path))
  assert time.perf_counter() - start < 30  # never tfds' 204 s of download retries


def test_fashion_mnist_missing_everywhere_says_how_to_get_it(tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(data.DataNotFoundError, match="apt-get install dataset-fashion-mnist"):
    data.load_dataset("fashion_mnist", data_dir=str(empty))


def test_unknown_dataset_lists_the_valid_sources(tmp_path):
  with pytest.raises(ValueError, match="Unknown dataset 'not_a_dataset'.*fashion_mnist"):
    data.load_dataset("not_a_dataset", data_dir=str(tmp_path))


def test_npz_in_medmnist_layout(tmp_path):
  train_x, train_y, test_x, test_y = synthetic_arrays(50, 20, (28, 28, 1), 4)
  path = tmp_path / "organcmnist.npz"
  np.savez(
    path,
    train_images=train_x[..., 0],
    train_labels=train_y[:, None],
    test_images=test_x[..., 0],
    test_labels=test_y[:, None],
  )
  ds = data.load_dataset(f"npz:{path}")
  assert ds.train_images.shape == (50, 28, 28, 1) and ds.train_labels.shape == (50,)
  np.testing.assert_array_equal(ds.train_labels, train_y)
  assert ds.info.num_classes == 4


def test_npz_missing_file_and_missing_keys(tmp_path):
  with pytest.raises(data.DataNotFoundError, match="does not exist"):
    data.load_dataset(f"npz:{tmp_path / 'nope.npz'}")
  path = tmp_path / "bad.npz"
  np.savez(path, train_images=np.zeros((2, 4, 4), np.uint8))
  with pytest.raises(ValueError, match="lacks"):
    data.load_dataset(f"npz:{path}")


def test_from_arrays_validates_inputs():
  train_x, train_y, test_x, test_y = synthetic_arrays(20, 10, (8, 8, 3), 3)
  ds = data.from_arrays(train_x, train_y, test_x, test_y)
  assert ds.info.num_classes == 3 and ds.info.image_shape == (8, 8, 3)
  assert len(ds.info.mean) == 3
  with pytest.raises(TypeError, match="uint8"):
    data.from_arrays(train_x.astype(np.float32), train_y, test_x, test_y)
  with pytest.raises(ValueError, match="rank"):
    data.from_arrays(train_x[None], train_y, test_x, test_y)
  with pytest.raises(ValueError, match=r"\[0, 3\)"):
    data.from_arrays(train_x, train_y + 5, test_x, test_y, num_classes=3)
  with pytest.raises(ValueError, match=r"\[0, 3\)"):
    data.from_arrays(train_x, train_y - 1, test_x, test_y, num_classes=3)
  with pytest.raises(ValueError, match="differ in shape"):
    data.from_arrays(train_x, train_y, test_x[:, :4], test_y)
  with pytest.raises(TypeError, match="integers"):
    data.from_arrays(train_x, train_y.astype(np.float32), test_x, test_y)


def test_check_dataset_catches_hand_built_datasets(synthetic):
  data.check_dataset(synthetic)
  with pytest.raises(ValueError, match=r"must be \[N, \*\(12, 12, 1\)\]"):
    data.check_dataset(synthetic._replace(train_images=synthetic.train_images[..., 0]))
  with pytest.raises(TypeError, match="are features, the info says images"):
    data.check_dataset(synthetic._replace(test_images=synthetic.test_images.astype(np.float32)))
  with pytest.raises(ValueError, match=r"\[0, 4\)"):
    data.check_dataset(synthetic._replace(test_labels=synthetic.test_labels + 4))


def test_imbalance_follows_an_exponential_profile(key):
  labels = np.repeat(np.arange(5), 200).astype(np.int32)
  images = np.arange(1000, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 1), np.uint8)
  kept_x, kept_y = data.imbalance(key, images, labels, 5, ratio=10.0)
  counts = np.bincount(kept_y, minlength=5)
  expected = [int(200 * 10 ** (-c / 4)) for c in range(5)]
  assert counts.tolist() == expected  # [200, 112, 63, 35, 20]
  again = data.imbalance(key, images, labels, 5, ratio=10.0)[1]
  np.testing.assert_array_equal(kept_y, again)
  other = data.imbalance(jax.random.key(1), images, labels, 5, ratio=10.0)[0]
  assert not np.array_equal(kept_x, other)
  with pytest.raises(ValueError):
    data.imbalance(key, images, labels, 5, ratio=0.5)


def test_load_dataset_with_imbalance_keeps_test_balanced(tmp_path):
  train_x, train_y, test_x, test_y = synthetic_arrays(400, 40, (6, 6, 1), 4)
  path = tmp_path / "d.npz"
  np.savez(path, train_images=train_x, train_labels=train_y, test_images=test_x, test_labels=test_y)
  ds = data.load_dataset(f"npz:{path}", imbalance_ratio=5.0)
  counts = np.bincount(ds.train_labels, minlength=4)
  assert counts[0] > counts[-1] and counts[0] / counts[-1] == pytest.approx(5.0, rel=0.1)
  assert ds.test_labels.shape == (40,)


def test_subsample(synthetic, key):
  small = data.subsample(key, synthetic, pool_size=50, test_size=30)
  assert small.train_images.shape[0] == 50 and small.test_labels.shape == (30,)
  assert small.info == synthetic.info
  with pytest.raises(ValueError, match="pool_size"):
    data.subsample(key, synthetic, pool_size=10_000)


def test_normalize_and_augment(key):
  images = jnp.asarray(np.random.RandomState(0).randint(0, 256, (4, 8, 8, 3)), jnp.uint8)
  x = data.normalize(images, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
  np.testing.assert_allclose(x, (np.asarray(images) / 255 - 0.5) / 0.25, atol=1e-5)
  np.testing.assert_array_equal(data.augment(key, x, 0, flip=False), x)
  out = data.augment(key, x, 2, flip=True)
  assert out.shape == x.shape
  np.testing.assert_array_equal(out, data.augment(key, x, 2, flip=True))  # seeded
  # 32 images: each flipped one is itself or its mirror image, and both happen.
  images = jnp.asarray(np.random.RandomState(1).randint(0, 256, (32, 8, 8, 3)), jnp.uint8)
  x = data.normalize(images, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
  flipped = np.asarray(data.augment(key, x, 0, flip=True))
  mirrored = [np.array_equal(flipped[i], x[i, :, ::-1]) for i in range(32)]
  kept = [np.array_equal(flipped[i], x[i]) for i in range(32)]
  assert all(a or b for a, b in zip(mirrored, kept, strict=True)) and any(mirrored) and any(kept)
  # Each crop is an 8x8 window of the zero-padded image, and windows other than the centre
  # (no shift) happen.
  cropped = np.asarray(data.augment(key, x, 2, flip=False))
  padded = np.pad(np.asarray(x), ((0, 0), (2, 2), (2, 2), (0, 0)))
  offsets = []
  for i in range(32):
    found = [
      (dy, dx)
      for dy in range(5)
      for dx in range(5)
      if np.array_equal(cropped[i], padded[i, dy : dy + 8, dx : dx + 8])
    ]
    assert found, i
    offsets.append(found[0])
  assert len(set(offsets)) > 5 and any(o != (2, 2) for o in offsets)
