r"""A one-shot regime switch, measured exactly from stored sweep runs: each seed runs v7's
leader (`uherding_median`, covering the whole pool) where the calibration model's
held-out error at the first query is under TAU, else v8's (`uherding_gated`).

  python -m benchmarks.regime_switch                   # every cell with the three runs
  python -m benchmarks.regime_switch --taus=0.15,0.2,0.25

The three leaders draw their keys alike (common random numbers), so the first query's
calibration split and fit are the same in each, and a run that took either branch at its
first query and kept it is that leader's stored run, seed for seed: no run is needed.
The held-out error is read from `uherding_regime`'s query log (its first entry); as
`uherding_switch` (the switch as a strategy) decides, a held-out part of fewer labels
than classes sends every seed to v8's leader. Per cell
and TAU: the seeds sent to v7's leader, the switch's paired regret to the cell's best
single strategy (mean +- SE, points of AUBC; * more than 2 SE), and both leaders' beside
it.
"""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
COVER, GATE, LOG = "uherding_median", "uherding_gated", "uherding_regime"
INITIAL = "num_initial"  # a cell's entry: its initial labels (the classes: this / budget)


def load(folders) -> dict:
  """{(dataset, budget): {strategy: {seed: run}}} of the single strategies' and the three
  leaders' stored runs (the later folder's run wins a seed both hold)."""
  from benchmarks import sweep
  from experiments.configs import sweep as sweep_config

  keep = {*sweep_config.SINGLE, COVER, GATE, LOG}
  cells = {}
  for folder in folders:
    if not os.path.isdir(folder):
      continue
    for name, stem, variant in sweep._stored_files(folder):
      if variant:  # a frozen version's autoal
        continue
      dataset, budget = stem.rsplit("-", 1)
      with gzip.open(os.path.join(folder, name), "rt") as f:
        stored = json.load(f)
      cell = cells.setdefault((dataset, int(budget)), {})
      cell.setdefault(INITIAL, stored.get("config", {}).get("num_initial"))
      for run in stored["runs"]:
        if run["strategy"] in keep:
          cell.setdefault(run["strategy"], {})[run["seed"]] = run
  return cells


def _regret(best: dict, runs, seeds) -> str:
  d = np.array([100.0 * (best[i]["aubc"] - runs(i)["aubc"]) for i in seeds])
  se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
  return f"{d.mean():.2f} +- {se:.2f}{'*' if d.mean() > 2 * se else ''}"


def rows(cells: dict, taus) -> list[str]:
  """Markdown rows, one per cell with the three leaders' runs and TAU."""
  from autoal_jax.strategies import uherding
  from experiments.configs import sweep as sweep_config

  out = [
    "| cell | TAU | seeds to v7 | switch | v7's leader | v8's leader |",
    "|---|---|---|---|---|---|",
  ]
  for (dataset, budget), runs in sorted(cells.items()):
    singles = {s: r for s, r in runs.items() if s in sweep_config.SINGLE}
    if not singles or not all(name in runs for name in (COVER, GATE, LOG)):
      continue
    # `uherding_switch` decides only on a held-out part of a label per class at least.
    initial = runs.get(INITIAL) or 0
    enough = int(uherding.held_out_count(initial)) >= initial // budget
    best = singles[max(singles, key=lambda s: np.mean([r["aubc"] for r in singles[s].values()]))]
    seeds = sorted(set(best).intersection(*(runs[n] for n in (COVER, GATE, LOG))))
    error = {
      i: float(runs[LOG][i]["search"][0]["held_out_error"]) if enough else 1.0 for i in seeds
    }
    cover, gate = runs[COVER], runs[GATE]
    for tau in taus:
      switch = _regret(best, lambda i: cover[i] if error[i] < tau else gate[i], seeds)  # noqa: B023
      out.append(
        f"| {dataset}-{budget} | {tau:g} | {sum(error[i] < tau for i in seeds)} of "
        f"{len(seeds)} | {switch} | {_regret(best, cover.get, seeds)} | "
        f"{_regret(best, gate.get, seeds)} |"
      )
  return out


def main(argv):
  del argv
  print("\n".join(rows(load(FLAGS.folders), [float(t) for t in FLAGS.taus])))


if __name__ == "__main__":
  flags.DEFINE_list(
    "folders",
    ["docs/results/sweep", "docs/results/in_progress/sweep"],
    "Folders of stored sweep cells (DATASET-M[+LATER].json.gz).",
  )
  flags.DEFINE_list("taus", ["0.2"], "Held-out error thresholds.")
  app.run(main)
