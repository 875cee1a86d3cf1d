"""Pool embeddings fixed for a run: PCA, a user's array, SimCLR; their cache; and the loop
handing them to the coverage and clustering strategies (BADGE keeps the model's)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import data, embeddings, from_arrays, loop, models, strategies, train
from tests.conftest import feature_arrays


def test_pca_is_the_top_principal_subspace(synthetic):
  project = embeddings.pca(synthetic, 5)
  z = project(synthetic.train_images)
  x = synthetic.train_images.reshape(400, -1).astype(np.float64) / 255.0
  x = (x - synthetic.info.mean[0]) / synthetic.info.std[0]
  x -= x.mean(0)
  _, s, vt = np.linalg.svd(x, full_matrices=False)
  assert z.shape == (400, 5) and z.dtype == np.float32
  # The same subspace (up to signs): the same variances and the same projection.
  np.testing.assert_allclose(np.var(z, axis=0) * 400 / 399, s[:5] ** 2 / 399, rtol=1e-3)
  np.testing.assert_allclose(np.abs(z), np.abs(x @ vt[:5].T), rtol=1e-3, atol=1e-3)
  with pytest.raises(ValueError, match=r"pca:DIM must be in \[1, 144\]"):
    embeddings.pca(synthetic, 145)


def test_bare_pca_takes_every_component_of_narrow_inputs(tmp_path):
  # 16 features: a bare `pca` keeps all 16 (PCA_DIM is 50); `pca:50` asks for more than
  # there are and is refused; on wider inputs the bare option is PCA_DIM.
  dataset = from_arrays(*feature_arrays(dim=16))
  assert embeddings.pca_dim(dataset, "pca") == 16
  assert embeddings.attach(dataset, "pca", str(tmp_path), log=None).embeddings.shape == (400, 16)
  assert embeddings.as_features(dataset, "pca", log=None).info.image_shape == (16,)
  with pytest.raises(ValueError, match=r"pca:DIM must be in \[1, 16\], got 50"):
    embeddings.attach(dataset, "pca:50", log=None)
  wide = from_arrays(*feature_arrays(dim=80))
  assert embeddings.pca_dim(wide, "pca") == embeddings.PCA_DIM == 50
  assert embeddings.pca_dim(wide, "pca:7") == 7


def test_nt_xent_by_hand():
  z1 = jnp.array([[1.0, 0.0], [0.0, 1.0]])
  z2 = jnp.array([[1.0, 0.0], [0.0, 1.0]])
  # Row 0 (z1[0]): similarities to z1[1], z2[0], z2[1] are 0, 1, 0 (/ T = 0.5).
  logits = np.array([0.0, 2.0, 0.0])
  expected = -(2.0 - np.log(np.exp(logits).sum()))
  np.testing.assert_allclose(embeddings.nt_xent(z1, z2, 0.5), expected, rtol=1e-6)


def test_attach_caches_and_the_options_are_checked(synthetic, tmp_path):
  messages = []
  first = embeddings.attach(synthetic, "pca:6", str(tmp_path), log=messages.append)
  assert first.embeddings.shape == (400, 6) and len(messages) == 1
  again = embeddings.attach(synthetic, "pca:6", str(tmp_path), log=messages.append)
  np.testing.assert_array_equal(again.embeddings, first.embeddings)
  assert len(messages) == 1  # read from the cache, not computed
  other = embeddings.attach(synthetic, "pca:4", str(tmp_path), log=None)
  assert other.embeddings.shape == (400, 4) and len(list(tmp_path.iterdir())) == 2
  assert embeddings.attach(first, "model").embeddings is None
  with pytest.raises(ValueError, match="Valid: \\['model', 'npz:PATH'"):
    embeddings.parse("simclr")
  # A user's array: rows must be the pool's.
  path = tmp_path / "user.npz"
  np.savez(path, embeddings=np.ones((400, 3), np.float32))
  assert embeddings.attach(synthetic, f"npz:{path}").embeddings.shape == (400, 3)
  np.savez(path, embeddings=np.ones((399, 3), np.float32))
  with pytest.raises(ValueError, match="399 rows for a pool of 400"):
    embeddings.attach(synthetic, f"npz:{path}")
  # The data layer carries them: a subsample keeps its rows' embeddings.
  part = data.subsample(jax.random.key(0), first, pool_size=50)
  rows = [np.flatnonzero((first.train_images == x).all((1, 2, 3)))[0] for x in part.train_images]
  np.testing.assert_array_equal(part.embeddings, first.embeddings[rows])
  assert data.fingerprint(part) != data.fingerprint(part._replace(embeddings=None))


def test_as_features_embeds_pool_and_test_with_the_pools_map_and_caches(synthetic, tmp_path):
  messages = []
  features = embeddings.as_features(synthetic, "pca:6", str(tmp_path), log=messages.append)
  assert features.info.kind == data.FEATURES and features.info.image_shape == (6,)
  assert features.info.name == "synthetic[pca:6]" and features.embeddings is None
  # The pool's PCA, applied to the pool and the test set alike, then centred and scaled by
  # one number (the pool's RMS): its geometry kept, not whitened.
  project = embeddings.pca(synthetic, 6)
  train, test = project(synthetic.train_images), project(synthetic.test_images)
  mean = train.mean(0)
  scale = np.sqrt(np.mean((train - mean) ** 2))
  np.testing.assert_allclose(features.train_images, (train - mean) / scale, rtol=1e-3, atol=1e-3)
  np.testing.assert_allclose(features.test_images, (test - mean) / scale, rtol=1e-3, atol=1e-3)
  variances = features.train_images.var(0)
  assert variances[0] > 2 * variances[-1] and abs(variances.mean() - 1) < 1e-3
  np.testing.assert_array_equal(features.test_labels, synthetic.test_labels)
  # Cached (read back, not computed), and the distances' embedding kept unwhitened on ask.
  kept = embeddings.as_features(
    synthetic, "pca:6", str(tmp_path), log=messages.append, keep_embedding=True
  )
  assert len(messages) == 1 and len(list(tmp_path.iterdir())) == 1
  np.testing.assert_array_equal(kept.train_images, features.train_images)
  np.testing.assert_allclose(kept.embeddings, train, rtol=1e-4, atol=1e-4)
  assert embeddings.as_features(synthetic, "raw") is synthetic
  with pytest.raises(ValueError, match="Unknown inputs 'npz:x'"):
    embeddings.as_features(synthetic, "npz:x")


def test_simclr_trains_on_the_pool_and_refuses_features(synthetic):
  config = embeddings.SSLConfig(steps=4, batch_size=16, features=(4,), embedding_dim=8)
  embed = embeddings.simclr(synthetic, config, log=None)
  z = embed(synthetic.train_images[:37])
  assert z.shape == (37, 8) and np.isfinite(z).all()
  features = from_arrays(*feature_arrays(40, 20))
  with pytest.raises(ValueError, match="ssl trains a convolutional encoder on images"):
    embeddings.simclr(features, config)


@pytest.mark.parametrize("name", ["kcenter_greedy", "badge"])
def test_the_loop_hands_the_fixed_embedding_to_the_coverage_strategies(synthetic, name):
  fixed = jax.random.normal(jax.random.key(7), (400, 3))
  dataset = synthetic._replace(embeddings=np.asarray(fixed))
  model = models.get_model("mlp", 4, hidden=(16,))
  trainer = train.Trainer(model, dataset.info, train.TrainConfig(epochs=1, eval_chunk=100))
  learner = loop.ActiveLearner(dataset, trainer, loop.ALConfig(10, 6, 6, 0))
  state, logs = learner.run(jax.random.key(0), name)
  labeled = np.asarray(state.labeled)
  initial = labeled.copy()
  initial[logs[0].picks] = False
  if name == "kcenter_greedy":  # distances on the fixed embedding
    expected = strategies.kcenter_greedy(fixed, jnp.asarray(initial), 6)
    np.testing.assert_array_equal(logs[0].picks, expected)
  else:  # BADGE's gradient embedding is the model's, whatever the run fixes
    plain = loop.ActiveLearner(synthetic, trainer, loop.ALConfig(10, 6, 6, 0))
    _, plain_logs = plain.run(jax.random.key(0), name)
    np.testing.assert_array_equal(logs[0].picks, plain_logs[0].picks)
