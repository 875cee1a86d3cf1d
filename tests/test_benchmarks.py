"""The prepared accelerator check runs end to end here, at its CPU smoke size, so that it is
known to work before any GPU minute is spent on it."""

import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = (
  "tests",
  "round_small_cnn",
  "round_resnet18",
  "seeds",
  "strategies",
  "throughput",
  "seed_runs",
)


@pytest.mark.slow
def test_the_accelerator_check_runs_at_its_cpu_smoke_size(tmp_path):
  env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
  result = subprocess.run(
    ["bash", "benchmarks/accelerator.sh", "check", "--cpu-smoke"],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=900,
  )
  assert result.returncode == 0, result.stdout + result.stderr
  summary = (tmp_path / "summary.md").read_text()
  for name in STEPS:
    assert f"| {name} | 0 |" in summary, summary
    assert (tmp_path / f"{name}.txt").stat().st_size > 0
  assert "1 passed" in summary  # the test subset
  assert "| entropy |" in summary and "| autoal |" in summary  # the round tables
  assert "| mlp |" in summary  # seeds and throughput rows
  assert "vmapped / one seed |" in summary and "\n| 2 |" in summary  # the whole-run table
  assert "\nbadge " in summary  # the strategies table


def test_the_proxy_check_statistics_by_hand():
  from benchmarks import proxy_stats as proxy_check

  assert proxy_check.spearman([1, 2, 3], [10, 20, 30]) == 1.0
  assert proxy_check.spearman([1, 2, 3], [3, 2, 1]) == -1.0
  assert proxy_check.spearman([1, 1, 2], [1, 2, 3]) == sp_ties()
  gains = {"a": 0.80, "b": 0.82, "c": 0.79}
  proxies = {
    "paper": {"a": 3.0, "b": 1.0, "c": 2.0},  # prefers a: regret 2 points
    "align": {"a": 2.0, "b": 3.0, "c": 1.0},  # the real order: rho 1, regret 0
    "align_red": {"a": 1.0, "b": 1.0, "c": 1.0},  # constant: rho NaN, prefers a (first)
    "lookahead": {"a": 2.0, "b": 1.0, "c": 3.0},  # reversed: rho -1, prefers c
  }
  text = proxy_check.table({"s0": {"num_labeled": 100, "gain": gains, "proxies": proxies}})
  row = text.splitlines()[2]
  assert "b 82.00, a 80.00, c 79.00" in row
  assert "-0.50 / 2.00 (a)" in row and "+1.00 / 0.00 (b)" in row
  assert "nan / 2.00 (a)" in row and "-1.00 / 3.00 (c)" in row
  assert text.splitlines()[-3:] == ["| b | a | c |", "|---|---|---|", "| 0.00 | 2.00 | 3.00 |"]


def sp_ties():
  # ranks of [1, 1, 2] are [0.5, 0.5, 2]: correlation with [0, 1, 2] by hand
  import numpy as np

  a, b = np.array([0.5, 0.5, 2.0]), np.array([0.0, 1.0, 2.0])
  return float(np.corrcoef(a, b)[0, 1])


def test_the_retrain_probe_table_by_hand():
  from benchmarks import retrain_probe

  def row(real, sim, se):
    return {"real": np.array(real), "sim": np.array(sim), "se": np.array(se)}

  rows = [  # two challengers against the reference; SE 0.01 everywhere
    row([0.01, -0.02], [0.03, 0.00], [0.01, 0.01]),  # b ahead (3 > 2 SE), really ahead
    row([-0.01, 0.02], [0.01, 0.03], [0.01, 0.01]),  # c ahead, really ahead
    row([0.03, 0.00], [0.05, -0.01], [0.01, 0.01]),  # b ahead, really ahead
  ]
  lines = retrain_probe.table(rows, ("a", "b", "c"), 2.0).splitlines()
  assert "sim > 2 SE" in lines[0]
  # b: sim = real + 2 points (corr 1); ahead in states 1 and 3, real +1 and +3 there.
  assert lines[2] == "| b | +1.00 | +3.00 | +1.00 | 2 | 2 | +2.00 |"
  # c: real (-2, 2, 0), sim (0, 3, -1): corr 6 / sqrt(8 * 26 / 3) by hand.
  corr = 6 / np.sqrt(8 * 26 / 3)
  assert lines[3] == f"| c | +0.00 | +0.67 | {corr:+.2f} | 1 | 1 | +2.00 |"


def _decoded(images):
  """The synthetic tasks' uint8 [N, 1, 1, D] vectors back as floats."""
  return (images[:, 0, 0, :].astype(np.float32) - 128.0) / 20.0


def test_the_synthetic_suite_cases_are_what_they_claim():
  from benchmarks import search_synthetic as suite

  dataset, budget, _, _ = suite.make_case("trap")
  x = _decoded(dataset.train_images)
  trap = np.arange(3000) < 750  # a quarter: one cluster at (3.5, 3.5), off the [-2, 2] plane
  np.testing.assert_allclose(x[trap, :2].mean(0), [3.5, 3.5], atol=0.1)
  assert (np.abs(x[~trap, :2]) <= 2.05).all()
  counts = np.bincount(dataset.train_labels[trap], minlength=3) / trap.sum()
  assert counts.min() > 0.28  # random labels: a third each
  test_x = _decoded(dataset.test_images)
  assert (test_x[:, 0] < 2.1).all()  # no trap in the test set
  margin, _, _, _ = suite.make_case("margin")
  assert margin.train_images.shape == (3000, 1, 1, 6) and budget.num_rounds == 10
  low, low_budget, _, _ = suite.make_case("low_budget")
  assert low.info.num_classes == 10 and low_budget.num_initial == 10
  blobs, _, _, _ = suite.make_case("blobs")
  plane = _decoded(blobs.train_images)[:, :2]
  assert blobs.info.num_classes == 4 and np.bincount(blobs.train_labels).min() > 600
  # Sixteen blobs on a 4 x 4 grid 1.5 apart: every grid cell holds about 1/16 of the pool.
  cells = np.clip(np.rint(plane / 1.5 + 1.5), 0, 3).astype(int)
  share = np.bincount(cells[:, 0] * 4 + cells[:, 1], minlength=16) / 3000
  assert share.min() > 0.03 and share.max() < 0.1
  with pytest.raises(ValueError, match="Valid cases"):
    suite.make_case("nope")


def test_the_synthetic_suite_verdicts_by_hand():
  from benchmarks import search_synthetic as suite

  names = ["margin", "entropy"]
  results = {}
  for seed in range(5):
    results[f"c/margin/{seed}"] = {"aubc": 0.80 + 0.01 * seed, "weights": [], "weight_names": []}
    results[f"c/entropy/{seed}"] = {"aubc": 0.70, "weights": [], "weight_names": []}
    top = [[0.9, 0.1]] if seed else [[0.2, 0.8]]  # margin the top in 4 of 5 seeds
    # Good: 0.1 point under margin in every seed but one (mean -0.08, SE 0.02: a fail).
    results[f"c/good/{seed}"] = {
      "aubc": 0.80 + 0.01 * seed - (0.001 if seed else 0.0),
      "weights": top,
      "weight_names": names,
    }
    results[f"c/bad/{seed}"] = {"aubc": 0.75, "weights": [[0.5, 0.5]], "weight_names": names}
  text, verdict = suite.verdicts(results, "c", searches=("good", "bad"))
  assert "best single candidate: margin" in text
  np.testing.assert_allclose(verdict["good"]["diff"], -0.08)
  np.testing.assert_allclose(verdict["good"]["se"], 0.1 * np.std([1, 1, 1, 1, 0], ddof=1) / 5**0.5)
  assert not verdict["good"]["aubc_pass"]  # -0.08 < -0.02
  assert verdict["good"]["top"] == "margin" and verdict["good"]["agree"] == 0.8
  assert verdict["good"]["agree_pass"]
  assert not verdict["bad"]["aubc_pass"] and verdict["bad"]["diff"] < -4


def test_the_synthetic_suite_runs_a_search_end_to_end():
  from autoal_jax.strategies import DEFAULT_CANDIDATES
  from benchmarks import search_synthetic as suite

  # A mixture that reports weights, through the suite's own loop and records (TAILOR since
  # 2026-12-04, for the suite's time: autoal's low-budget rule is tested in
  # tests/test_search.py and from the CLI in tests/test_cli.py).
  results = {}
  suite.run_case("low_budget", [0], ["tailor"], results, lambda: None)
  assert set(results) == {"low_budget/tailor/0"}
  run = results["low_budget/tailor/0"]
  assert len(run["accuracy"]) == 7 and len(run["weights"]) == 6 and 0.3 < run["aubc"] < 1.0
  assert run["weight_names"] == list(DEFAULT_CANDIDATES)
  np.testing.assert_allclose(np.sum(run["weights"], axis=1), 1.0, rtol=1e-5)


def test_the_meta_prior_tasks_are_what_they_claim():
  from benchmarks import meta_prior

  def band_of(x, p):
    cuts = (np.arange(1, p["k"]) - p["k"] / 2) * (4.0 / p["k"])
    height = x[:, 1] - p["amp"] * np.sin(p["freq"] * x[:, 0])
    return (height[:, None] > cuts[None]).sum(1)

  bands, p = meta_prior.make_task("bands", 0)
  assert bands.train_images.shape == (3000, 1, 1, 6) and bands.info.num_classes == p["k"]
  for images, labels in (
    (bands.train_images, bands.train_labels),
    (bands.test_images, bands.test_labels),
  ):
    assert np.mean(band_of(_decoded(images), p) == labels) > 0.97  # uint8 rounding at the cuts
  noisy, q = meta_prior.make_task("noisy", 0)
  clean = np.mean(band_of(_decoded(noisy.train_images), q) == noisy.train_labels)
  expected = 1 - q["flip"] * (q["k"] - 1) / q["k"]  # a flipped label is redrawn, maybe the same
  assert (
    abs(clean - expected) < 0.04
    and np.mean(band_of(_decoded(noisy.test_images), q) == noisy.test_labels) > 0.97
  )
  trap, r = meta_prior.make_task("trap", 0)
  off_plane = _decoded(trap.train_images)[:, 0] > 2.1
  assert abs(off_plane.mean() - r["trap_share"]) < 0.02
  assert (_decoded(trap.test_images)[:, 0] < 2.1).all()
  for family in ("blobs", "rings"):
    task, s = meta_prior.make_task(family, 1)
    assert set(np.unique(task.train_labels)) == set(range(s["k"]))
  with pytest.raises(ValueError, match="Valid families"):
    meta_prior.make_task("nope", 0)


def test_the_meta_prior_table_by_hand():
  from benchmarks import meta_prior

  results = {}
  for family in ("a", "b"):
    for task, (margin, bald) in enumerate([(0.70, 0.74), (0.80, 0.78), (0.60, 0.59)]):
      sign = 1.0 if bald > margin else -1.0  # a feature that tells the winner in both families
      results[f"{family}/{task}"] = {
        "aubc": {"margin": [margin], "bald": [bald]},
        "features": {"x": sign, "noise": 0.1 * task},
      }
  lines = meta_prior.table(results).splitlines()
  # Regrets by hand over a family: always margin (4 + 0 + 0) / 3, always BALD (0 + 2 + 1) / 3;
  # the prior learned on the other family follows x: no regret, every task right.
  assert lines[2] == "| a | 3 | 1 | 1.33 | 1.00 | 0.00 | 1.00 |"
  assert lines[4] == "| all | 6 | 2 | 1.33 | 1.00 | 0.00 | 1.00 |"
  assert "chose BALD in 2 tasks" in lines[-1]


def test_the_sweep_config_freezes_every_search_and_training_key():
  from experiments.configs import default, sweep

  base = default.get_config()
  # Every key, so that a later default cannot leak into the pre-registered sweep.
  assert set(sweep.FROZEN_SEARCH) == set(base.search.keys())
  assert set(sweep.FROZEN_TRAIN) == set(base.train.keys())
  config = sweep.get_config("fashion_mnist,50")
  assert (config.num_initial, config.query_size, config.quota) == (500, 500, 3500)
  assert config.inputs == "pca:50" and config.embeddings == "inputs" and config.model == "mlp"
  assert config.seeds == 10 and config.vmap_seeds and config.pool_size == 20000
  assert config.search.low_budget_per_class == 10.0 and config.train.epochs == 8
  assert sweep.get_config("fashion_mnist_imb,1").imbalance_ratio == 10.0
  # digits' 1,297 images: three queries of 200 (labels under 75% of the pool), none of 500.
  assert sweep.get_config("digits,20").quota == 600
  with pytest.raises(ValueError, match="no room for a query of 500"):
    sweep.get_config("digits,50")
  assert sweep.get_config("digits,2,v1").search.leaders == sweep.FROZEN_SEARCH["leaders"]
  from autoal_jax import search, train
  from experiments import common

  v2 = sweep.get_config("fashion_mnist,2,v2")
  assert v2.search.low_budget_leader == "maxherding" and v2.search.leaders == "margin"
  search.check_config(common.search_config(v2, train.TrainConfig(**v2.train.to_dict())))
  v3 = common.search_config(sweep.get_config("digits,1,v3"), train.TrainConfig())
  assert v3.low_budget_leader == "uherding" and v3.low_budget_per_class == float("inf")
  search.check_config(v3)
  v4 = common.search_config(sweep.get_config("fashion_mnist_imb,1,v4"), train.TrainConfig())
  assert v4.low_budget_balance == 0.0 and v4.low_budget_leader == "uherding"
  v6 = sweep.get_config("digits,1,v6").search
  assert v6.low_budget_leader == "uherding_wide" and v6.low_budget_balance == 0.0
  assert sweep.get_config("digits,1,v7").search.low_budget_leader == "uherding_median"
  assert sweep.get_config("digits,1,v8").search.low_budget_leader == "uherding_gated"
  leaders = {
    "v10": "uherding_cvswitch",
    "v11": "uherding_cvswitch_k50",
    "v12": "uherding_cvswitch_agree",
    "v13": "uherding_cvswitch_agree_all",
    "v14": "uherding_cvswitch_agree_mid",
    "v15": "uherding_cvswitch_agree_sharp50",
    "v16": "uherding_cvswitch_agree_errgate",
  }
  for variant, leader in leaders.items():  # each version's leader buys at every budget
    frozen = common.search_config(sweep.get_config(f"digits,1,{variant}"), train.TrainConfig())
    assert frozen.low_budget_leader == leader and frozen.low_budget_balance == 0.0
    assert frozen.low_budget_per_class == float("inf")
    search.check_config(frozen)
  assert sweep.VARIANTS["v5"] == sweep.VARIANTS["v4"]  # the same values, the CRN code
  assert sweep.get_config("digits_imb,2,v3b").search.balance_counts == "initial"
  npz = sweep.get_config("npz,2,4,3000")
  assert (npz.num_initial, npz.quota, npz.pool_size, npz.inputs) == (8, 56, 0, "raw")
  assert set(sweep.SINGLE) | set(sweep.MIXTURES) == set(config.strategies.split(","))


def test_the_sweeps_tables_by_hand(tmp_path):
  import gzip
  import json

  from benchmarks import sweep

  def store(name, aubcs):
    runs = [
      {"strategy": s, "seed": i, "aubc": a / 100}
      for s, seeds in aubcs.items()
      for i, a in enumerate(seeds)
    ]
    with gzip.open(tmp_path / f"{name}.json.gz", "wt") as f:
      json.dump({"runs": runs}, f)

  # margin best (mean 80); random 2 points under on every seed; autoal 0.5 +- 0.5 under.
  store("digits-2", {"margin": [80, 81, 79], "random": [78, 79, 77], "autoal": [80, 80, 79]})
  store("digits-5", {"margin": [85, 85, 85], "random": [86, 86, 86], "autoal": [86, 85, 86]})
  cells = sweep.load_cells(str(tmp_path))
  assert cells["digits", 2]["random"] == {0: 78.0, 1: 79.0, 2: 77.0}
  best, table = sweep.regrets(cells["digits", 2], ("random", "margin"))
  assert best == "margin" and table["random"] == (2.0, 0.0, 3)
  np.testing.assert_allclose(table["autoal"][:2], (1 / 3, 1 / 3), rtol=1e-6)
  text, grids = sweep.tables(cells)
  cell_rows = text.split("Every cell")[0].splitlines()
  rows = {line.split(" | ")[0]: line for line in cell_rows if line.startswith("| ")}
  assert rows["| margin"] == "| margin | best 80.00 | 1.00 +- 0.00* |"
  assert rows["| random"] == "| random | 2.00 +- 0.00* | best 86.00 |"
  assert rows["| autoal"].startswith("| autoal | 0.33 +- 0.33 | 0.33 +- 0.33 |")
  # Over the cells: autoal 0.33 mean regret and no significant loss; margin and random one each.
  # The 90th percentile of its cells' regrets and its worst cell beside them.
  assert "| autoal | 0.33 | 2 | 0 | 0.33 | 0.33 (digits-2) |" in text
  assert "| random | 1.00 | 2 | 1 | 1.80 | 2.00 (digits-2) |" in text
  # A later search version's file: its runs as STRATEGY@VARIANT, paired with the cell's.
  store("digits-2-v2", {"autoal": [80, 81, 79]})
  cells = sweep.load_cells(str(tmp_path))
  assert cells["digits", 2]["autoal@v2"] == {0: 80.0, 1: 81.0, 2: 79.0}
  text, grids = sweep.tables(cells)
  assert "| autoal@v2 | 0.00 +- 0.00 |  |" in text
  # Each version against the others on its own cells (v2: digits-2 only, where margin is
  # best; autoal: both cells, where margin's mean regret is 0.5 and random's 1.0).
  assert "| autoal | 2 | 0.33 | 1 of 3 | margin 0.50 |" in text
  assert "| autoal@v2 | 1 | 0.00 | 1 of 4 | margin 0.00 |" in text
  # A strategy added after the freeze: its own rows, never the cell's best.
  store("digits-2+dcom", {"dcom": [81, 82, 80]})
  assert sweep.cell_name("digits", "2", later=("dcom",)) == "digits-2+dcom"
  assert sweep.cell_name("digits", "2", "v5") == "digits-2-v5"
  cells = sweep.load_cells(str(tmp_path))
  assert cells["digits", 2]["dcom"] == {0: 81.0, 1: 82.0, 2: 80.0}
  text, _ = sweep.tables(cells)
  assert "| dcom | -1.00 +- 0.00 |  |" in text and "| margin | best 80.00 |" in text
  # Kept runs of another folder merged in (--also), the later folder's winning a seed.
  (tmp_path / "kept").mkdir()
  with gzip.open(tmp_path / "kept" / "digits-2.json.gz", "wt") as f:
    json.dump({"runs": [{"strategy": "random", "seed": 0, "aubc": 0.5},
                        {"strategy": "typiclust", "seed": 0, "aubc": 0.7}]}, f)  # fmt: skip
  merged = sweep.merged_cells([str(tmp_path / "kept"), str(tmp_path), str(tmp_path / "none")])
  assert merged["digits", 2]["random"][0] == 78.0 and merged["digits", 2]["typiclust"] == {0: 70.0}
  # A variant's cell whose single strategies are still running: named, not tabled.
  store("digits-10-v2", {"autoal": [90, 91, 92]})
  text, grids = sweep.tables(sweep.load_cells(str(tmp_path)))
  assert "waiting for their single strategies, not tabled: digits-10" in text
  assert text.index("waiting for") < text.index("Every cell")  # not inside a table
  names, budgets, grid = grids["digits"]
  assert budgets == [2, 5] and grid.shape == (len(names), 2)
  # The panels share their row labels: every dataset's grid on the same rows.
  aligned = sweep.align_rows({"a": (["x", "y"], [1], np.array([[1.0], [2.0]])),
                              "b": (["y", "z"], [2], np.array([[3.0], [4.0]]))})  # fmt: skip
  assert aligned["b"][0] == ["x", "y", "z"]
  np.testing.assert_array_equal(aligned["b"][2], [[np.nan], [3.0], [4.0]])
  sweep.heat_map(grids, str(tmp_path / "map.png"))
  assert (tmp_path / "map.png").stat().st_size > 0
  # Chosen rows (one that never ran: blank) and the panels wrapped, two to a row.
  three = {**aligned, "c": (["x"], [5], np.array([[0.5]]))}
  assert sweep.heat_map(three, str(tmp_path / "some.png"), ["z", "never", "x"], columns=2)
  assert (tmp_path / "some.png").stat().st_size > 0
  # Two strategies against each other, cell by cell (digits-2: dcom 1.0 above margin on
  # every seed; digits-5: margin 0.67 +- 0.33 under autoal; digits-10: neither ran).
  text = sweep.versus(sweep.load_cells(str(tmp_path)), "dcom", "margin")
  assert "| digits-2 | +1.00 +- 0.00* |" in text and "digits-5" not in text
  assert "1 cells: dcom ahead by more than 2 SE in 1, behind in 0; mean difference +1.00" in text
  text = sweep.versus(sweep.load_cells(str(tmp_path)), "margin", "autoal")
  assert "| digits-5 | -0.67 +- 0.33 |" in text and "digits-10" not in text
  # A query log's entry per round, means over the seeds (a strategy with no such entry,
  # or no log, is left out).
  runs = [
    {"strategy": "g", "seed": i, "aubc": 0.5, "labels": [10, 20, 30], "accuracy": [0.5, 0.6, 0.8],
     "search": [{"gate": 100 + i}, {"gate": 50 + i}]}
    for i in range(2)
  ]  # fmt: skip
  with gzip.open(tmp_path / "digits-1+g.json.gz", "wt") as f:
    json.dump({"runs": runs}, f)
  # A folder of later strategies alone: no cell's best single strategy, no grid to draw.
  only = tmp_path / "only"
  only.mkdir()
  with gzip.open(only / "digits-1+g.json.gz", "wt") as f:
    json.dump({"runs": runs}, f)
  assert not sweep.heat_map(sweep.tables(sweep.load_cells(str(only)))[1], str(only / "m.png"))
  assert not (only / "m.png").exists()
  text = sweep.rounds([str(tmp_path)], "g", "gate")
  assert "| digits-1 | 10, 20 | 100.5, 50.5 | 50.0, 40.0 |" in text
  assert "digits-2" not in text and sweep.rounds([str(tmp_path)], "g", "width").count("\n") == 1
  # Only a plain command runs the cells: --rounds and --versus read, --table or not.
  assert sweep.runs_cells(False, "", [])
  assert not any(
    sweep.runs_cells(*f) for f in ((True, "", []), (False, "g:gate", []), (False, "", ["a", "b"]))
  )
  assert not sweep.runs_cells(False, "", [], 10)


def test_more_seeds_extend_a_cell_and_the_bar_on_new_seeds_chooses_on_the_first():
  from benchmarks import sweep

  # --seeds: the CLI gets the seed count (a finished workdir then runs the new seeds only).
  command = sweep.cell_command("digits", "1", "/w", "/r", only=("margin",), seeds=20)
  assert "--config.seeds=20" in command and "--config.strategies=margin" in command
  assert not any("seeds" in c for c in sweep.cell_command("digits", "1", "/w", "/r"))


def test_a_tagged_folder_pairs_a_strategy_with_itself_under_another_protocol(tmp_path):
  import gzip
  import json

  from benchmarks import sweep

  def store(folder, aubcs):
    folder.mkdir()
    runs = [{"strategy": "h", "seed": k, "aubc": v} for k, v in enumerate(aubcs)]
    with gzip.open(folder / "trap_d4-1.json.gz", "wt") as f:
      json.dump({"runs": runs}, f)

  store(tmp_path / "standard", [0.40, 0.42, 0.41])
  store(tmp_path / "raw", [0.45, 0.46, 0.47])
  cells = sweep.load_cells(str(tmp_path / "standard"))
  tagged = sweep.with_tagged(cells, "raw", str(tmp_path / "raw"))
  assert set(tagged["trap_d4", 1]) == {"h", "h@raw"} and set(cells["trap_d4", 1]) == {"h"}
  text = sweep.versus(tagged, "h@raw", "h")
  assert "| trap_d4-1 | +5.00 +- 0.58* |" in text


def test_the_raw_geometry_gives_a_synthetic_cell_its_features_as_drawn(tmp_path):
  from benchmarks import sweep, synthetic_cases

  command = sweep.cell_command("trap_d1", "1", str(tmp_path / "w"), str(tmp_path), geometry="raw")
  flag = [c for c in command if c.startswith("--config.embeddings=npz:")]
  assert flag == [f"--config.embeddings=npz:{tmp_path}/data/trap_d1-raw.npz"]
  with np.load(tmp_path / "data" / "trap_d1-raw.npz") as f:
    raw = f["embeddings"]
  drawn = synthetic_cases.decode(synthetic_cases.make_case("trap", 1)[0].train_images)
  np.testing.assert_allclose(raw, drawn)
  # Not standardised: the trap's plane features are wider than its noise features.
  assert raw[:, :2].std(0).min() > 3 * raw[:, 2:].std(0).max()
  standard = sweep.cell_command("trap_d1", "1", str(tmp_path / "w"), str(tmp_path))
  assert not any("embeddings" in c for c in standard)
  with pytest.raises(ValueError, match="synthetic"):
    sweep.cell_command("digits", "1", "/w", "/r", geometry="raw")
  # The command refuses a real dataset before any cell runs (not a cell "skipped").
  with pytest.raises(ValueError, match="not digits, fashion_mnist$"):
    sweep.check_datasets(["trap_d1", "digits", "fashion_mnist"], "raw")
  sweep.check_datasets(["trap_d1", "margin"], "raw")
  sweep.check_datasets(["digits"], "standard")
  cells = {("trap_d1", 1): {}, ("margin", 2): {}, ("digits", 1): {}, ("digits_imb", 5): {}}
  assert set(sweep.of_kind(cells, "synthetic")) == {("trap_d1", 1), ("margin", 2)}
  assert set(sweep.of_kind(cells, "real")) == {("digits", 1), ("digits_imb", 5)}
  assert sweep.of_kind(cells, "all") == cells
  # A cell: on seeds 0-1 'a' leads 'b' by 1; on seeds 2-4 'b' leads 'a' by 2; 'c' (not a
  # single strategy) 0.5 under 'a' everywhere with some spread; 'd' ran the first seeds
  # only (dropped by with_seeds(5), kept by with_seeds(2)).
  a = {0: 60.0, 1: 61.0, 2: 60.0, 3: 62.0, 4: 61.0}
  b = {0: 59.0, 1: 60.0, 2: 62.0, 3: 64.0, 4: 63.0}
  c = {k: v - 0.5 + 0.1 * (k % 2) for k, v in a.items()}
  d = {0: 70.0, 1: 70.0}
  cells = {("digits", 1): {"a": a, "b": b, "c": c, "d": d}, ("digits", 2): {"a": a, "d": d}}
  assert set(sweep.with_seeds(cells, 5)[("digits", 1)]) == {"a", "b", "c"}
  assert set(sweep.with_seeds(cells, 2)[("digits", 2)]) == {"a", "d"}
  assert ("digits", 2) in sweep.with_seeds(cells, 5)
  assert sweep.with_seeds({("x", 1): {"d": d}}, 5) == {}
  text = sweep.new_seeds(sweep.with_seeds(cells, 5), ("a", "b"), first=2)
  lines = text.splitlines()
  assert lines[0] == "| cell | chosen on the first seeds | a | b | c |"
  # 'a' is chosen on seeds 0-1; on seeds 2-4 'b' is 2 above it (regret -2), 'c' 0.5 under
  # it give or take 0.1 (regret 0.47 +- 0.03: a fail). The cell of 'a' alone: 'a' the ref.
  assert lines[2] == "| digits-1 | a | ref | -2.00 +- 0.00 | 0.47 +- 0.03* |"
  assert lines[3] == "| digits-2 | a | ref |  |  |"
  rows = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ")}
  # After the fact over all five seeds 'b' is the best (61.6 against 60.8) and no
  # regret to it is over 2 SE (the first seeds go the other way); over seeds 0-1 alone
  # 'a' is the best, 'b' 1 under it on both (a fail), 'c' 0.45 +- 0.05 under it (a fail).
  assert rows["a"] == "| a | 2 | 0.00 | 0 | 0 | 0 |"
  assert rows["b"] == "| b | 1 | -2.00 | 0 | 0 | 1 |"
  assert rows["c"] == "| c | 1 | 0.47 | 1 | 0 | 1 |"
  focused = sweep.new_seeds(sweep.with_seeds(cells, 5), ("a", "b"), first=2, focus="c")
  assert focused.startswith(text)
  assert focused.splitlines()[-1] == (
    "| digits-1 | 0.45 +- 0.05* (a) | 1.26 +- 0.74 (b) | 0.47 +- 0.03* (a) |"
  )


def test_a_composed_row_takes_each_cells_runs_from_its_budgets_part():
  from benchmarks import sweep

  # a, b, p: later strategies (not single ones); margin the cells' best single.
  cells = {
    ("d", 2): {"a": {0: 1.0, 1: 2.0}, "b": {0: 9.0}, "margin": {0: 3.0, 1: 3.0}},
    ("d", 50): {"a": {0: 4.0, 1: 4.0}, "b": {0: 5.0}, "p": {0: 7.0, 1: 6.0},
                "margin": {0: 6.0, 1: 6.0}},
    ("e", 50): {"a": {0: 1.0}, "margin": {0: 2.0, 1: 2.0}},  # neither b nor p: no row
  }  # fmt: skip
  assert sweep.parse_compose("v=a,50:b|p") == ("v", [(0, ["a"]), (50, ["b", "p"])])
  out = sweep.compose(cells, "v=50:b|p,a")
  assert out["d", 2]["v"] == {0: 1.0, 1: 2.0}  # below 50: a's runs
  assert out["d", 50]["v"] == {0: 5.0, 1: 6.0}  # b's seed 0, p's seed 1 (b did not run it)
  assert "v" not in out["e", 50] and "v" not in cells["d", 2]  # the input is left as it was
  text, _ = sweep.tables(out, ["v"])
  # Regret 1.5 +- 0.5 at 2 (3-1, 3-2: beyond 2 SE), 0.5 +- 0.5 at 50 (6-5, 6-6): mean 1.0.
  assert "| v | 1.00 | 2 | 1 |" in text
  assert "| v | 2 | 1.00 |" in text.split("Each autoal version")[1]  # a version's row
  for bad in ("v", "=a", "v=", "v=x:a", "v=a,0:b"):
    with pytest.raises(ValueError):
      sweep.parse_compose(bad)


def test_the_bars_bootstrap_counts_fails_by_chance_and_by_a_real_gap():
  from benchmarks import bar_null

  rng = np.random.default_rng(0)
  noise = rng.normal(0.0, 1.0, (3, 10))

  def runs(values):
    return {seed: float(v) for seed, v in enumerate(values)}

  # margin 10 points ahead of random; far: 10 under margin everywhere; near: margin's
  # runs less 0.05 (a gap of 0.05 at no spread: a fail in most draws however small).
  cell = {
    "margin": runs(80 + noise[0]),
    "random": runs(70 + noise[1]),
    "far": runs(70 + noise[2]),
    "near": runs(80 + noise[0] - 0.05),
    "short": {0: 1.0},  # not every seed: left out
  }
  single = ("margin", "random")
  fails = bar_null.cell_fails(cell, single, ["far", "near", "short"], 200, rng)
  assert set(fails) == {"far", "near", bar_null.ORACLE}
  assert fails["far"].all() and not fails[bar_null.ORACLE].any() and fails["near"].all()
  assert bar_null.stored_fail(cell, single, "far") and not bar_null.stored_fail(
    cell, single, "margin"
  )
  # Two leaders the runs cannot tell apart (0.1 apart at a spread of 1): the oracle
  # fails some draws, more once they are taken as tied, never where the rival is far.
  close = {"margin": runs(80 + noise[0]), "random": runs(79.9 + noise[1])}
  rates = [bar_null.cell_fails(close, single, [], 4000, rng, tie)[bar_null.ORACLE].mean()
           for tie in (0.0, 2.0)]  # fmt: skip
  assert 0.0 < rates[0] < rates[1] < 0.2
  text = bar_null.table({("d", 2): cell, ("d", 5): close}, single, ["far"], 100)
  assert "| (oracle) | 2 | - |" in text and "| far | 1 | 1 | 1.0 (1-1) | 0% |" in text
  assert "| d-2 | 0% | 100%* |" in text and "| d-5 |" not in text  # far ran in d-2 alone
  # The held-out bar: on each seed, the single strategy best on the other seeds.
  a, b = [10.0, 0.0, 0.0], [1.0, 1.0, 1.0]
  runs = np.asarray([a, b])[:, None]  # [S=2, D=1, n=3]
  np.testing.assert_array_equal(bar_null.reference(runs, np.arange(3)[None], "after"), [a])
  np.testing.assert_array_equal(
    bar_null.reference(runs, np.arange(3)[None], "held_out"), [[1.0, 0.0, 0.0]]
  )
  # Seed 0 drawn twice: not among its own other seeds.
  drawn = np.asarray([[10.0, 10.0, 0.0], b])[:, None]
  np.testing.assert_array_equal(
    bar_null.reference(drawn, np.asarray([[0, 0, 1]]), "held_out"), [[1.0, 1.0, 0.0]]
  )
  with pytest.raises(ValueError, match="bar"):
    bar_null.reference(runs, np.arange(3)[None], "before")
  # Nobody passes the held-out choice's bar who fails it by a real gap; the leader whose
  # lead holds on every held-out seed passes.
  assert bar_null.stored_fail(cell, single, "far", "held_out")
  assert not bar_null.stored_fail(cell, single, "margin", "held_out")
  held = bar_null.cell_fails(cell, single, ["far"], 200, rng, bar="held_out")
  assert held["far"].all() and not held[bar_null.ORACLE].any()
  text = bar_null.table({("d", 2): cell}, single, ["far"], 100, bar="held_out")
  assert "chosen on the cell's other seeds" in text and "| far | 1 | 1 |" in text


def test_the_sweep_writes_a_synthetic_case_beside_its_own_flags(tmp_path):
  # As the command runs it: its flags defined, then a synthetic cell's data made (until
  # 2026-12-04 that imported the synthetic suite, whose flags clashed with the sweep's,
  # and stopped the sweep's chains at their first synthetic cell).
  from benchmarks import synthetic_cases

  code = (
    "from benchmarks import sweep; sweep._define_flags(); "
    f"print(sweep.synthetic_npz('blobs', {str(tmp_path)!r})[1:])"
  )
  result = subprocess.run(
    [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip() == "(4, 3000)"
  arrays = np.load(tmp_path / "blobs.npz")
  dataset = synthetic_cases.make_case("blobs")[0]
  assert arrays["train_images"].shape == (3000, 6) and arrays["train_images"].dtype == np.float32
  np.testing.assert_array_equal(
    synthetic_cases.encode(arrays["train_images"]), dataset.train_images
  )
  np.testing.assert_array_equal(arrays["test_labels"], dataset.test_labels)


def test_a_fresh_draw_of_a_synthetic_case_is_its_own_sweep_dataset(tmp_path):
  # CASE_dN: the same generator with data seed N (a rule chosen on CASE confirmed there).
  from benchmarks import sweep as sweep_bench
  from benchmarks import synthetic_cases

  draw = sweep_bench.synthetic_draw
  assert draw("trap") == ("trap", 0) and draw("low_budget_d3") == ("low_budget", 3)
  for name in ("digits", "digits_imb", "trap_d0", "trap_dx", "cifar_d1"):
    assert draw(name) is None, name
  command = sweep_bench.cell_command("trap_d1", "2", str(tmp_path / "w"), str(tmp_path))
  assert f"--config.dataset=npz:{tmp_path}/data/trap_d1.npz" in command
  assert "--config=experiments/configs/sweep.py:npz,2,3,3000" in command
  fresh = np.load(tmp_path / "data" / "trap_d1.npz")
  first = synthetic_cases.make_case("trap")[0]
  assert fresh["train_images"].shape == (3000, 6)
  assert not np.array_equal(synthetic_cases.encode(fresh["train_images"]), first.train_images)


def test_the_agreement_of_stored_picks_rebuilds_each_labeled_set(tmp_path):
  # A stored trap cell of one run: three queries of 3 (one label per class), the first
  # two in the cluster (the first quarter of the pool rows), the third outside it.
  import gzip
  import json

  from benchmarks import agreement_picks

  picks = [[0, 1, 2], [3, 4, 5], [2000, 2001, 2002]]
  with gzip.open(tmp_path / "trap-1+s.json.gz", "wt") as f:
    json.dump({"runs": [{"strategy": "s", "seed": 0, "aubc": 0.5, "picks": picks}]}, f)
  rows = agreement_picks.cell_rows("trap-1", "s", str(tmp_path), str(tmp_path / "data"), 10)
  cells = [[c.strip() for c in r.split("|")[1:-1]] for r in rows]
  assert [c[1] for c in cells] == ["2", "3"]  # the queries after the first
  assert cells[0][2] == "1.00" and cells[1][2] == "0.00"  # the share in the cluster
  assert cells[0][5] == "" and cells[1][3] == ""  # no pick outside, no pick inside
  for value in (cells[0][3], cells[0][4], cells[1][5], cells[1][7]):
    assert 0.0 <= float(value) <= 1.0
  with pytest.raises(Exception, match="no stored run"):
    agreement_picks.cell_rows("trap-1", "t", str(tmp_path), str(tmp_path / "data"), 10)


def test_the_coverage_suite_takes_a_sweep_variant_and_tables_its_rows(tmp_path):
  import json

  from benchmarks import coverage_suite
  from experiments.configs import coverage, default, sweep

  config = coverage.get_config("digits,2,v5")
  assert config.strategies == "autoal" and config.num_initial == 20 and config.seeds == 5
  for key, value in sweep.VARIANTS["v5"].items():
    assert config.search[key] == value
  plain = coverage.get_config("digits,2").search  # no variant: the default search
  assert plain.to_dict() == default.get_config().search.to_dict()
  with pytest.raises(ValueError, match="unknown variant 'v9'"):
    coverage.get_config("digits,2,v9")

  def store(name, aubcs):
    runs = [
      {"strategy": s, "seed": i, "aubc": a} for s, v in aubcs.items() for i, a in enumerate(v)
    ]
    (tmp_path / f"{name}.json").write_text(json.dumps({"runs": runs}))

  store("digits-1-model", {"margin": [0.70, 0.72], "uherding": [0.80, 0.83]})
  store("digits-1-model-v5", {"autoal": [0.80, 0.83]})
  text = coverage_suite.tables(str(tmp_path))
  assert "| uherding | model | 81.50 (+10.50 +- 0.50) |" in text, text
  assert "| autoal@v5 | model | 81.50 (+10.50 +- 0.50) |" in text, text
  assert "| autoal@v5 | model | +0.00 +- 0.00 (uherding) |" in text, text
  # Every row against the best strategy and embedding of its budget.
  assert "| margin | model | -10.50 +- 0.50 (uherding, model) |" in text, text
  assert "| autoal@v5 | model | +0.00 +- 0.00 (uherding, model) |" in text, text


def test_the_sweep_counts_who_bought_each_stored_autoal_query(tmp_path):
  import gzip
  import json

  from benchmarks import sweep as sweep_bench

  def query(weights, mixture=0.0):
    return {"weights": weights, "mixture": mixture}

  runs = [
    {"strategy": "margin", "seed": 0, "aubc": 0.5},
    {"strategy": "autoal", "seed": 0, "search": [query({"a": 1.0, "b": 0.0})] * 2},
    {"strategy": "autoal", "seed": 1, "search": [query({"a": 0.2, "b": 0.8}, 1.0)]},
  ]
  with gzip.open(tmp_path / "digits-2-v5.json.gz", "wt") as f:
    json.dump({"runs": runs}, f)
  with gzip.open(tmp_path / "digits-2.json.gz", "wt") as f:
    json.dump({"runs": runs[:1]}, f)  # no autoal run: no row
  text = sweep_bench.bought(str(tmp_path))
  assert text.splitlines()[2:] == ["| digits-2 | v5 | 3 | a 2, b 1 | 1 |"], text


def test_in_progress_keeps_the_finished_runs_of_unstored_cells_and_restores_them(tmp_path):
  import gzip
  import json

  from benchmarks import in_progress

  runs, kept, fresh, stored = (tmp_path / n for n in ("runs", "kept", "fresh", "stored"))
  stored.mkdir()

  def cell(name, done, strategies="a,b"):
    (runs / name).mkdir(parents=True, exist_ok=True)
    results = {
      "config": {"strategies": strategies, "seeds": 2},
      "runs": [{"strategy": s, "seed": i, "aubc": 0.5} for s, i in done],
    }
    (runs / name / "results.json").write_text(json.dumps(results, indent=1))

  # A first pass with one strategy (`--only`) ran all it was asked: still kept, the cell
  # is not stored whole.
  cell("half", [("a", 0), ("a", 1)], strategies="a")
  cell("whole", [("a", 0), ("a", 1), ("b", 0), ("b", 1)])
  (stored / "whole.json.gz").write_bytes(b"")
  cell("empty", [])
  (runs / "data").mkdir()  # a folder without results.json: not a cell
  assert in_progress.keep(str(runs), str(kept), str(stored)) == ["half: 2 runs kept"]
  cell("half", [("a", 0), ("a", 1), ("b", 0)])
  assert in_progress.keep(str(runs), str(kept), str(stored)) == ["half: 3 runs kept"]
  assert sorted(p.name for p in kept.iterdir()) == ["half.json.gz"]
  assert in_progress.keep(str(runs), str(kept), str(stored)) == []  # unchanged: not rewritten
  with gzip.open(kept / "half.json.gz", "rb") as f:
    assert f.read() == (runs / "half" / "results.json").read_bytes()
  # On a new machine: the kept runs go back where there is no results.json.
  assert in_progress.restore(str(fresh), str(kept)) == ["half: 3 finished runs restored"]
  restored = (fresh / "half" / "results.json").read_bytes()
  assert restored == (runs / "half" / "results.json").read_bytes()
  assert in_progress.restore(str(fresh), str(kept)) == []  # never over a run folder's own
  # The suite stores the cell whole: its kept file goes.
  (stored / "half.json").write_text("{}")
  assert in_progress.keep(str(runs), str(kept), str(stored)) == [
    "half: stored whole, its kept file removed"
  ]
  assert list(kept.iterdir()) == []


def test_cluster_reach_counts_the_clusters_the_queries_reach(tmp_path):
  import gzip
  import json

  from benchmarks import cluster_reach

  cluster, outlier = cluster_reach.clusters("low_budget")
  assert outlier.sum() == 300 and len(np.unique(cluster[~outlier])) == 30
  first = [int(np.flatnonzero((cluster == c) & ~outlier)[0]) for c in range(3)]
  second = int(np.flatnonzero((cluster == 0) & ~outlier)[1])  # cluster 0 again
  runs = [  # an outlier (row 0) reaches no cluster, whatever its nearest centre
    {"strategy": "margin", "seed": 0, "picks": [[0, first[0]], [second, first[1]], [first[2]]],
     "accuracy": [0.5, 0.9, 0.95, 1.0]},
    {"strategy": "margin", "seed": 1, "picks": [[first[0], first[1]], [0], [0]],
     "accuracy": [0.5, 0.7, 0.8, 0.9]},
  ]  # fmt: skip
  with gzip.open(tmp_path / "low_budget-2.json.gz", "wt") as f:
    json.dump({"runs": runs}, f)
  with gzip.open(tmp_path / "low_budget-2+uherding_trusted.json.gz", "wt") as f:
    json.dump({"runs": [{**runs[0], "strategy": "uherding_trusted"}]}, f)
  with gzip.open(tmp_path / "low_budget_d1-2.json.gz", "wt") as f:  # another draw: not read
    json.dump({"runs": [{**runs[0], "strategy": "typiclust"}]}, f)
  found = cluster_reach.reach([str(tmp_path)])
  assert set(found) == {2} and set(found[2]) == {"margin", "uherding_trusted"}
  counts, accuracy = found[2]["margin"]
  np.testing.assert_allclose(counts, [1.5, 2.0, 2.5])  # seed 0: 1, 2, 3; seed 1: 2, 2, 2
  assert accuracy == pytest.approx(80.0)
  assert "| 2 | margin | 1.5 2.0 2.5 | 80.0 |" in cluster_reach.table(found)
  with pytest.raises(ValueError, match="not a draw of the low_budget case"):
    cluster_reach.clusters("trap")


def test_the_regime_switch_takes_each_seeds_run_by_its_first_held_out_error(tmp_path):
  import gzip
  import json

  from benchmarks import regime_switch

  def run(strategy, seed, aubc, error=None):
    log = [] if error is None else [{"held_out_error": error}, {"held_out_error": 0.9}]
    return {"strategy": strategy, "seed": seed, "aubc": aubc, "search": log}

  cells = {
    "digits-5.json.gz": [run("margin", 0, 0.90), run("margin", 1, 0.80), run("random", 0, 0.5),
                         run("random", 1, 0.5)],
    "digits-5+uherding_median.json.gz": [run("uherding_median", 0, 0.89),
                                         run("uherding_median", 1, 0.79)],
    "digits-5+uherding_gated.json.gz": [run("uherding_gated", 0, 0.85),
                                        run("uherding_gated", 1, 0.77)],
    "digits-5+uherding_regime.json.gz": [run("uherding_regime", 0, 0.0, 0.1),
                                         run("uherding_regime", 1, 0.0, 0.3)],
    "digits-5-v8.json.gz": [run("autoal", 0, 0.99)],  # a frozen version's autoal: not read
    "digits-10.json.gz": [run("margin", 0, 0.9)],  # no leaders: no row
  }  # fmt: skip
  for name, runs in cells.items():
    with gzip.open(tmp_path / name, "wt") as f:  # 50 initial labels: 15 held out, 10 classes
      json.dump({"config": {"num_initial": 50}, "runs": runs}, f)
  lines = regime_switch.rows(regime_switch.load([str(tmp_path)]), [0.2, 0.5])
  assert len(lines) == 4  # the header, one row per TAU of the one cell with the leaders
  # TAU 0.2: seed 0 (error 0.1) takes v7's run (1 point under margin), seed 1 v8's (3).
  assert lines[2] == "| digits-5 | 0.2 | 1 of 2 | 2.00 +- 1.00 | 1.00 +- 0.00* | 4.00 +- 1.00* |"
  assert lines[3].startswith("| digits-5 | 0.5 | 2 of 2 | 1.00 +- 0.00* |")
  # One label per class (10 initial over 10 classes: 3 held out, fewer than the classes):
  # v8's run for every seed.
  few = regime_switch.load([str(tmp_path)])
  few["digits", 1] = {**few.pop(("digits", 5)), "num_initial": 10}
  assert regime_switch.rows(few, [0.5])[2].startswith("| digits-1 | 0.5 | 0 of 2 | 4.00")
  # Any two runs and any logged signal, over chance's error (1 - 1/10 here): seed 0's
  # 0.1 / 0.9 = 0.11 and seed 1's 0.3 / 0.9 = 0.33 against TAU 0.2 and 0.5; the size rule
  # of the held-out part is the held-out error's only (one label per class decides too).
  for run in few["digits", 1]["uherding_regime"].values():
    run["search"] = [{"cv_error": run["search"][0]["held_out_error"]}]
  names = ("uherding_gated", "uherding_median", "uherding_regime")
  lines = regime_switch.rows(few, [0.2, 0.5], *names, key="cv_error", relative=True)
  assert lines[0].startswith("| cell | TAU | seeds to uherding_gated | switch |")
  # TAU 0.2: seed 0 (0.11) takes the gated run (5 points under margin), seed 1 the median's (1).
  assert lines[2] == "| digits-1 | 0.2 | 1 of 2 | 3.00 +- 2.00 | 4.00 +- 1.00* | 1.00 +- 0.00* |"
  assert lines[3].startswith("| digits-1 | 0.5 | 2 of 2 | 4.00 +- 1.00* |")
  # Not relative: 0.3 is not under 0.3 (TAU 0.3), 0.1 is.
  assert regime_switch.rows(few, [0.3], *names, key="cv_error")[2].startswith(
    "| digits-1 | 0.3 | 1 of 2 |"
  )


def test_trap_share_counts_the_bought_labels_in_the_noise_cluster(tmp_path):
  import gzip
  import json

  from benchmarks import trap_share

  cluster = 750  # a quarter of the trap case's 3,000-row pool
  runs = [
    {"strategy": "margin", "seed": 0, "picks": [[0, 1000], [2000, 3]]},  # 2 of 4 inside
    {"strategy": "margin", "seed": 1, "picks": [[cluster, 1000], [2000, 2999]]},  # none
  ]
  with gzip.open(tmp_path / "trap-2.json.gz", "wt") as f:
    json.dump({"runs": runs}, f)
  with gzip.open(tmp_path / "trap-2-v5.json.gz", "wt") as f:
    json.dump({"runs": [{"strategy": "autoal", "seed": 0, "picks": [[1, 2, 3, 4]]}]}, f)
  with gzip.open(tmp_path / "blobs-2.json.gz", "wt") as f:  # another case: not read
    json.dump({"runs": [{"strategy": "margin", "seed": 0, "picks": [[0]]}]}, f)
  with gzip.open(tmp_path / "trap-2+dcom.json.gz", "wt") as f:  # a later strategy: its name
    json.dump({"runs": [{"strategy": "dcom", "seed": 0, "picks": [[1000, 2]]}]}, f)
  shares = trap_share.shares([str(tmp_path)])
  assert shares == {2: {"margin": 25.0, "autoal@v5": 100.0, "dcom": 50.0}}
  assert "| 2 | 100 | 50 | 25 |" in trap_share.table(shares)
  rounds = trap_share.shares([str(tmp_path)], per_round=True)
  assert rounds == {2: {"margin": [25.0, 25.0], "autoal@v5": [100.0], "dcom": [50.0]}}
  assert "| 2 | 100 | 50 | 25 25 |" in trap_share.table(rounds)
  # A fresh draw: its own cells only (its cluster the first quarter of its pool too).
  with gzip.open(tmp_path / "trap_d2-1.json.gz", "wt") as f:
    json.dump({"runs": [{"strategy": "margin", "seed": 0, "picks": [[cluster - 1, cluster]]}]}, f)
  assert trap_share.shares([str(tmp_path)], case="trap_d2") == {1: {"margin": 50.0}}
  assert 1 not in trap_share.shares([str(tmp_path)])
  for bad in ("blobs", "trap_d0", "margin_d2"):
    with pytest.raises(ValueError, match="trap_dN"):
      trap_share.shares([str(tmp_path)], case=bad)


def test_the_trap_scale_probe_standardises_without_the_cluster_and_pairs_by_seed():
  from benchmarks import trap_scale

  rng = np.random.RandomState(0)
  features = rng.randn(400, 3).astype(np.float32)
  features[:100] += 10.0  # the first quarter: the cluster
  embedding = trap_scale.cluster_free_embedding(features)
  np.testing.assert_allclose(embedding[100:].mean(0), 0.0, atol=1e-5)
  np.testing.assert_allclose(embedding[100:].std(0), 1.0, atol=1e-5)
  assert embedding.dtype == np.float32 and embedding[:100].mean() > 8.0
  # Gaussian features: every scaling divides each by its own spread, so the plane is as
  # wide as the noise (1); a cluster shifted in the plane features widens their scale, so
  # outside it the plane comes out narrower than the noise under every scaling.
  plane = np.concatenate([rng.randn(400, 2) * 2.0, rng.randn(400, 2)], axis=1)
  even = trap_scale.spread_ratios(plane, np.arange(400) >= 0)
  assert all(abs(v - 1.0) < 0.15 for v in even.values()), even
  plane[:100, :2] += 8.0
  shrunk = trap_scale.spread_ratios(plane, np.arange(400) >= 100)
  assert all(v < 0.7 for v in shrunk.values()), shrunk
  # 'm' is the reference (best on seeds 0-1); 'h' 2 under it stored, 1 under it probed.
  stored = {
    "m": {0: 50.0, 1: 52.0, 2: 51.0, 3: 50.0},
    "h": {0: 48.0, 1: 50.0, 2: 49.5, 3: 47.5},
    "r": {0: 40.0, 1: 41.0, 2: 60.0, 3: 60.0},
  }
  probe = {"h": {0: 49.0, 1: 51.0, 2: 50.0, 3: 49.0}, "x": {0: 1.0}}
  lines = trap_scale.table(stored, probe, ("m", "r", "h")).splitlines()
  assert lines[0] == "reference: m (chosen on the stored seeds 0-9)"
  # 'r' is best over all four seeds but not over the first ones; 'x' ran one seed: no row.
  assert lines[-1] == "| h | 4 | 2.00 +- 0.20* | 1.00 +- 0.00* | 1.00 +- 0.20* |"
  # Where the picks went: rows 0-1 the cluster (of 8), x0 = row index / 4, labels 0,1,2,0..
  features = np.stack([np.arange(8) / 4.0, -np.ones(8)], axis=1)
  labels = np.arange(8) % 3
  runs = [
    {"strategy": "a", "picks": [[0], [4], [5], [7]]},  # first three on the plane: 4, 5
    {"strategy": "a", "picks": [[2], [3], [1], [6]]},  # first three on the plane: 2, 3
  ]
  text = trap_scale.pick_geometry(features, labels, runs).splitlines()
  # shares 1/4 and 1/4; |x0| means (1+1.25+1.75)/3 and (0.5+0.75+1.5)/3; classes {1, 2}
  # and {2, 0}
  assert text[-1] == "| a | 2 | 0.25 | 1.12 | 1.00 | 2.00 |"


def test_the_pool_scales_by_hand():
  from autoal_jax.strategies import coverage
  from benchmarks import pool_scale

  # Twelve points evenly on a circle (radius 3: the scales are the normalised ones): the
  # k-th nearest other is at 30, 30, 60, 60, 90 degrees, chord 2 sin(angle / 2).
  angle = 2 * np.pi * np.arange(12) / 12
  x = 3.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
  got = pool_scale.scales(x, num_classes=2)
  assert set(got) == {"k=1", "k=5", "kept@10", "probcover"}  # k below the pool's size only
  assert got["kept@10"] == 1.0  # one norm: the normalisation keeps every neighbourhood
  np.testing.assert_allclose(got["k=1"], 2 * np.sin(np.pi / 12), rtol=1e-6)
  np.testing.assert_allclose(got["k=5"], 2 * np.sin(np.pi / 4), rtol=1e-6)
  assert got["probcover"] in np.float32(coverage.PROBCOVER_DELTAS)
  # Three points: on the features each one's nearest is (1, 0) or (1, 0.5) (0.5 apart,
  # (3, 0.1) 2 and 2.04 away); on the sphere (3, 0.1), at 0.033 rad, is the nearest of
  # both others, and (1, 0) its own: one of three nearest neighbours kept.
  folded = pool_scale.scales(np.array([[1.0, 0.0], [3.0, 0.1], [1.0, 0.5]]), 2, kept=1)
  np.testing.assert_allclose(folded["kept@1"], 1 / 3)


def test_blob_picks_reads_the_bought_points_blobs_and_norms(tmp_path):
  import gzip
  import json

  from benchmarks import blob_picks, synthetic_cases

  x, blob = blob_picks.features("blobs_d1")
  data = synthetic_cases.make_case("blobs", 1)[0]  # the sweep's draw, sample for sample
  np.testing.assert_array_equal(synthetic_cases.BLOB_CLASS[blob], np.asarray(data.train_labels))
  np.testing.assert_allclose(x, synthetic_cases.decode(data.train_images))
  runs = [
    {"strategy": "a", "seed": 0, "aubc": 0.5, "picks": [[0, 1], [2]]},
    {"strategy": "a", "seed": 1, "aubc": 0.7, "picks": [[3], [4, 5]]},
    {"strategy": "b", "seed": 0, "aubc": 0.9, "picks": [[6], [7]]},
  ]
  with gzip.open(tmp_path / "blobs_d1-2.json.gz", "wt") as f:
    json.dump({"runs": runs[:2]}, f)
  with gzip.open(tmp_path / "blobs_d1-2+b.json.gz", "wt") as f:
    json.dump({"runs": runs[2:]}, f)
  with gzip.open(tmp_path / "blobs_d2-2.json.gz", "wt") as f:  # another draw: not read
    json.dump({"runs": runs[2:]}, f)
  lines = blob_picks.table(str(tmp_path), "blobs_d1").splitlines()
  assert [line.split(" | ")[1] for line in lines[4:]] == ["b", "a"]  # best first
  norm = np.linalg.norm(x, axis=1)
  reached = np.mean([len(set(blob[[0, 1, 2]])), len(set(blob[[3, 4, 5]]))])
  mean_norm = np.mean([norm[[0, 1, 2]].mean(), norm[[3, 4, 5]].mean()])
  assert lines[5].startswith(f"| blobs_d1-2 | a | {reached:.1f} | {mean_norm:.2f} |")
  assert lines[5].endswith("| 60.00 |")
  with pytest.raises(ValueError, match="blobs"):
    blob_picks.features("trap_d1")


def test_the_pool_clarity_compares_the_two_geometries():
  from benchmarks import pool_scale

  # Four clusters: two directions (0 and 90 degrees) at two norms (1 and 4), each spread
  # in proportion to its norm. On the features as given, 2 x 2 clusters are the four
  # (silhouette near 1); on the sphere the norms fold into two alike clusters, and four
  # clusters split them (a much lower silhouette).
  rng = np.random.default_rng(0)
  directions = np.repeat(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]), 10, 0)
  norms = np.repeat(np.array([1.0, 4.0, 1.0, 4.0]), 10)[:, None]
  x = norms * (directions + 0.05 * rng.normal(size=(40, 2)))
  got = pool_scale.clarity(x, num_classes=2)
  assert set(got) == {f"{g}@{m}C" for m in (1, 2, 4) for g in ("raw", "sphere")}
  assert got["raw@2C"] > 0.8
  assert got["sphere@1C"] > 0.95  # two directions: two clusters on the sphere
  assert got["sphere@2C"] < got["raw@2C"] - 0.2


def test_the_pool_clarity_reads_the_image_pools_as_the_sweep_embeds_them():
  from autoal_jax import data
  from benchmarks import pool_scale

  x, classes = pool_scale.real_features_of("digits")
  pool = data.load_dataset("digits")
  assert classes == 10 and x.shape == (len(pool.train_labels), 50)  # the whole pool, PCA 50
  # Principal components, in order and not standardised one by one (the silhouettes are
  # free of one global scale, not of a scale per component): uncorrelated columns of
  # falling variance, the first many times the last.
  variance = np.var(x, axis=0)
  assert np.all(np.diff(variance) <= 1e-6 * variance[0])
  assert variance[0] > 10 * variance[-1]
  correlation = np.corrcoef(x[:, :5], rowvar=False)
  np.testing.assert_allclose(correlation, np.eye(5), atol=1e-3)
