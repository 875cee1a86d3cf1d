"""Bad input: each is a clear error, before compute where possible (docs/robustness.md).

The CLI's other cases (unknown names, typos, impossible budgets, corrupt results, foreign
checkpoints) are in test_cli; corrupt checkpoints and a full disk in test_checkpoint.
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import data, loop, models, strategies, train
from autoal_jax.types import PoolOutputs
from tests.test_cli import ROOT, _run, npz  # noqa: F401 (a fixture)


def _outputs(n=50, c=4, d=8, mc=False):
  key = jax.random.key(0)
  probs = jax.nn.softmax(jax.random.normal(key, (n, c)))
  mc_probs = jnp.stack([probs] * 3) if mc else None
  return PoolOutputs(jnp.log(probs), probs, jax.random.normal(key, (n, d)), mc_probs, None)


def test_nan_or_inf_inputs_are_refused_with_their_count():
  images = np.zeros((10, 4, 4), np.float32)  # float inputs are features: finite ones only
  images[0, 0, 0], images[1, 1, 1] = np.nan, np.inf
  labels = np.zeros(10, np.int32)
  with pytest.raises(ValueError, match="holds 2 NaN or Inf values"):
    data.from_arrays(images, labels, images, labels)


@pytest.mark.parametrize(
  "change, error, message",
  [
    (dict(mask=jnp.ones(50, jnp.int32)), TypeError, r"candidate_mask must be bool\[N\]"),
    (dict(mask=jnp.ones(49, bool)), ValueError, r"shapes \(50, 4\) and \(49,\)"),
    (dict(outputs=_outputs()._replace(probs=jnp.ones(4))), ValueError, r"\[N, C\]"),
    (dict(k=0), ValueError, "k=0 picks asked from 50"),
    (dict(k=51), ValueError, "k=51 picks asked from 50"),
    (dict(name="bald"), ValueError, "needs T >= 2 MC-dropout passes"),
    (dict(name="nope"), ValueError, "Valid strategies"),
    (
      dict(outputs=_outputs()._replace(probs=_outputs().probs.at[3, 1].set(jnp.nan))),
      ValueError,
      "outputs.probs holds 1 non-finite values",
    ),
  ],
)
def test_bad_pick_inputs_through_the_python_api(change, error, message):
  args = dict(name="entropy", outputs=_outputs(), mask=jnp.ones(50, bool), k=5) | change
  with pytest.raises(error, match=message):
    strategies.pick(args["name"], jax.random.key(0), args["outputs"], args["mask"], args["k"])


def test_wrong_ranks_in_the_pickers_and_the_loop(synthetic):
  with pytest.raises(AssertionError, match="rank"):
    strategies.kcenter_greedy(jnp.ones((1, 50, 8)), jnp.zeros(50, bool), 5)
  with pytest.raises(AssertionError, match="rank"):
    strategies.entropy(jnp.ones(4))
  broken = synthetic._replace(train_images=synthetic.train_images[..., 0])
  model = models.get_model("mlp", 4)
  trainer = train.Trainer(model, synthetic.info, train.TrainConfig())
  with pytest.raises(ValueError, match=r"must be \[N, \*\(12, 12, 1\)\]"):
    loop.ActiveLearner(broken, trainer, loop.ALConfig(10, 10, 20))
  with pytest.raises(ValueError, match="larger than the unlabeled pool"):
    loop.ActiveLearner(synthetic, trainer, loop.ALConfig(10, 10, 10_000))


@pytest.mark.parametrize("workdir", ["/sys/autoal_jax_test", "/sys"])
def test_a_workdir_without_write_permission(npz, workdir):  # noqa: F811
  # sysfs refuses writes even to root (CI runs as root; chmod would not stop it).
  if not os.path.isdir("/sys"):
    pytest.skip("needs Linux's /sys")
  result = _run(workdir, npz)
  assert result.returncode != 0
  assert f"the workdir {workdir} is not writable" in result.stderr


def test_a_missing_dataset_too_many_devices_and_too_few_mc_passes(tmp_path, npz):  # noqa: F811
  result = _run(str(tmp_path / "a"), "--config.dataset=npz:/nonexistent/data.npz")
  assert result.returncode != 0 and "does not exist" in result.stderr
  result = _run(str(tmp_path / "b"), npz, "--config.num_devices=4096")
  assert result.returncode != 0 and "num_devices must be in [0, 1]" in result.stderr
  assert not os.path.exists(tmp_path / "b")  # refused before the workdir was made
  result = _run(str(tmp_path / "c"), npz, "--config.strategies=bald", "--config.num_mc=1")
  assert result.returncode != 0 and "strategy 'bald' needs num_mc >= 2, got 1" in result.stderr


def test_a_full_disk_while_writing_results_loses_nothing(tmp_path, npz):  # noqa: F811
  workdir = str(tmp_path / "run")
  args = [*_run(workdir, npz, "--config.strategies=entropy", "--config.seeds=1", dry=True)[3:]]
  # The CLI in a process whose results writer finds the disk full.
  code = (
    "import errno, runpy, sys\n"
    "from experiments import reporting\n"
    "def full(*a, **k):\n"
    "  raise OSError(errno.ENOSPC, 'No space left on device')\n"
    "reporting.write_results = full\n"
    "sys.argv = ['experiments.main'] + sys.argv[1:]\n"
    "runpy.run_module('experiments.main', run_name='__main__')\n"
  )
  full = subprocess.run(
    [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
  )
  assert full.returncode != 0
  assert "could not write the results" in full.stderr and "No space left" in full.stderr
  assert not os.path.exists(os.path.join(workdir, "results.json"))
  # The finished run is in its checkpoint: the same command writes it without training.
  again = _run(workdir, npz, "--config.strategies=entropy", "--config.seeds=1")
  assert again.returncode == 0, again.stderr[-3000:]
  assert "resuming after round 3" in again.stderr + again.stdout
  assert "training" not in again.stderr
  with open(os.path.join(workdir, "results.json")) as f:
    assert [run["strategy"] for run in json.load(f)["runs"]] == ["entropy"]


def test_a_class_without_samples_is_refused_with_the_counts(synthetic):
  one_based = synthetic.train_labels + 1  # labels 1..4: from_arrays sees 5 classes
  dataset = data.from_arrays(
    synthetic.train_images, one_based, synthetic.test_images, synthetic.test_labels + 1
  )
  model = models.get_model("mlp", dataset.info.num_classes, hidden=(8,))
  trainer = train.Trainer(model, dataset.info, train.TrainConfig())
  counts = np.bincount(one_based, minlength=5).tolist()
  with pytest.raises(ValueError, match=rf"class \[0\] of 5 has no sample.*1-based.*{counts}"):
    loop.ActiveLearner(dataset, trainer, loop.ALConfig(10, 10, 20))
