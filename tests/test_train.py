import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import data, models, passes, train
from tests.conftest import compiled_programs, needs_fashion_mnist

CONFIG = train.TrainConfig(batch_size=16, epochs=3, min_steps=40, eval_chunk=64)


def _trainer(dataset, config=CONFIG, model=None, steps_per_call=4):
  model = model or models.get_model("mlp", dataset.info.num_classes, hidden=(32,))
  return train.Trainer(model, dataset.info, config, steps_per_call=steps_per_call)


def _mask(n, labeled):
  return jnp.zeros(n, bool).at[jnp.asarray(labeled)].set(True)


def test_epoch_order_puts_the_labeled_first_in_random_order(key):
  labeled = _mask(50, [3, 7, 8, 20, 41])
  order = np.asarray(train.epoch_order(key, labeled))
  assert sorted(order.tolist()) == list(range(50))
  assert sorted(order[:5].tolist()) == [3, 7, 8, 20, 41]
  assert not np.array_equal(
    order[:5], np.asarray(train.epoch_order(jax.random.key(9), labeled))[:5]
  )


def test_padding_weights_do_not_change_the_loss(synthetic, key):
  model = models.get_model("mlp", 4, hidden=(16,), dropout_rate=0.0)
  config = train.TrainConfig(batch_size=8, learning_rate=0.0)
  state = train.init_train_state(key, model, train.make_optimizer(config), (12, 12, 1))
  step = functools.partial(train.train_step, mean=(0.3,), std=(0.3,), config=config)
  images, labels = jnp.asarray(synthetic.train_images[:8]), jnp.asarray(synthetic.train_labels[:8])
  _, loss_real = step(state, key, images[:5], labels[:5], jnp.ones(5))
  # The three padded rows are other examples (as the wrap-around makes them), weight 0.
  weights = jnp.asarray([1, 1, 1, 1, 1, 0, 0, 0], jnp.float32)
  _, loss_padded = step(state, key, images, labels, weights)
  np.testing.assert_allclose(loss_padded, loss_real, rtol=1e-6)


def test_steps_past_the_end_leave_the_state_untouched(synthetic, key):
  trainer = _trainer(synthetic)
  state = trainer.init(key)
  labeled = _mask(400, np.arange(40))
  orders = jnp.stack([trainer.order(key, labeled)] * 5)
  images, labels = jnp.asarray(synthetic.train_images), jnp.asarray(synthetic.train_labels)

  def run(total_steps):
    n, first, total = (jnp.asarray(v, jnp.int32) for v in (40, 0, total_steps))
    after, losses = trainer.steps(state, key, images, labels, orders, n, first, total)
    return after, losses

  after, losses = run(0)
  assert not np.asarray(losses.ran).any()
  jax.tree.map(np.testing.assert_array_equal, after, state)  # params, optimiser, step
  after, losses = run(2)
  np.testing.assert_array_equal(losses.ran, [True, True] + [False] * (len(losses.ran) - 2))
  assert np.isfinite(np.asarray(losses.loss)).all() and (np.asarray(losses.loss)[:2] > 0).all()
  assert int(after.step) == 2


def test_fit_learns_and_compiles_once_for_every_labeled_size(synthetic, key):
  trainer = _trainer(synthetic)
  images, labels = jnp.asarray(synthetic.train_images), jnp.asarray(synthetic.train_labels)
  test_x, test_y = jnp.asarray(synthetic.test_images), jnp.asarray(synthetic.test_labels)
  seen = []
  for n in (5, 37, 150):
    labeled = _mask(400, np.arange(n))
    # The first size may compile; the later ones must not compile anything.
    with compiled_programs() as programs:
      state = trainer.fit(key, images, labels, labeled, n, lambda e, t, loss: seen.append((e, t)))
      trainer.evaluate(state, test_x, test_y).block_until_ready()  # compiled inside too
    assert n == 5 or programs == []
    assert int(state.step) == train.num_epochs(CONFIG, n) * -(-n // CONFIG.batch_size)
    assert seen[-1][0] == seen[-1][1]  # the progress reached the last epoch
  assert float(trainer.evaluate(state, test_x, test_y)) > 0.9


def test_trainers_of_one_task_share_their_programs(synthetic, key):
  # A second Trainer of an equal model, input and configuration (a strategy's copy of the
  # task model, a cross-validation fold, a test's next variant) traces and compiles none
  # of the first one's programs and trains the same model; another configuration compiles.
  images, labels = jnp.asarray(synthetic.train_images), jnp.asarray(synthetic.train_labels)
  labeled = _mask(400, np.arange(20))
  config = CONFIG._replace(min_steps=7)  # this test's own: no other test compiled it
  first = _trainer(synthetic, config)
  a = first.fit(key, images, labels, labeled, 20)
  second = _trainer(synthetic, config)  # a new, equal model object
  assert second.steps is first.steps and second.pool_outputs is first.pool_outputs
  with compiled_programs() as programs:
    b = second.fit(key, images, labels, labeled, 20)
    jax.block_until_ready(b)
  assert programs == []
  jax.tree.map(np.testing.assert_array_equal, a.params, b.params)
  other = _trainer(synthetic, config._replace(learning_rate=2 * config.learning_rate))
  assert other.steps is not first.steps
  with compiled_programs() as programs:
    jax.block_until_ready(other.fit(key, images, labels, labeled, 20))
  assert programs != []


def test_fit_is_deterministic_given_the_key(synthetic, key):
  trainer = _trainer(synthetic)
  args = (
    jnp.asarray(synthetic.train_images),
    jnp.asarray(synthetic.train_labels),
    _mask(400, np.arange(60)),
    60,
  )
  a, b = trainer.fit(key, *args), trainer.fit(key, *args)
  jax.tree.map(np.testing.assert_array_equal, a.params, b.params)
  c = trainer.fit(jax.random.key(1), *args)
  assert not np.array_equal(jax.tree.leaves(a.params)[0], jax.tree.leaves(c.params)[0])


def test_steps_per_call_does_not_change_the_result(synthetic, key):
  args = (
    jnp.asarray(synthetic.train_images),
    jnp.asarray(synthetic.train_labels),
    _mask(400, np.arange(50)),
    50,
  )
  config = CONFIG._replace(min_steps=0, epochs=3)  # 4 steps an epoch, 12 in all
  one, three, five = (
    _trainer(synthetic, config, steps_per_call=s).fit(key, *args) for s in (1, 3, 5)
  )
  assert int(one.step) == int(three.step) == int(five.step) == 12
  for other in (three, five):
    jax.tree.map(
      lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6), one.params, other.params
    )


def test_batchnorm_statistics_are_trained_and_augmentation_runs(key):
  from tests.conftest import synthetic_arrays

  ds = data.from_arrays(*synthetic_arrays(64, 32, (8, 8, 3), 3))
  model = models.get_model("resnet18", 3, widths=(4, 4, 8, 8))
  config = train.TrainConfig(batch_size=16, epochs=1, augment=True, crop_padding=2, eval_chunk=32)
  trainer = train.Trainer(model, ds.info, config, steps_per_call=2)
  init = trainer.init(key)
  state = trainer.fit(
    key, jnp.asarray(ds.train_images), jnp.asarray(ds.train_labels), _mask(64, np.arange(64)), 64
  )
  before, after = jax.tree.leaves(init.batch_stats), jax.tree.leaves(state.batch_stats)
  assert before and any(not np.allclose(x, y) for x, y in zip(before, after, strict=True))
  assert (
    0.0
    <= float(trainer.evaluate(state, jnp.asarray(ds.test_images), jnp.asarray(ds.test_labels)))
    <= 1.0
  )


def test_pool_outputs_shapes_chunks_and_mc(synthetic, key):
  trainer = _trainer(synthetic, CONFIG._replace(eval_chunk=48))  # 400 = 8 chunks + 16
  images = jnp.asarray(synthetic.train_images)
  state = trainer.fit(
    key, images, jnp.asarray(synthetic.train_labels), _mask(400, np.arange(80)), 80
  )
  outputs = trainer.pool_outputs(state, key, images, num_mc=5)
  assert outputs.logits.shape == (400, 4) and outputs.embeddings.shape == (400, 32)
  assert outputs.mc_probs.shape == (5, 400, 4)
  np.testing.assert_allclose(outputs.probs.sum(-1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(outputs.mc_probs.sum(-1), 1.0, rtol=1e-5)
  logits, embeddings = passes.predict(state, images, trainer.info.mean, trainer.info.std, chunk=400)
  np.testing.assert_allclose(outputs.logits, logits, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(outputs.embeddings, embeddings, rtol=1e-5, atol=1e-5)
  assert not np.allclose(outputs.mc_probs[0], outputs.mc_probs[1])  # independent passes
  assert trainer.pool_outputs(state, None, images, num_mc=0).mc_probs is None


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_mc_passes_through_the_head_alone_match_whole_network_passes(synthetic, rate, key):
  model = models.SmallCNN(num_classes=4, features=(8,), embedding_dim=16, dropout_rate=rate)
  trainer = train.Trainer(model, synthetic.info, CONFIG)
  state = trainer.init(key)
  images = jnp.asarray(synthetic.train_images[:64])
  kw = dict(mean=trainer.info.mean, std=trainer.info.std, chunk=64, num_mc=300)
  fast = passes.pool_outputs(state, key, images, head=models.mc_head(model), **kw)
  slow = passes.pool_outputs(state, key, images, **kw)
  np.testing.assert_allclose(fast.probs, slow.probs, rtol=1e-6)
  if rate == 0.0:  # no dropout: every pass is the deterministic one
    np.testing.assert_allclose(fast.mc_probs, jnp.broadcast_to(fast.probs, (300, 64, 4)), 1e-5)
  # Other masks (flax derives them from the module path), the same distribution.
  np.testing.assert_allclose(fast.mc_probs.mean(0), slow.mc_probs.mean(0), atol=0.03)
  np.testing.assert_allclose(fast.mc_probs.std(0), slow.mc_probs.std(0), atol=0.03)
  assert models.mc_head(models.SearchNet(3)) is None  # other modules: whole-network passes


def test_cosine_schedule_values():
  config = train.TrainConfig(learning_rate=0.1)
  at = lambda step: float(train.learning_rate_at(jnp.asarray(step), jnp.asarray(100), config))  # noqa: E731
  assert (
    at(0) == pytest.approx(0.1) and at(50) == pytest.approx(0.05) and at(100) == pytest.approx(0)
  )
  assert at(25) == pytest.approx(0.05 * (1 + np.cos(np.pi / 4)))
  constant = config._replace(schedule="constant")
  assert float(
    train.learning_rate_at(jnp.asarray(90), jnp.asarray(100), constant)
  ) == pytest.approx(0.1)


def test_fit_anneals_the_learning_rate_to_zero(synthetic, key):
  trainer = _trainer(synthetic, CONFIG._replace(learning_rate=0.01))
  state = trainer.fit(
    key,
    jnp.asarray(synthetic.train_images),
    jnp.asarray(synthetic.train_labels),
    _mask(400, np.arange(30)),
    30,
  )
  total = int(state.step)
  expected = 0.01 * 0.5 * (1 + np.cos(np.pi * (total - 1) / total))  # the last step's rate
  assert float(state.opt_state.hyperparams["learning_rate"]) == pytest.approx(expected, rel=1e-4)


def test_unknown_optimizer_and_schedule():
  with pytest.raises(ValueError, match="Valid optimizers"):
    train.make_optimizer(train.TrainConfig(optimizer="lamb"))
  with pytest.raises(ValueError, match="Valid schedules"):
    train.make_optimizer(train.TrainConfig(schedule="step"))
  for name in train.OPTIMIZERS:
    train.make_optimizer(train.TrainConfig(optimizer=name, weight_decay=1e-4))


@needs_fashion_mnist
def test_small_cnn_reaches_a_sensible_accuracy_on_real_fashion_mnist(key):
  # 2k labels, 8 epochs (3k and 10 until 2026-12-04: the suite's time): 0.83 at this key.
  ds = data.subsample(key, data.load_dataset("fashion_mnist"), pool_size=2000, test_size=2000)
  config = train.TrainConfig(batch_size=64, epochs=8, eval_chunk=500)
  trainer = train.Trainer(models.get_model("small_cnn", 10), ds.info, config)
  state = trainer.fit(
    key, jnp.asarray(ds.train_images), jnp.asarray(ds.train_labels), jnp.ones(2000, bool), 2000
  )
  accuracy = float(
    trainer.evaluate(state, jnp.asarray(ds.test_images), jnp.asarray(ds.test_labels))
  )
  assert accuracy > 0.78, accuracy  # a small CNN gets about 0.8-0.83 here


def test_loss_prediction_gate_decides_what_reaches_the_task_model(synthetic, key):
  model = models.WithLossNet(models.get_model("mlp", 4, hidden=(32,)), hidden=8)
  x = jnp.asarray(synthetic.train_images[:16], jnp.float32) / 255.0
  params = model.init(key, x)["params"]
  assert set(params) == {"model", "loss_net"}

  def predicted_sum(params, gate):
    return jnp.sum(model.apply({"params": params}, x, predict_loss=True, loss_gate=gate)[2])

  for gate, reaches in ((1.0, True), (0.0, False)):
    grads = jax.grad(predicted_sum)(params, gate)
    task = max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads["model"]))
    assert (task > 0) == reaches, gate
    assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads["loss_net"])) > 0
  # The gate changes gradients only, never values; without predict_loss: the task model.
  a = model.apply({"params": params}, x, predict_loss=True, loss_gate=0.0)
  b = model.apply({"params": params}, x, predict_loss=True, loss_gate=1.0)
  np.testing.assert_array_equal(a[2], b[2])
  assert len(model.apply({"params": params}, x)) == 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_lossnet_trained_with_the_task_model_ranks_the_pool_losses(synthetic, seed):
  key = jax.random.key(seed)
  config = CONFIG._replace(loss_prediction=True, epochs=30, min_steps=200)
  trainer = _trainer(synthetic, config)
  images, labels = jnp.asarray(synthetic.train_images), jnp.asarray(synthetic.train_labels)
  state = trainer.fit(key, images, labels, _mask(400, np.arange(60)), 60)
  assert set(state.params) == {"model", "loss_net"}
  outputs = trainer.pool_outputs(state, key, images, num_mc=3)
  assert outputs.losses.shape == (400,) and outputs.mc_probs.shape == (3, 400, 4)
  true = -np.log(np.asarray(outputs.probs)[np.arange(400), np.asarray(labels)])
  predicted = np.asarray(outputs.losses)[60:]  # the samples it was not trained on
  i, j = np.triu_indices(340, 1)
  agree = np.mean(np.sign(predicted[i] - predicted[j]) == np.sign(true[60:][i] - true[60:][j]))
  assert agree > 0.6
  plain = _trainer(synthetic)  # without loss prediction the outputs carry no losses
  assert plain.pool_outputs(plain.init(key), key, images).losses is None
