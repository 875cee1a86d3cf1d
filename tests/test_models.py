import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import models

SHAPES = [(28, 28, 1), (32, 32, 3), (20, 24, 2)]


@pytest.mark.parametrize("name", ["small_cnn", "mlp", "resnet18"])
@pytest.mark.parametrize("shape", SHAPES)
def test_output_shapes_follow_the_data(name, shape, key):
  kwargs = {"widths": (8, 8, 16, 16)} if name == "resnet18" else {}
  model = models.get_model(name, num_classes=7, **kwargs)
  x = jnp.zeros((3, *shape), jnp.float32)
  variables = model.init(key, x)
  logits, embedding = model.apply(variables, x)
  assert logits.shape == (3, 7) and logits.dtype == jnp.float32
  assert embedding.ndim == 2 and embedding.shape[0] == 3


def test_resnet18_default_embedding_is_512(key):
  model = models.get_model("resnet18", num_classes=10)
  x = jnp.zeros((2, 32, 32, 3))
  variables = jax.eval_shape(model.init, key, x)
  _, embedding = jax.eval_shape(model.apply, variables, x)
  assert embedding.shape == (2, 512)
  n_params = sum(np.prod(p.shape) for p in jax.tree.leaves(variables["params"]))
  assert 11.0e6 < n_params < 11.3e6  # CIFAR ResNet-18 has about 11.2M parameters


@pytest.mark.parametrize("name", ["small_cnn", "mlp", "resnet18"])
def test_mc_dropout_samples_the_head_and_keeps_batchnorm_frozen(name, key):
  kwargs = {"widths": (8, 8, 16, 16)} if name == "resnet18" else {}
  model = models.get_model(name, num_classes=5, dropout_rate=0.5, **kwargs)
  x = jax.random.normal(key, (4, 16, 16, 3))
  variables = model.init(key, x)
  deterministic = model.apply(variables, x)[0]
  np.testing.assert_array_equal(deterministic, model.apply(variables, x)[0])
  # No mutable collections are passed: a BatchNorm trying to update would raise here.
  a, emb_a = model.apply(variables, x, mc_dropout=True, rngs={"dropout": jax.random.key(1)})
  b, emb_b = model.apply(variables, x, mc_dropout=True, rngs={"dropout": jax.random.key(2)})
  assert not np.allclose(a, b)
  np.testing.assert_allclose(emb_a, emb_b, rtol=1e-6)  # dropout sits after the embedding
  np.testing.assert_allclose(emb_a, model.apply(variables, x)[1], rtol=1e-6)


def test_unknown_model_lists_the_valid_ones():
  with pytest.raises(ValueError, match=r"Unknown model 'vgg'.*'mlp', 'resnet18', 'small_cnn'"):
    models.get_model("vgg", 10)
  with pytest.raises(ValueError, match="num_classes"):
    models.get_model("mlp", 1)
