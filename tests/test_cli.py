"""The command line end to end, as a user runs it (a subprocess per invocation)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import needs_fashion_mnist, synthetic_arrays

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache", "jax")
EMBEDDINGS = os.path.join(ROOT, ".cache", "embeddings")  # the pca default's, not the user's


def _run(workdir, *overrides, config="experiments/configs/smoke.py", dry=False):
  """Runs the CLI (``dry``: returns the command instead)."""
  command = [
    sys.executable,
    "-m",
    "experiments.main",
    f"--config={config}",
    f"--workdir={workdir}",
    f"--config.jax_cache_dir={CACHE}",
  ]
  if not any(o.startswith("--config.embeddings_cache=") for o in overrides):
    command.append(f"--config.embeddings_cache={EMBEDDINGS}")
  command += overrides
  if dry:
    return command
  return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _report(workdir):
  """experiments.report on a finished workdir (the markdown tables of docs/results.md)."""
  return subprocess.run(
    [sys.executable, "-m", "experiments.report", workdir],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
  path = tmp_path_factory.mktemp("data") / "synthetic.npz"
  train_x, train_y, test_x, test_y = synthetic_arrays(2000, 500, (12, 12, 1), 4)
  np.savez(path, train_images=train_x, train_labels=train_y, test_images=test_x, test_labels=test_y)
  return f"--config.dataset=npz:{path}"


@pytest.fixture(scope="module")
def features_npz(tmp_path_factory):
  """Float features (a fixed embedding's [N, 24]) of the same task, unstandardised."""
  path = tmp_path_factory.mktemp("data") / "features.npz"
  rng = np.random.RandomState(1)
  arrays = {}
  for split, n in (("train", 2000), ("test", 500)):
    labels = rng.randint(0, 4, n).astype(np.int32)
    features = rng.normal(3.0, 2.0, (n, 24)).astype(np.float32)
    features[np.arange(n), labels] += 4.0
    arrays[f"{split}_images"], arrays[f"{split}_labels"] = features, labels
  np.savez(path, **arrays)
  return f"--config.dataset=npz:{path}"


def _check_results(workdir, strategies, seeds):
  for name in ("results.json", "curves.csv", "learning_curve.png"):
    assert os.path.getsize(os.path.join(workdir, name)) > 0, name
  with open(os.path.join(workdir, "results.json")) as f:
    results = json.load(f)
  assert results["config"]["quota"] == 50
  assert {(r["strategy"], r["seed"]) for r in results["runs"]} == {
    (s, i) for s in strategies for i in range(seeds)
  }
  for run in results["runs"]:
    assert run["labels"] == [20, 40, 60, 70]
    assert len(run["accuracy"]) == 4 and all(0 <= a <= 1 for a in run["accuracy"])
    assert [len(p) for p in run["picks"]] == [20, 20, 10]
    flat = [i for p in run["picks"] for i in p]
    assert len(set(flat)) == 50
    assert len(run["seconds"]["train"]) == 4 and len(run["seconds"]["query"]) == 4
    assert 0 <= run["aubc"] <= 1 and run["f_acc"] == run["accuracy"][-1]
  assert set(results["summary"]) == set(strategies)
  for entry in results["summary"].values():
    assert set(entry) >= {"aubc_mean", "aubc_std", "f_acc_mean", "f_acc_std"}
  with open(os.path.join(workdir, "curves.csv")) as f:
    assert len(f.read().strip().splitlines()) == 1 + 4 * len(strategies) * seeds
  return results


@pytest.mark.slow
def test_the_compare_config_writes_everything_resumes_and_runs_its_seeds_vmapped(tmp_path, npz):
  from experiments.configs import compare

  workdir = str(tmp_path / "compare")
  # One strategy of every kind runs from the CLI in `test_one_strategy_of_every_kind_...`
  # (the vote, the bandits, TAILOR, the report's bandit lines); here the suite's structure
  # (two paired seeds, the table, autoal's rank, the report, the resume, the seeds
  # vmapped) with a single strategy and the search. Until 2026-12-04 the smoke config's
  # own run was a test of its own (the smoke config runs in the tests below): the suite's
  # time.
  chosen = ("random", "autoal")
  assert set(chosen) <= set(compare.STRATEGIES)
  config = "experiments/configs/compare.py:smoke"
  first = _run(workdir, npz, f"--config.strategies={','.join(chosen)}", config=config)
  assert first.returncode == 0, first.stderr[-3000:]
  out = first.stderr + first.stdout
  assert "AUBC" in first.stdout and "round 3/3" in out
  assert "last round: the 10 labels left" in out
  assert "%|" not in out  # no progress bars in a log, only lines
  results = _check_results(workdir, chosen, 2)
  assert os.path.getsize(os.path.join(workdir, "strategy_weights.png")) > 0
  # The table is printed last, best mean AUBC first, then autoal's rank.
  lines = first.stdout.strip().splitlines()
  summary = results["summary"]
  ranked = sorted(summary, key=lambda s: -summary[s]["aubc_mean"])
  rows = lines[-len(ranked) - 1 : -1]
  assert [row.split()[1] for row in rows] == ranked
  assert [row.split()[0] for row in rows] == [str(i) for i in range(1, len(ranked) + 1)]
  rank = ranked.index("autoal") + 1
  assert lines[-1].startswith(f"autoal: rank {rank} of {len(ranked)} by mean AUBC")
  assert all(summary[s]["seeds"] == [0, 1] for s in ranked)
  # The markdown report of docs/results.md, from the same results.json.
  report = _report(workdir)
  assert report.returncode == 0, report.stderr
  rows = [line for line in report.stdout.splitlines() if line.startswith("| 1 | ")]
  assert rows[0].split(" | ")[1] == ranked[0]
  assert "autoal: " in report.stdout and "soft_count_v" in report.stdout

  again = _run(workdir, npz, f"--config.strategies={','.join(chosen)}", config=config)
  assert again.returncode == 0 and "already in" in again.stdout
  with open(os.path.join(workdir, "results.json")) as f:
    assert json.load(f)["runs"] == results["runs"]

  # The same experiment with the seeds of each strategy as one vmapped program: the same
  # results, timings aside, and the same workdir accepts either.
  vmapped = str(tmp_path / "vmapped")
  run = _run(vmapped, npz, "--config.vmap_seeds=True", "--config.strategies=random", config=config)
  assert run.returncode == 0, run.stderr[-3000:]
  assert "random seeds 0-1 (vmapped) round 3/3" in run.stdout
  sequential = [r for r in _without_timings(workdir)["runs"] if r["strategy"] == "random"]
  assert _without_timings(vmapped)["runs"] == sequential
  assert os.path.isdir(os.path.join(vmapped, "checkpoints", "random-seeds0-1"))
  mixed = _run(
    workdir, npz, "--config.vmap_seeds=True", f"--config.strategies={','.join(chosen)}",
    config=config,
  )  # fmt: skip
  assert mixed.returncode == 0 and "already in" in mixed.stdout


def _without_timings(workdir):
  with open(os.path.join(workdir, "results.json")) as f:
    results = json.load(f)
  for run in results["runs"]:
    del run["seconds"]
  return results


@pytest.mark.slow
def test_sigkill_mid_round_then_the_same_command_resumes_to_the_same_results(tmp_path, npz):
  # Rounds long enough (a few hundred steps) that the kill lands inside one.
  args = (
    npz,
    "--config.strategies=albl",  # (and entropy until 2026-12-04: the suite's time)
    "--config.seeds=1",
    "--config.quota=40",  # two queries: the kill lands in the second
    "--config.train.min_steps=300",
  )
  whole = str(tmp_path / "whole")
  result = _run(whole, *args)
  assert result.returncode == 0, result.stderr[-3000:]

  killed = str(tmp_path / "killed")
  command = _run(killed, *args, dry=True)
  process = subprocess.Popen(
    command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
  )
  first_round = os.path.join(killed, "checkpoints", "albl-seed0", "1")
  deadline = time.monotonic() + 300
  while not os.path.exists(first_round) and process.poll() is None and time.monotonic() < deadline:
    time.sleep(0.02)
  assert process.poll() is None, "the run ended before it could be killed"
  process.send_signal(signal.SIGKILL)  # after round 1's checkpoint, inside the last query
  process.wait()
  assert not os.path.exists(os.path.join(killed, "results.json"))

  # A changed config meets the checkpoint (no results.json yet): refused, nothing touched.
  listing = sorted(os.listdir(os.path.join(killed, "checkpoints", "albl-seed0")))
  other = _run(killed, *args, "--config.train.learning_rate=0.002")
  assert other.returncode != 0
  assert "belongs to another run (differs in: config.train.learning_rate)" in other.stderr
  assert sorted(os.listdir(os.path.join(killed, "checkpoints", "albl-seed0"))) == listing

  resumed = _run(killed, *args)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert "albl seed 0: resuming after round" in resumed.stderr + resumed.stdout
  # Same seed, same config: the same results.json (timings aside), across the resume.
  assert _without_timings(killed) == _without_timings(whole)


# One of each kind: every registered strategy's query is run (jitted and vmapped) in
# tests/test_pure.py; here what the CLI adds to each kind (its needs: MC passes, a
# LossNet; its reports: a bandit's arms, TAILOR's shares, a search's metrics). Left out
# for the suite's time: random and kmeans (single strategies, as margin), var_ratio_mc
# (the MC passes run for autoal's BALD candidate), albl-port (albl's reports) and
# autoal-code and since 2026-12-04 autoal-paper (autoal's reports; their LossNet column in
# tests/test_pure.py and tests/test_search.py).
KINDS = ("margin", "loss_prediction", "uniform-mix", "tailor", "albl", "autoal")


@pytest.mark.slow
def test_one_strategy_of_every_kind_runs_from_the_cli_on_float_features(tmp_path, features_npz):
  from autoal_jax import strategies

  workdir = str(tmp_path / "all")
  assert set(KINDS) <= set(strategies.names())
  names = ",".join(KINDS)
  # On float features with a linear task model, SearchNet's backbone following the input
  # ('auto': the MLP); the mixtures over the smoke config's three candidates; two queries
  # (20, then a partial 10) instead of the smoke config's three, for the suite's time.
  result = _run(
    workdir, features_npz, f"--config.strategies={names}", "--config.seeds=1",
    "--config.num_mc=2", "--config.quota=30", "--config.model=linear",
    "--config.search.backbone=auto", "--config.embeddings=pca:8",
    f"--config.embeddings_cache={tmp_path / 'embeddings'}",
  )  # fmt: skip
  assert result.returncode == 0, result.stderr[-3000:]
  assert "features (24,); model linear" in result.stdout
  # PCA of the pool, computed once for every strategy (the coverage ones measure on it).
  assert result.stdout.count("embeddings pca:8: (2000, 8)") == 1
  assert len(list((tmp_path / "embeddings").iterdir())) == 1
  with open(os.path.join(workdir, "results.json")) as f:
    results = json.load(f)
  assert sorted(results["summary"]) == sorted(KINDS)
  for run in results["runs"]:
    flat = [i for p in run["picks"] for i in p]
    assert len(set(flat)) == 30, run["strategy"]
    if run["strategy"].startswith("autoal"):
      assert len(run["search"]) == 2  # one search per query
      for entry in run["search"]:
        # autoal's extra column: its low-budget leader's (uherding_cvswitch_agree).
        leader = list(entry["weights"])[-1]
        assert len(entry["weights"]) == 4 and leader == "uherding_cvswitch_agree"
        assert abs(sum(entry["weights"].values()) - 1) < 1e-4
        assert entry["soft_count_v"] >= 0 and entry["target_count_v"] > 0
    elif run["strategy"] in ("albl", "albl-port"):
      assert len(run["search"]) == 2
      for entry in run["search"]:  # 3 candidates + random, probabilities of the draw
        assert len(entry["weights"]) == 4 and abs(sum(entry["weights"].values()) - 1) < 1e-5
        assert entry["arm"] in entry["weights"] and min(entry["weights"].values()) >= 1 / 80
      assert run["search"][0]["reward"] == 0 and run["search"][1]["reward"] > 0
    elif run["strategy"] == "tailor":
      assert len(run["search"]) == 2
      for entry in run["search"]:  # the share of the slots each candidate filled
        assert len(entry["weights"]) == 3 and abs(sum(entry["weights"].values()) - 1) < 1e-5
        assert "arm" not in entry
      assert "batch_reward" not in run["search"][0] and "batch_reward" in run["search"][1]
    else:
      assert "search" not in run
  assert os.path.getsize(os.path.join(workdir, "strategy_weights.png")) > 0
  out = result.stderr + result.stdout
  assert "weights over the picks" in out and "albl drew" in out
  report = _report(workdir)
  assert report.returncode == 0, report.stderr
  assert "albl: arms drawn per seed" in report.stdout


@pytest.mark.parametrize(
  "overrides, message",
  [
    (["--config.quota=30"], "another config"),
    (["--config.strategies=random,nope"], "Valid strategies"),
    (["--config.model=vgg"], "Valid models"),
    (["--config.train.optimizer=lamb"], "Valid optimizers"),
    (["--config.qutoa=3"], "unknown config field 'qutoa'; did you mean 'quota'?"),
    (["--config.strategies=autoal", "--config.search.relaxation=hard"], "Unknown relaxation"),
    (["--config.strategies=autoal", "--config.search.candidates=autoal"], "not a single strategy"),
    (["--config.seeds=0"], "seeds must be >= 1"),
    (["--config.quota=abc"], "error: config field 'quota' got 'abc': expected int"),
    (["--config.train.augment=maybe"], "field 'train.augment' got 'maybe': expected bool"),
  ],
)
def test_bad_invocations_change_nothing(tmp_path, npz, overrides, message):
  workdir = tmp_path / "run"
  workdir.mkdir()
  previous = {"config": json.loads(json.dumps(_smoke_config_dict(npz))), "runs": [], "summary": {}}
  (workdir / "results.json").write_text(json.dumps(previous))
  before = (workdir / "results.json").read_bytes()
  result = _run(str(workdir), npz, *overrides)
  assert result.returncode != 0
  assert message in result.stderr + result.stdout
  assert (workdir / "results.json").read_bytes() == before
  assert sorted(os.listdir(workdir)) == ["results.json"]


def test_corrupt_results_and_impossible_budget(tmp_path, npz):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "results.json").write_text("{not json")
  result = _run(str(workdir), npz)
  assert result.returncode != 0 and "not a readable results file" in result.stderr
  assert (workdir / "results.json").read_text() == "{not json"
  result = _run(str(tmp_path / "other"), npz, "--config.quota=5000")
  assert result.returncode != 0 and "larger than the unlabeled pool" in result.stderr


def _smoke_config_dict(npz):
  sys.path.insert(0, ROOT)
  from experiments.configs import smoke

  config = smoke.get_config()
  config.dataset = npz.split("=", 1)[1]
  config.jax_cache_dir = CACHE
  return config.to_dict()


@needs_fashion_mnist
def test_smoke_config_as_shipped_on_fashion_mnist(tmp_path):
  # The shipped config's data path (Debian's files) and model; one strategy and seed (its
  # two strategies and two seeds run on the npz in the tests above).
  result = _run(str(tmp_path / "run"), "--config.strategies=random", "--config.seeds=1")
  assert result.returncode == 0, result.stderr[-3000:]
  _check_results(str(tmp_path / "run"), ["random"], 1)


def test_frozen_features_from_the_cli(tmp_path, npz):
  # The frozen-feature protocol: pool and test set as the pool's PCA, a linear head, the
  # distances on the components (unwhitened); one query.
  cache = tmp_path / "cache"
  result = _run(
    str(tmp_path / "inputs"), npz, "--config.inputs=pca:6", "--config.embeddings=inputs",
    "--config.model=linear", "--config.strategies=kmeans", "--config.seeds=1",
    "--config.quota=10", f"--config.embeddings_cache={cache}",
  )  # fmt: skip
  assert result.returncode == 0, result.stderr[-3000:]
  assert "features (6,); model linear" in result.stdout
  assert "inputs pca:6: 6 features" in result.stdout and len(list(cache.iterdir())) == 1
  bad = _run(str(tmp_path / "bad"), npz, "--config.embeddings=inputs")
  assert bad.returncode != 0 and "embeddings=inputs on images needs --config.inputs" in bad.stderr


def test_pretrained_weights_from_the_cli(tmp_path, npz):
  import jax
  from flax import serialization

  from autoal_jax import models

  model = models.get_model("mlp", 4)  # the smoke config's model on 12x12 images
  variables = model.init(jax.random.key(1), np.zeros((1, 12, 12, 1), np.float32))
  weights = tmp_path / "weights.msgpack"
  weights.write_bytes(serialization.to_bytes(variables))
  frozen = ["--config.train.freeze_backbone=True", "--config.seeds=1", "--config.strategies=margin"]
  result = _run(str(tmp_path / "run"), npz, *frozen, f"--config.pretrained={weights}")
  assert result.returncode == 0, result.stderr[-3000:]
  result = _run(str(tmp_path / "none"), npz, *frozen)
  assert result.returncode != 0 and "freeze_backbone needs pretrained weights" in result.stderr
  result = _run(str(tmp_path / "gone"), npz, "--config.pretrained=/nonexistent.msgpack")
  assert result.returncode != 0 and "no pretrained weights at" in result.stderr


def test_the_warmup_config_is_its_own_and_overrides_nothing_silently():
  sys.path.insert(0, ROOT)
  from autoal_jax import train
  from experiments import common
  from experiments.configs import default

  config = default.get_config()
  config.train.optimizer = "sgd"
  config.train.epochs = 9
  config.search.warmup_optimizer = "adamw"
  config.search.warmup_epochs = 3
  config.search.loss_margin = 2.5
  train_config = train.TrainConfig(**config.train.to_dict())
  search_config = common.search_config(config, train_config)
  warmup = search_config.warmup
  assert (warmup.optimizer, warmup.epochs) == ("adamw", 3)  # config.search's, as named
  assert warmup.batch_size == train_config.batch_size  # the rest follows config.train
  assert search_config.loss_margin == 2.5


def test_the_compare_config_sizes():
  from experiments.configs import compare, default

  low = compare.get_config("low_budget")
  assert (low.num_initial, low.query_size, low.quota, low.seeds) == (100, 100, 1000, 3)
  assert (low.train.epochs, low.train.min_steps, low.train.schedule) == (15, 250, "constant")
  assert low.dataset == default.get_config().dataset
  # autoal as the suite's stored results ran (v1's budget rule), not the default's (v10).
  assert (low.search.low_budget_leader, low.search.low_budget_per_class) == ("typiclust", 10.0)
  # The command line's default rule is the library's (`search.SearchConfig()`): v10.
  from autoal_jax import search

  rule = ("low_budget_leader", "low_budget_per_class", "low_budget_balance")
  cli = default.get_config().search
  assert [cli[k] for k in rule] == [getattr(search.SearchConfig(), k) for k in rule]
  assert cli.low_budget_leader == "uherding_cvswitch_agree"
  assert compare.get_config("").strategies.split(",")[-3:] == [
    "autoal-code", "autoal-paper", "autoal",
  ]  # fmt: skip
  digits = compare.get_config("digits")
  assert (digits.dataset, digits.pool_size, digits.seeds) == ("digits", 0, 5)
  assert (digits.num_initial, digits.query_size, digits.quota) == (20, 20, 200)
  assert digits.train == default.get_config().train  # the digits runs' training
  with pytest.raises(ValueError, match="Unknown size"):
    compare.get_config("huge")


def test_the_demo_config_runs_autoal_against_margin_and_random():
  from experiments.configs import default, demo

  config = demo.get_config()
  assert config.strategies == "autoal,margin,random" and config.seeds == 3
  assert (config.num_initial, config.query_size, config.quota) == (500, 250, 1500)
  base = default.get_config()
  assert config.search.to_dict() == base.search.to_dict()  # autoal as configured by default
  assert config.train.to_dict() == {**base.train.to_dict(), "min_steps": 100}


def test_a_key_added_at_its_default_leaves_a_workdir_the_same_experiment():
  from experiments import common

  defaults = {"quota": 10, "search": {"eliminate": 2.0, "balance_counts": "round"}, "new": 1}
  stored = {"quota": 30, "search": {"eliminate": 2.0}}  # written before the two keys existed
  same = {"quota": 30, "search": {"eliminate": 2.0, "balance_counts": "round"}, "new": 1}
  assert common.with_new_defaults(stored, same, defaults) == same
  for other in (
    {**same, "search": {"eliminate": 2.0, "balance_counts": "initial"}},  # not the default
    {**same, "quota": 20},  # a value that differs is never filled
  ):
    assert common.with_new_defaults(stored, other, defaults) != other
  # The default config's own keys: a results file without balance_counts still resumes.
  from experiments.configs import default

  config = default.get_config().to_dict()
  old = {**config, "search": {k: v for k, v in config["search"].items() if k != "balance_counts"}}
  assert common.with_new_defaults(old, config) == config
