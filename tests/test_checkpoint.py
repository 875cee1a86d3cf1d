"""Checkpoint and resume of a run (library level; the CLI's SIGKILL test is in test_cli)."""

import errno
import os
import threading

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from autoal_jax import checkpoint, loop, models, search, train

AL = loop.ALConfig(num_initial=20, query_size=15, quota=40, num_mc=3)  # 15, 15, 10
SEARCH = search.SearchConfig(
  backbone="mlp",
  backbone_kwargs=(("hidden", (16,)),),
  steps=7,
  batch_size=16,
  warmup=train.TrainConfig(batch_size=16, epochs=1, min_steps=4, schedule="constant"),
)
IDENTITY = {"config": {"quota": 40}, "strategy": "x", "seed": 0}


def _learner(dataset):
  model = models.get_model("mlp", dataset.info.num_classes, hidden=(32,))
  trainer = train.Trainer(
    model, dataset.info, train.TrainConfig(batch_size=16, epochs=2, min_steps=8, eval_chunk=100)
  )
  return loop.ActiveLearner(dataset, trainer, AL, SEARCH)


class _Killed(Exception):
  pass


def _kill_after(num_rounds):
  def on_round(log):
    if log.round + 1 == num_rounds:
      raise _Killed

  return on_round


def _interrupted(learner, directory, num_rounds=1, key=0, on_round=None, strategy="entropy"):
  """Runs ``strategy`` with a checkpointer in ``directory``, killed after ``num_rounds``."""
  kill = _kill_after(num_rounds)

  def callback(log):
    if on_round is not None:
      on_round(log)
    kill(log)

  with pytest.raises(_Killed):
    learner.run(
      jax.random.key(key), strategy, callback,
      checkpointer=checkpoint.RunCheckpointer(directory, IDENTITY),
    )  # fmt: skip


def _same_run(a_state, a_logs, b_state, b_logs):
  for field in ("labeled", "num_labels", "accuracy", "picks", "round"):
    np.testing.assert_array_equal(getattr(a_state, field), getattr(b_state, field), err_msg=field)
  assert [log.accuracy for log in a_logs] == [log.accuracy for log in b_logs]
  for x, y in zip(a_logs, b_logs, strict=True):
    np.testing.assert_array_equal(x.picks, y.picks)
    infos = [checkpoint.log_to_json(log).get("info") for log in (x, y)]
    for info in infos:  # what the query reported, timings aside
      if info is not None:
        info["search_seconds"] = 0.0
    assert infos[0] == infos[1]


@pytest.mark.parametrize(
  # A single strategy (on features), a bandit's state (TAILOR's; ALBL's is checked across
  # a SIGKILL by tests/test_cli.py) and the search's networks.
  "strategy, data", [("entropy", "features"), ("tailor", "images"), ("autoal", "images")],
)  # fmt: skip
def test_a_resumed_run_equals_an_uninterrupted_one(
  synthetic, synthetic_features, tmp_path, strategy, data
):
  learner = _learner(synthetic_features if data == "features" else synthetic)
  key = jax.random.key(3)
  full_state, full_logs = learner.run(key, strategy)

  directory = str(tmp_path / "run")
  _interrupted(learner, directory, num_rounds=2, key=3, strategy=strategy)
  ckpt = checkpoint.RunCheckpointer(directory, IDENTITY)
  assert ckpt.latest_round() == 2
  seen = []
  state, logs = learner.run(key, strategy, seen.append, checkpointer=ckpt)
  assert [log.round for log in seen] == [0, 1, 2, 3]  # the restored rounds are reported too
  _same_run(full_state, full_logs, state, logs)
  # The search state came back, not a fresh one: the next round of both agree already.
  assert jax.tree.structure(state.strategy) == jax.tree.structure(full_state.strategy)
  for x, y in zip(
    jax.tree.leaves(full_state.strategy), jax.tree.leaves(state.strategy), strict=True
  ):
    np.testing.assert_array_equal(
      jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x,
      jax.random.key_data(y) if jax.dtypes.issubdtype(y.dtype, jax.dtypes.prng_key) else y,
    )
  # A finished run resumes to itself without training.
  again, _ = learner.run(
    key, strategy, checkpointer=checkpoint.RunCheckpointer(directory, IDENTITY)
  )
  np.testing.assert_array_equal(again.picks, full_state.picks)


def test_a_foreign_checkpoint_is_refused_and_kept(synthetic, tmp_path):
  learner = _learner(synthetic)
  directory = str(tmp_path / "run")
  _interrupted(learner, directory)
  other = {**IDENTITY, "config": {"quota": 41}}
  with pytest.raises(checkpoint.CheckpointError, match=r"another run \(differs in: config.quota\)"):
    learner.run(
      jax.random.key(0), "entropy", checkpointer=checkpoint.RunCheckpointer(directory, other)
    )
  with pytest.raises(checkpoint.CheckpointError, match="another key"):
    learner.run(
      jax.random.key(1), "entropy", checkpointer=checkpoint.RunCheckpointer(directory, IDENTITY)
    )
  assert checkpoint.RunCheckpointer(directory, IDENTITY).latest_round() == 1  # untouched


def test_a_corrupt_checkpoint_is_a_clear_error(synthetic, tmp_path):
  learner = _learner(synthetic)
  directory = str(tmp_path / "run")
  _interrupted(learner, directory)
  state_dir = os.path.join(directory, "1", "state")
  for root, _, files in os.walk(state_dir):
    for name in files:
      with open(os.path.join(root, name), "wb") as f:
        f.write(b"garbage")
  with pytest.raises(checkpoint.CheckpointError, match="cannot be read.*delete that folder"):
    learner.run(
      jax.random.key(0), "entropy", checkpointer=checkpoint.RunCheckpointer(directory, IDENTITY)
    )
  assert os.path.isdir(os.path.join(directory, "1"))  # nothing deleted


# The failed save's orbax writer threads and tasks end with errors of their own, after it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_full_disk_keeps_the_previous_checkpoint(synthetic, tmp_path, monkeypatch):
  learner = _learner(synthetic)
  directory = str(tmp_path / "run")
  seen = []
  _interrupted(learner, directory, on_round=seen.append)

  def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")

  # The JSON item is written next to the arrays: the disk fills in the middle of a step.
  monkeypatch.setattr(ocp.JsonCheckpointHandler, "_save_fn", no_space)
  threads = set(threading.enumerate())
  with pytest.raises(
    checkpoint.CheckpointError, match=r"round 1 .*No space left.*\(1 rounds\) is intact"
  ):
    learner.run(
      jax.random.key(0), "entropy", checkpointer=checkpoint.RunCheckpointer(directory, IDENTITY)
    )
  # The failed save's writer threads may still run in this process (the CLI exits here),
  # so only read: round 0's checkpoint is whole.
  ckpt = checkpoint.RunCheckpointer(directory, IDENTITY)
  state, logs = ckpt.restore(learner.init(jax.random.key(0), "entropy"), loop.RoundLog)
  assert int(state.round) == 1 and logs[0].accuracy == seen[0].accuracy
  np.testing.assert_array_equal(logs[0].picks, seen[0].picks)
  np.testing.assert_array_equal(np.asarray(state.picks[0]), seen[0].picks)
  for thread in set(threading.enumerate()) - threads:  # their errors stay in this test
    thread.join(timeout=5)


def test_what_a_killed_save_left_is_cleared_on_resume(synthetic, tmp_path):
  learner = _learner(synthetic)
  directory = str(tmp_path / "run")
  _interrupted(learner, directory)
  partial = os.path.join(directory, "2.orbax-checkpoint-tmp", "state")
  os.makedirs(partial)
  with open(os.path.join(partial, "half"), "wb") as f:
    f.write(b"\0" * 10)
  ckpt = checkpoint.RunCheckpointer(directory, IDENTITY)
  assert ckpt.latest_round() == 1  # the partial step is not a checkpoint
  state, _ = learner.run(jax.random.key(0), "entropy", checkpointer=ckpt)
  full, _ = learner.run(jax.random.key(0), "entropy")
  np.testing.assert_array_equal(state.picks, full.picks)
  np.testing.assert_array_equal(state.accuracy, full.accuracy)
  assert sorted(os.listdir(directory)) == ["4"]


def test_seeds_as_one_program_equal_sequential_runs_across_a_resume(synthetic, tmp_path):
  # TAILOR: a bandit state, MC passes, a partial last round; two seeds.
  learner = loop.ActiveLearner(
    synthetic, _learner(synthetic).trainer, AL, candidates=("margin", "bald")
  )
  keys = jax.random.split(jax.random.key(4), 2)
  sequential = [learner.run(keys[s], "tailor") for s in range(2)]

  directory = str(tmp_path / "seeds")
  identity = {**IDENTITY, "seeds": [0, 1]}

  def kill_after_round_1(r, logs):
    if r == 1:
      raise _Killed

  with pytest.raises(_Killed):
    learner.run_seeds(
      keys, "tailor", kill_after_round_1, checkpoint.RunCheckpointer(directory, identity)
    )
  seen = []
  states, logs = learner.run_seeds(
    keys, "tailor", lambda r, logs: seen.append(r), checkpoint.RunCheckpointer(directory, identity)
  )
  assert seen == [0, 1, 2, 3]  # the restored rounds are reported too
  assert states.labeled.shape == (2, synthetic.train_labels.shape[0])
  for s, (state, seq_logs) in enumerate(sequential):
    # Measured exactly equal on this CPU (the fit compiled whole runs the same steps).
    one = jax.tree.map(lambda x, s=s: x[s], states)
    _same_run(state, seq_logs, one, logs[s])
    for a, b in zip(jax.tree.leaves(state.strategy), jax.tree.leaves(one.strategy), strict=True):
      np.testing.assert_array_equal(a, b)
  with pytest.raises(checkpoint.CheckpointError, match="another key"):
    learner.run_seeds(
      jax.random.split(jax.random.key(5), 2), "tailor", None,
      checkpoint.RunCheckpointer(directory, identity),
    )  # fmt: skip
