import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import loop, models, train
from tests.conftest import compiled_programs

CONFIG = loop.ALConfig(num_initial=10, query_size=15, quota=40, num_mc=0)  # 15, 15, 10


def _learner(dataset, config=CONFIG):
  model = models.get_model("mlp", dataset.info.num_classes, hidden=(32,))
  trainer = train.Trainer(
    model,
    dataset.info,
    train.TrainConfig(batch_size=16, epochs=2, min_steps=8, eval_chunk=100),
    steps_per_call=4,
  )
  return loop.ActiveLearner(dataset, trainer, config)


def test_round_sizes():
  assert CONFIG.num_rounds == 3
  assert [CONFIG.round_size(r) for r in range(3)] == [15, 15, 10]
  assert loop.ALConfig(5, 10, 30).num_rounds == 3


@pytest.mark.parametrize("strategy", ["random", "entropy"])
def test_run_keeps_the_invariants(synthetic, key, strategy):
  learner = _learner(synthetic)
  state = learner.init(key, strategy)
  assert int(state.labeled.sum()) == 10
  logs = []
  while not learner.done(state):
    before = np.asarray(state.labeled)
    state, log = learner.round(state, strategy)
    logs.append(log)
    after = np.asarray(state.labeled)
    expected = CONFIG.round_size(log.round) if log.round < CONFIG.num_rounds else 0
    assert after.sum() - before.sum() == expected == len(log.picks)
    assert not before[log.picks].any() and after[log.picks].all()
    assert (after >= before).all()  # nothing is ever unlabeled
  assert [log.num_labels for log in logs] == [10, 25, 40, 50]
  np.testing.assert_array_equal(state.num_labels, [10, 25, 40, 50])
  assert np.isfinite(np.asarray(state.accuracy)).all()
  picks = np.asarray(state.picks)
  assert (picks[2, 10:] == -1).all() and (picks[:2] >= 0).all()
  all_picks = np.concatenate([picks[0], picks[1], picks[2, :10]])
  assert len(set(all_picks.tolist())) == 40
  assert int(state.round) == 4
  with pytest.raises(ValueError, match="finished"):
    learner.round(state, strategy)
  summary = loop.summarize(state)
  a = [log.accuracy for log in logs]  # trapezoids of 15, 15 and the partial 10 labels
  by_hand = ((a[0] + a[1]) * 15 / 2 + (a[1] + a[2]) * 15 / 2 + (a[2] + a[3]) * 10 / 2) / 40
  assert summary["aubc"] == pytest.approx(by_hand, rel=1e-6)
  assert summary["f_acc"] == a[3]


def test_same_seed_same_run_and_other_seed_other_run(synthetic):
  learner = _learner(synthetic)
  a, _ = learner.run(jax.random.key(0), "entropy")
  b, _ = learner.run(jax.random.key(0), "entropy")
  c, _ = learner.run(jax.random.key(1), "entropy")
  np.testing.assert_array_equal(a.picks, b.picks)
  np.testing.assert_array_equal(a.accuracy, b.accuracy)
  assert not np.array_equal(a.labeled, c.labeled)


@pytest.mark.parametrize("strategy", ["entropy", "albl"])
def test_a_later_round_compiles_nothing_new(synthetic, key, strategy):
  learner = _learner(synthetic, loop.ALConfig(10, 15, 45, num_mc=2))
  state = learner.init(key, strategy)
  state, _ = learner.round(state, strategy)
  with compiled_programs() as programs:
    state, _ = learner.round(state, strategy)
    state, _ = learner.round(state, strategy)
  assert programs == []


@pytest.mark.parametrize(
  "config, message",
  [
    (loop.ALConfig(10, 15, 391), "larger than the unlabeled pool"),
    (loop.ALConfig(400, 15, 10), "smaller than the pool"),
    (loop.ALConfig(0, 15, 10), "num_initial"),
    (loop.ALConfig(10, 0, 10), "query_size"),
  ],
)
def test_impossible_budgets_fail_before_training(synthetic, config, message):
  with pytest.raises(ValueError, match=message):
    _learner(synthetic, config)


def test_unknown_strategy_fails_before_training(synthetic, key):
  learner = _learner(synthetic)
  with pytest.raises(ValueError, match="Valid strategies"):
    learner.run(key, "nope")


def test_add_picks_records_partial_rows(key):
  state = loop.init_state(key, 30, loop.ALConfig(5, 4, 6))
  state = loop.add_picks(state, jnp.asarray([1, 2], jnp.int32))
  np.testing.assert_array_equal(state.picks[0], [1, 2, -1, -1])


@pytest.mark.parametrize(
  "bad",
  [
    lambda p: p.at[3].set(-1),  # one missing pick: np.unique still counts k values
    lambda p: p.at[3].set(p[4]),  # a repeat
    lambda p: p.at[0].set(400),  # outside the pool
    lambda p: p[:-1],  # too few
  ],
)
def test_a_broken_pick_contract_stops_the_run(synthetic, key, bad):
  learner = _learner(synthetic)
  spec = learner.strategy("entropy")

  def query(state, key, context, k):
    picks, state, info = spec.query(state, key, context, k)
    return bad(picks), state, info

  learner._strategies["entropy"] = spec._replace(query=query)
  state = learner.init(key, "entropy")
  with pytest.raises(RuntimeError, match="broke the pick contract at round 0"):
    learner.round(state, "entropy")


def test_the_round_zero_cache_evicts_its_oldest_seed_first(synthetic, monkeypatch):
  monkeypatch.setattr(loop, "FIRST_MODELS", 2)
  learner = _learner(synthetic)
  fits = []
  fit = learner.trainer.fit
  learner.trainer.fit = lambda *args, **kwargs: fits.append(1) or fit(*args, **kwargs)
  logs = {}
  for seed in (0, 1, 2):  # three seeds into a cache of two: seed 0's model goes
    _, logs[seed] = learner.round(learner.init(jax.random.key(seed), "random"), "random")
  assert len(fits) == 3 and len(learner._first_models) == 2
  learner.round(learner.init(jax.random.key(2), "random"), "random")  # kept: not retrained
  assert len(fits) == 3
  _, again = learner.round(learner.init(jax.random.key(0), "random"), "random")  # evicted
  assert len(fits) == 4 and again.accuracy == logs[0].accuracy
  assert len(learner._first_models) == 2  # seed 1's went out for it


def test_round_zero_is_trained_once_per_seed_and_shared_by_the_strategies(synthetic, key):
  learner = _learner(synthetic)
  fits = []
  fit = learner.trainer.fit
  learner.trainer.fit = lambda *args, **kwargs: fits.append(1) or fit(*args, **kwargs)
  random_state, random_log = learner.round(learner.init(key, "random"), "random")
  entropy_state, entropy_log = learner.round(learner.init(key, "entropy"), "entropy")
  assert len(fits) == 1  # the second strategy's round 0 reused the first's model
  assert random_log.accuracy == entropy_log.accuracy
  # The reused model is the one a learner of its own would train: same picks.
  fresh_state, fresh_log = _learner(synthetic).round(learner.init(key, "entropy"), "entropy")
  np.testing.assert_array_equal(entropy_log.picks, fresh_log.picks)
  assert fresh_log.accuracy == entropy_log.accuracy
  learner.round(learner.init(jax.random.key(1), "entropy"), "entropy")  # another seed
  learner.round(entropy_state, "entropy")  # a later round
  assert len(fits) == 3


def test_a_round_program_reads_nothing_back_from_the_device(synthetic, key):
  learner = _learner(synthetic)
  spec = learner.strategy("entropy")
  program = jax.jit(learner.round_program(spec, CONFIG.round_size(0)))
  state = learner.init(key, "entropy")
  jax.block_until_ready(program(state))  # compile (tracing reads no value either)
  with jax.transfer_guard_device_to_host("disallow"):
    new_state, out = program(state)
    jax.block_until_ready(new_state)
  assert bool(out.ok) and int(new_state.round) == 1
  _, log = learner.round(state, "entropy")
  np.testing.assert_array_equal(out.picks, log.picks)


def test_run_seeds_stops_at_a_pick_contract_broken_on_device(synthetic):
  learner = _learner(synthetic)
  keys = jax.random.split(jax.random.key(0), 2)
  spec = learner.strategy("entropy")

  def query(state, key, context, k):  # a repeated pick, checked on device
    picks, state, info = spec.query(state, key, context, k)
    return picks.at[1].set(picks[0]), state, info

  learner._strategies["entropy"] = spec._replace(query=query)
  with pytest.raises(RuntimeError, match="broke the pick contract at round 0"):
    learner.run_seeds(keys, "entropy")


# AutoAL's round as one program against its host-driven form: tests/test_pure.py.
@pytest.mark.parametrize("strategy", ["tailor"])
def test_fused_rounds_equal_the_host_driven_ones(synthetic, strategy):
  from autoal_jax import search

  config = search.SearchConfig(
    candidates=("margin", "bald"),
    backbone="mlp",
    backbone_kwargs=(("hidden", (16,)),),
    steps=4,
    batch_size=16,
    warmup=train.TrainConfig(batch_size=16, epochs=1, min_steps=3, schedule="constant"),
  )
  trainer = _learner(synthetic).trainer
  al = loop.ALConfig(num_initial=10, query_size=15, quota=15, num_mc=3)  # one query
  fused = loop.ActiveLearner(synthetic, trainer, al, config, fused=True)
  host = loop.ActiveLearner(synthetic, trainer, al, config, fused=False)
  key = jax.random.key(11)
  fused_state, fused_logs = fused.run(key, strategy)
  host_state, host_logs = host.run(key, strategy)
  np.testing.assert_array_equal(fused_state.picks, host_state.picks)
  np.testing.assert_array_equal(fused_state.accuracy, host_state.accuracy)
  for a, b in zip(fused_logs[:-1], host_logs[:-1], strict=True):
    np.testing.assert_allclose(a.info.weights, b.info.weights, rtol=1e-6, atol=1e-7)
  # Round 0's model is still shared by a seed's strategies on the fused path.
  assert len(fused._first_models) == 1
