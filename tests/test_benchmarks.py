"""The prepared accelerator check runs end to end here, at its CPU smoke size, so that it is
known to work before any GPU minute is spent on it."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = ("tests", "round_small_cnn", "round_resnet18", "seeds", "strategies", "throughput")


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
