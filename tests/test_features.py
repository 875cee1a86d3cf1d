"""Float feature datasets (a fixed embedding, a table, signals) beside uint8 images: their
standardisation, the linear task model, and the shapes the library refuses before any
training, naming the fix."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import data, from_arrays, loop, models, search, strategies, train
from tests.conftest import feature_arrays, synthetic_arrays


def test_features_are_standardised_with_the_pool_statistics():
  train_x, train_y, test_x, test_y = feature_arrays(300, 100, dim=5)
  train_x[:, 4] = 7.0  # a constant feature: centred, not divided by ~0
  dataset = from_arrays(train_x.astype(np.float64), train_y, test_x, test_y, name="f")
  assert dataset.info.kind == "features" and dataset.info.image_shape == (5,)
  assert dataset.train_images.dtype == dataset.test_images.dtype == np.float32
  np.testing.assert_allclose(dataset.train_images.mean(0), 0.0, atol=1e-5)
  np.testing.assert_allclose(dataset.train_images.std(0)[:4], 1.0, rtol=1e-4)
  np.testing.assert_array_equal(dataset.train_images[:, 4], 0.0)
  # The test set with the pool's statistics, not its own.
  mean, std = train_x[:, :4].astype(np.float64).mean(0), train_x[:, :4].astype(np.float64).std(0)
  np.testing.assert_allclose(dataset.test_images[:, :4], (test_x[:, :4] - mean) / std, atol=1e-5)
  data.check_dataset(dataset)
  # Normalisation on device leaves standardised features as they are.
  x = jnp.asarray(dataset.train_images[:3])
  np.testing.assert_array_equal(data.normalize(x, dataset.info.mean, dataset.info.std), x)


def test_feature_arrays_of_any_rank_and_the_refusals():
  train_x, train_y, test_x, test_y = feature_arrays(40, 20, dim=12)
  signals = from_arrays(train_x.reshape(40, 6, 2), train_y, test_x.reshape(20, 6, 2), test_y)
  assert signals.info.image_shape == (6, 2) and signals.info.kind == "features"
  bad = train_x.copy()
  bad[3, 1] = np.nan
  with pytest.raises(ValueError, match="1 NaN or Inf"):
    from_arrays(bad, train_y, test_x, test_y)
  with pytest.raises(TypeError, match="pass both as uint8 images or both as float features"):
    from_arrays(train_x, train_y, (test_x > 0).astype(np.uint8), test_y)
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    from_arrays(train_x[:, 0], train_y, test_x[:, 0], test_y)
  with pytest.raises(TypeError, match="uint8 images in \\[0, 255\\] or float features"):
    from_arrays(train_x.astype(np.int64), train_y, test_x.astype(np.int64), test_y)


def test_an_image_datasets_fingerprint_is_what_it_was_before_features(synthetic):
  # Checkpoints of image runs made before `DatasetInfo.kind` existed still resume.
  import hashlib

  digest = hashlib.sha256(repr(tuple(synthetic.info)[:-1]).encode())
  for array in synthetic[:4]:
    array = np.ascontiguousarray(array)
    digest.update(f"{array.dtype}{array.shape}".encode())
    digest.update(memoryview(array).cast("B"))
  assert data.fingerprint(synthetic) == digest.hexdigest()
  features = from_arrays(*feature_arrays(40, 20))
  assert data.fingerprint(features) != data.fingerprint(
    features._replace(test_labels=features.test_labels[::-1].copy())
  )


def test_npz_float_features_load(tmp_path):
  train_x, train_y, test_x, test_y = feature_arrays(50, 20, dim=6)
  path = tmp_path / "f.npz"
  np.savez(path, train_images=train_x, train_labels=train_y, test_images=test_x, test_labels=test_y)
  dataset = data.load_dataset(f"npz:{path}")
  assert dataset.info.kind == "features" and dataset.train_images.shape == (50, 6)


def test_the_linear_model_is_a_head_on_the_features(key):
  model = models.get_model("linear", 3)
  x = jax.random.normal(key, (5, 2, 4))
  variables = model.init(key, x)
  logits, embedding = model.apply(variables, x)
  np.testing.assert_array_equal(embedding, x.reshape(5, 8))  # distances on the features
  kernel = variables["params"]["head"]["logits"]["kernel"]
  bias = variables["params"]["head"]["logits"]["bias"]
  np.testing.assert_allclose(logits, embedding @ kernel + bias[None], rtol=1e-5, atol=1e-6)
  head = models.mc_head(model)  # MC dropout on the features alone
  mc = head(variables["params"], embedding, jax.random.key(1))
  assert mc.shape == (5, 3) and not np.allclose(mc, logits)


def test_shapes_a_model_cannot_take_are_refused_before_training(synthetic_features):
  info = synthetic_features.info
  with pytest.raises(ValueError, match="the task model \\(SmallCNN\\) cannot take inputs of shape"):
    train.Trainer(models.get_model("small_cnn", 4), info, train.TrainConfig())
  with pytest.raises(ValueError, match="augmentation .* is for images"):
    train.Trainer(models.get_model("mlp", 4), info, train.TrainConfig(augment=True))


def test_autoals_searchnet_follows_the_input_and_refuses_what_it_cannot_take():
  # The report's case: one-dimensional signals stored as L x 1 x 1 uint8 images, an MLP
  # task model; SearchNet's small CNN died in round 0 inside flax's initialiser.
  train_x, train_y, test_x, test_y = synthetic_arrays(60, 20, (16, 1, 1), 4)
  signals = from_arrays(train_x, train_y, test_x, test_y, num_classes=4)
  assert models.search_backbone("auto", signals.info.image_shape) == "mlp"
  assert models.search_backbone("auto", (28, 28, 1)) == "small_cnn"
  assert models.search_backbone("resnet18", (16,)) == "resnet18"
  trainer = train.Trainer(
    models.get_model("mlp", 4, hidden=(8,)), signals.info, train.TrainConfig()
  )
  al = loop.ALConfig(num_initial=10, query_size=5, quota=10, num_mc=2)
  learner = loop.ActiveLearner(
    signals, trainer, al, search.SearchConfig(candidates=("margin", "entropy"))
  )
  learner.check_strategy("autoal")  # 'auto' (the default): the MLP
  small_cnn = search.SearchConfig(candidates=("margin", "entropy"), backbone="small_cnn")
  with pytest.raises(ValueError, match="SearchNet .* cannot take .*search.backbone=mlp"):
    loop.ActiveLearner(signals, trainer, al, small_cnn).check_strategy("autoal")


@pytest.mark.parametrize("name", ["badge", "kcenter_greedy"])
def test_embedding_strategies_on_features_with_a_linear_model_learn(synthetic_features, name):
  model = models.get_model("linear", 4)
  config = train.TrainConfig(batch_size=16, epochs=20, min_steps=200, learning_rate=3e-2)
  trainer = train.Trainer(model, synthetic_features.info, config)
  learner = loop.ActiveLearner(synthetic_features, trainer, loop.ALConfig(8, 8, 16, 0))
  state, logs = learner.run(jax.random.key(0), name)
  # Four classes (chance 0.25), 16 features of which 12 are noise: a linear head on 24
  # labels reaches about 0.67 (0.96 on the whole pool).
  assert state.accuracy[-1] > 0.55
  assert strategies.is_registered(name) and len(logs) == 3
