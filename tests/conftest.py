"""Strict JAX settings for every test, a key fixture, and small synthetic data."""

import contextlib
import logging
import os

# The suite is compile-bound (hundreds of small programs, each run a few times), and XLA's
# optimisation passes are most of a compile; JAX's own tests turn them off the same way.
# On tests/test_search.py with a cold cache: 113 s -> 89 s, the same results. Set before
# jax is imported, and in the environment, so the CLI runs the tests start inherit it.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# XLA:CPU's newer fusion emitters (MLIR) compile slower than its classic ones: with them
# off the suite used 32% less CPU from a cold cache (2026-12-05, AMD EPYC, 2 cores: 981
# against 1,435 CPU seconds, the same 422 tests passing; one compile-bound test 40 s
# against 58-61 s). Like the one above it changes how XLA compiles (float rounding may
# differ from users' runs), not what the tests check; the sharding test, which runs the
# programs users get, sets XLA_FLAGS of its own.
_FLAGS = os.environ.get("XLA_FLAGS", "")
if "xla_cpu_use_fusion_emitters" not in _FLAGS:
  os.environ["XLA_FLAGS"] = f"{_FLAGS} --xla_cpu_use_fusion_emitters=false".strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")
_CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache", "jax")
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

FASHION_MNIST_INSTALLED = os.path.exists(
  "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
)
needs_fashion_mnist = pytest.mark.skipif(
  not FASHION_MNIST_INSTALLED,
  reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)",
)


def pytest_configure(config):
  config.addinivalue_line(
    "markers",
    "slow: a test of 30 s or more (cold cache); run first, so that the parallel "
    "workers (make test: pytest -n WORKERS, the cores + 1) finish together",
  )


def pytest_collection_modifyitems(config, items):
  """Longest first: the slow tests start at once instead of ending the run alone."""
  items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def key():
  return jax.random.key(0)


def synthetic_arrays(n_train=400, n_test=200, shape=(12, 12, 1), num_classes=4, seed=0):
  """Learnable images: class c lights up its own patch, plus uniform noise. uint8 NHWC."""
  rng = np.random.RandomState(seed)
  h, w, ch = shape

  def make(n):
    labels = rng.randint(0, num_classes, n).astype(np.int32)
    images = rng.randint(0, 80, (n, h, w, ch)).astype(np.uint8)
    for c in range(num_classes):
      row = (c * h) // num_classes
      images[labels == c, row : row + max(h // num_classes, 1), :, :] = 230
    return images, labels

  return (*make(n_train), *make(n_test))


@pytest.fixture
def synthetic():
  from autoal_jax import from_arrays

  return from_arrays(*synthetic_arrays(), num_classes=4, name="synthetic")


def feature_arrays(n_train=400, n_test=200, dim=16, num_classes=4, seed=0):
  """Learnable float features (a fixed embedding's): class c raises feature c, on a shifted
  and scaled Gaussian background (so standardisation matters). float32 [N, dim]."""
  rng = np.random.RandomState(seed)

  def make(n):
    labels = rng.randint(0, num_classes, n).astype(np.int32)
    features = rng.normal(3.0, 2.0, (n, dim)).astype(np.float32)
    features[np.arange(n), labels] += 6.0
    return features, labels

  return (*make(n_train), *make(n_test))


@pytest.fixture
def synthetic_features():
  from autoal_jax import from_arrays

  return from_arrays(*feature_arrays(), num_classes=4, name="features")


class _CompileLog(logging.Handler):
  def __init__(self):
    super().__init__(logging.DEBUG)
    self.programs = []

  def emit(self, record):
    message = record.getMessage()
    if message.startswith("Compiling "):
      self.programs.append(message.split(" with ")[0][len("Compiling ") :])


@contextlib.contextmanager
def compiled_programs():
  """Collects the names of the programs JAX compiles inside the block (jax.log_compiles),
  so that a test can prove that a later round compiles nothing new."""
  handler = _CompileLog()
  logger = logging.getLogger("jax")
  logger.addHandler(handler)
  try:
    with jax.log_compiles(True):
      yield handler.programs
  finally:
    logger.removeHandler(handler)
