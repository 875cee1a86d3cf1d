"""The task-model protocol (docs/models.md) with user-defined modules, and a user's
pretrained weights."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization

from autoal_jax import loop, models, search, strategies, train
from tests.conftest import synthetic_arrays

AL = loop.ALConfig(num_initial=20, query_size=10, quota=20, num_mc=3)
SEARCH = search.SearchConfig(
  backbone="mlp",
  backbone_kwargs=(("hidden", (16,)),),
  steps=4,
  batch_size=16,
  warmup=train.TrainConfig(batch_size=16, epochs=1, min_steps=3, schedule="constant"),
)
FAST = train.TrainConfig(batch_size=16, epochs=1, min_steps=4, eval_chunk=100)


class PlainNet(nn.Module):
  """What a user writes: ``__call__(x, train=False) -> (logits, embedding)``, nothing more."""

  num_classes: int

  @nn.compact
  def __call__(self, x, train: bool = False):
    embedding = nn.relu(nn.Dense(16)(x.reshape((x.shape[0], -1))))
    return nn.Dense(self.num_classes, name="head")(embedding), embedding


class DropoutNet(nn.Module):
  """A user module with the MC-dropout capability (dropout before its head)."""

  num_classes: int

  @nn.compact
  def __call__(self, x, train: bool = False, mc_dropout: bool = False):
    embedding = nn.relu(nn.Dense(16)(x.reshape((x.shape[0], -1))))
    hidden = nn.Dropout(0.3, deterministic=not (train or mc_dropout))(embedding)
    return nn.Dense(self.num_classes, name="head")(hidden), embedding


def _learner(dataset, model, search_config=SEARCH, config=FAST, **kwargs):
  trainer = train.Trainer(model, dataset.info, config, steps_per_call=4, **kwargs)
  return loop.ActiveLearner(dataset, trainer, AL, search_config)


def _one_query(learner, name, key):
  state = learner.init(key, name)
  before = np.asarray(state.labeled)
  state, log = learner.round(state, name)
  assert len(log.picks) == 10 and not before[log.picks].any()
  assert int(np.asarray(state.labeled).sum()) == 30


# What each strategy needs of a task model beyond (logits, embedding); the mixtures need
# what their default candidates need (bald, var_ratio_mc, mean_std: MC dropout).
NEEDS_MC = {
  "bald", "var_ratio_mc", "mean_std", "dropquery", "uniform-mix", "albl", "albl-port", "tailor",
  "autoal", "autoal-code", "autoal-paper",
}  # fmt: skip
NEEDS_FEATURES = {"loss_prediction"}


@pytest.fixture(scope="module")
def plain_learner():
  """One learner for every strategy: its compiled programs serve them all."""
  from autoal_jax import from_arrays

  return _learner(from_arrays(*synthetic_arrays(), num_classes=4), PlainNet(4))


@pytest.mark.parametrize("name", strategies.names())
def test_a_plain_user_module_runs_every_strategy_that_needs_nothing_more(plain_learner, key, name):
  learner = plain_learner
  if name in NEEDS_MC | NEEDS_FEATURES:
    capability = "mc_dropout" if name in NEEDS_MC else "return_features"
    with pytest.raises(ValueError, match=f"does not provide \\({capability}") as error:
      learner.strategy(name)  # before any training
    assert "docs/models.md" in str(error.value)
    if name in NEEDS_MC - {"bald", "var_ratio_mc", "mean_std", "dropquery"}:  # a candidate
      assert "candidate 'bald'" in str(error.value)
    return
  _one_query(learner, name, key)


def test_autoal_runs_on_a_plain_module_with_candidates_it_supports(synthetic, key):
  config = SEARCH._replace(candidates=("margin", "entropy", "kmeans"))
  learner = _learner(synthetic, PlainNet(4), config)
  _one_query(learner, "autoal", key)
  _one_query(learner, "uniform-mix", key)


def test_a_user_module_with_mc_dropout_runs_the_mc_strategies(synthetic, key):
  assert models.capabilities(DropoutNet(4)) == {"mc_dropout"}
  learner = _learner(synthetic, DropoutNet(4))
  for name in ("bald", "albl", "tailor"):
    _one_query(learner, name, key)
  outputs = learner.trainer.pool_outputs(learner.trainer.init(key), key, learner.images, num_mc=3)
  mc = np.asarray(outputs.mc_probs)
  assert mc.shape == (3, 400, 4) and not np.allclose(mc[0], mc[1])  # real dropout masks


def _variables(model, dataset, seed):
  x = jnp.zeros((1, *dataset.info.image_shape))
  variables = model.init(jax.random.key(seed), x)
  # Not any model's fresh initialisation: distinct values a test can recognise.
  return jax.tree.map(lambda p: p + 0.01 * (seed + 1), variables)


@pytest.mark.parametrize("form", ["msgpack", "orbax"])
def test_pretrained_weights_load_from_msgpack_or_orbax(synthetic, tmp_path, form):
  model = models.get_model("mlp", 4, hidden=(16,))
  variables = _variables(model, synthetic, 7)
  like = model.init(jax.random.key(0), jnp.zeros((1, *synthetic.info.image_shape)))
  if form == "msgpack":
    path = tmp_path / "weights.msgpack"
    path.write_bytes(serialization.to_bytes(variables))
  else:
    import orbax.checkpoint as ocp

    path = tmp_path / "weights"
    with ocp.StandardCheckpointer() as checkpointer:
      checkpointer.save(path, variables)
  loaded = models.load_variables(str(path), like)
  for a, b in zip(jax.tree.leaves(variables), jax.tree.leaves(loaded), strict=True):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(FileNotFoundError, match="no pretrained weights"):
    models.load_variables(str(tmp_path / "missing.msgpack"), like)


@pytest.mark.parametrize("loss_prediction", [False, True])
def test_every_round_starts_from_the_given_variables(synthetic, key, loss_prediction):
  model = models.get_model("mlp", 4, hidden=(16,))
  variables = _variables(model, synthetic, 3)
  config = FAST._replace(loss_prediction=loss_prediction)
  trainer = train.Trainer(model, synthetic.info, config, init_variables=variables)
  for seed in (0, 1):
    params = trainer.init(jax.random.key(seed)).params
    given = params["model"] if loss_prediction else params
    for a, b in zip(jax.tree.leaves(variables["params"]), jax.tree.leaves(given), strict=True):
      np.testing.assert_array_equal(a, b)


def test_a_frozen_backbone_trains_only_the_head(synthetic, key):
  model = models.get_model("small_cnn", 4, features=(4,), embedding_dim=8)
  variables = _variables(model, synthetic, 5)
  config = FAST._replace(freeze_backbone=True, weight_decay=1e-2, optimizer="adamw")
  learner = _learner(synthetic, model, config=config, init_variables=variables)
  labeled = jnp.zeros(400, bool).at[:40].set(True)
  state = learner.trainer.fit(key, learner.images, learner.labels, labeled, 40)
  frozen = train.trainable_mask(state.params)
  for path, trained in jax.tree_util.tree_flatten_with_path(frozen)[0]:
    before = _leaf(variables["params"], path)
    after = _leaf(state.params, path)
    if trained:  # the head (under "head") moved
      assert not np.array_equal(before, after), jax.tree_util.keystr(path)
    else:  # exactly the given values, weight decay notwithstanding
      np.testing.assert_array_equal(before, after, err_msg=jax.tree_util.keystr(path))
  assert any(jax.tree.leaves(frozen)) and not all(jax.tree.leaves(frozen))
  _one_query(learner, "entropy", key)


def _leaf(tree, path):
  for entry in path:
    tree = tree[entry.key]
  return np.asarray(tree)


def test_mismatched_weights_are_refused_naming_the_parameter(synthetic):
  model = models.get_model("mlp", 4, hidden=(16,))
  other = _variables(models.get_model("mlp", 4, hidden=(8,)), synthetic, 0)
  with pytest.raises(
    ValueError, match=r"Dense_0.*has shape \(8,\), the task model MLP expects \(16,\)"
  ):
    train.Trainer(model, synthetic.info, FAST, init_variables=other)
  missing = {"params": {"head": _variables(model, synthetic, 0)["params"]["head"]}}
  with pytest.raises(ValueError, match="the given variables lack"):
    train.Trainer(model, synthetic.info, FAST, init_variables=missing)
