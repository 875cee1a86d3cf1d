"""Data parallelism: 2 processes of 2 (virtual CPU) devices each (as 2 hosts) give the
results of 1 device, through the CLI, on float features (the MLP takes images and features
alike; the batches split over the devices are [B, D] here, [B, H, W, Ch] for images, the
same sharding rule). (8 devices in one process were checked the same way
until the suite's time needed the room: the 2 x 2 run covers several devices in a process
and several processes at once.)"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from autoal_jax import sharding
from tests.conftest import feature_arrays

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache", "jax")
# A single pass: the task model trains data parallel, its pool outputs are gathered, the
# picks made on the replicated outputs. Left out for the suite's time: the searches (since
# 2026-12-04 autoal too: 55 of the test's 87 CPU seconds; its FitNet trains through the
# same `train.Trainer` on the same mesh, its bi-level step runs replicated), BADGE (a set
# picker on the gathered, replicated pool outputs), loss_prediction (the LossNet trains in
# the task model's data-parallel step) and ALBL (its bandit runs replicated on a pass).
STRATEGIES = "entropy"


def test_make_mesh_checks_the_device_count():
  assert sharding.make_mesh().size == sharding.make_mesh(0).size >= 1
  with pytest.raises(ValueError, match=r"num_devices must be in \[0, 1\]"):
    sharding.make_mesh(2 if sharding.make_mesh().size == 1 else 10_000)
  x = np.ones((4, 3), np.float32)
  assert sharding.constrain_batch(x, sharding.make_mesh(1)) is x  # one device: untouched


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_of_two_devices_pick_what_one_device_picks(tmp_path):
  train_x, train_y, test_x, test_y = feature_arrays(2000, 496, 24, 4, seed=1)
  flip = np.random.default_rng(0).random(test_y.shape) < 0.2  # accuracies below 1
  test_y = np.where(flip, (test_y + 1) % 4, test_y).astype(np.int32)
  data = tmp_path / "data.npz"
  np.savez(data, train_images=train_x, train_labels=train_y, test_images=test_x, test_labels=test_y)

  def command(workdir, *extra):
    return [
      sys.executable, "-m", "experiments.main", "--config=experiments/configs/smoke.py",
      f"--workdir={workdir}", f"--config.jax_cache_dir={CACHE}", f"--config.dataset=npz:{data}",
      f"--config.embeddings_cache={tmp_path / 'embeddings'}",
      f"--config.strategies={STRATEGIES}", "--config.seeds=1", "--config.num_mc=3",
      # One query of 20, then the last training (a second round runs the same programs;
      # left out for the suite's time since 2026-12-04).
      "--config.test_size=0", "--config.quota=20", *extra,
    ]  # fmt: skip

  def results(workdir):
    with open(workdir / "results.json") as f:
      return {r["strategy"]: r for r in json.load(f)["runs"]}

  # With XLA's optimisations, as users run it (the suite turns most of them off for
  # compile time, tests/conftest.py): equal picks across device counts are a property of
  # the programs users get; unoptimised ones round differently (a k-means pick moved).
  optimised = {"JAX_DISABLE_MOST_OPTIMIZATIONS": "0"}
  env = {**os.environ, **optimised, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
  runs = {}
  workdir = tmp_path / "devices1"
  run = subprocess.run(
    command(workdir, "--config.num_devices=1"),
    cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
  )  # fmt: skip
  assert run.returncode == 0, run.stderr[-3000:]
  assert "data parallel over 1 of 8 cpu devices (1 processes)" in run.stdout
  runs[1] = results(workdir)

  # Two processes of two devices each, as two hosts would run (gloo between them).
  env = {**os.environ, **optimised, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
  workdir, port = tmp_path / "processes2", _free_port()
  processes = [
    subprocess.Popen(
      command(
        workdir,
        "--config.distributed=True",
        f"--config.coordinator_address=localhost:{port}",
        "--config.num_processes=2",
        f"--config.process_id={i}",
      ),
      cwd=ROOT,
      env=env,
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )  # fmt: skip
    for i in range(2)
  ]
  for process in processes:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    assert "data parallel over 4 of 4 cpu devices (2 processes)" in out
  runs["2x2"] = results(workdir)

  for name in STRATEGIES.split(","):
    one = runs[1][name]
    assert min(one["accuracy"]) < 0.95
    for other in (runs["2x2"][name],):
      assert one["picks"] == other["picks"], name  # the same picks every round
      np.testing.assert_allclose(one["accuracy"], other["accuracy"], atol=2 / 496, err_msg=name)
      for a, b in zip(one.get("search", []), other.get("search", []), strict=True):
        # autoal's SearchNet loss is a diagnostic of a chaotic fit (a soft top-r threshold
        # among near-tied votes): float reassociation across devices moved its round mean
        # by up to 65%. What decides its picks is compared instead: the candidates' values
        # and the guardrail's verdicts (and the picks above, exactly).
        keys = ("value_best",) if name == "autoal" else ("fit_loss", "search_loss", "reward")
        for key in keys:
          if key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-3, atol=1e-5, err_msg=name + key)
        for key in ("mixture", "survivors"):
          assert a.get(key) == b.get(key), name + key
