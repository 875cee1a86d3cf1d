"""The prepared accelerator check runs end to end here, at its CPU smoke size, so that it is
known to work before any GPU minute is spent on it."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = ("tests", "round_small_cnn", "round_resnet18", "seeds", "strategies", "throughput")


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
