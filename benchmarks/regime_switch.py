r"""A one-shot regime switch, measured exactly from stored sweep runs: each seed runs v7's
leader (`uherding_median`, covering the whole pool) where the calibration model's
held-out error at the first query is under TAU, else v8's (`uherding_gated`).

  python -m benchmarks.regime_switch                   # every cell with the three runs
  python -m benchmarks.regime_switch --taus=0.15,0.2,0.25
  python -m benchmarks.regime_switch --folders=docs/results/sweep_raw19 \
      --below=uherding_cvswitch --above=uherding_wide --log=uherding_cvswitch \
      --key=cv_error --relative --taus=0.8,0.85,0.9   # any two runs, any logged signal

The three leaders draw their keys alike (common random numbers), so the first query's
calibration split and fit are the same in each, and a run that took either branch at its
first query and kept it is that leader's stored run, seed for seed: no run is needed.
The held-out error is read from `uherding_regime`'s query log (its first entry); as
`uherding_switch` (the switch as a strategy) decides, a held-out part of fewer labels
than classes sends every seed to v8's leader. Per cell
and TAU: the seeds sent to v7's leader, the switch's paired regret to the cell's best
single strategy (mean +- SE, points of AUBC; * more than 2 SE), and both leaders' beside
it.

``--below``, ``--above``, ``--log``, ``--key``: the same for any two stored strategies and
any signal a third (or one of them) logs at its first query: each seed takes BELOW's run
where the signal is under TAU, else ABOVE's (the held-out part's size rule applies to
``held_out_error`` only). ``--relative``: the signal over chance's error, 1 - 1 / C (C
the classes, the initial labels over the labels per class). Exact where the two runs'
keys are drawn alike and the signal is fixed before the first query (v12's
cross-validated error, measured in its ``init``); a retrospective look otherwise.
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


def load(folders, names=(COVER, GATE, LOG)) -> dict:
  """{(dataset, budget): {strategy: {seed: run}}} of the single strategies' and the
  ``names``' stored runs (the later folder's run wins a seed both hold)."""
  from benchmarks import sweep
  from experiments.configs import sweep as sweep_config

  keep = {*sweep_config.SINGLE, *names}
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


def rows(
  cells: dict,
  taus,
  below: str = COVER,
  above: str = GATE,
  log: str = LOG,
  key: str = "held_out_error",
  relative: bool = False,
) -> list[str]:
  """Markdown rows, one per cell with the three strategies' runs and TAU: each seed takes
  ``below``'s run where ``log``'s first logged ``key`` is under TAU, else ``above``'s."""
  from autoal_jax.strategies import uherding
  from experiments.configs import sweep as sweep_config

  names = (below, above, log)
  out = [
    f"| cell | TAU | seeds to {below} | switch | {below} | {above} |",
    "|---|---|---|---|---|---|",
  ]
  for (dataset, budget), runs in sorted(cells.items()):
    singles = {s: r for s, r in runs.items() if s in sweep_config.SINGLE}
    if not singles or not all(name in runs for name in names):
      continue
    initial = runs.get(INITIAL) or 0
    # `uherding_switch` decides only on a held-out part of a label per class at least.
    enough = key != "held_out_error" or (int(uherding.held_out_count(initial)) >= initial // budget)
    chance = 1.0 - budget / initial if relative else 1.0
    best = singles[max(singles, key=lambda s: np.mean([r["aubc"] for r in singles[s].values()]))]
    seeds = sorted(set(best).intersection(*(runs[n] for n in names)))
    signal = {i: float(runs[log][i]["search"][0][key]) / chance if enough else 1.0 for i in seeds}
    under, over = runs[below], runs[above]
    for tau in taus:
      switch = _regret(best, lambda i: under[i] if signal[i] < tau else over[i], seeds)  # noqa: B023
      out.append(
        f"| {dataset}-{budget} | {tau:g} | {sum(signal[i] < tau for i in seeds)} of "
        f"{len(seeds)} | {switch} | {_regret(best, under.get, seeds)} | "
        f"{_regret(best, over.get, seeds)} |"
      )
  return out


def main(argv):
  del argv
  names = (FLAGS.below, FLAGS.above, FLAGS.log)
  taus = [float(t) for t in FLAGS.taus]
  cells = load(FLAGS.folders, names)
  print("\n".join(rows(cells, taus, *names, key=FLAGS.key, relative=FLAGS.relative)))


if __name__ == "__main__":
  flags.DEFINE_list(
    "folders",
    ["docs/results/sweep", "docs/results/in_progress/sweep"],
    "Folders of stored sweep cells (DATASET-M[+LATER].json.gz).",
  )
  flags.DEFINE_list("taus", ["0.2"], "Held-out error thresholds.")
  flags.DEFINE_string("below", COVER, "The run a seed takes where the signal is under TAU.")
  flags.DEFINE_string("above", GATE, "The run a seed takes elsewhere.")
  flags.DEFINE_string("log", LOG, "The strategy whose first query's log holds the signal.")
  flags.DEFINE_string("key", "held_out_error", "The signal: a key of that log.")
  flags.DEFINE_bool("relative", False, "The signal over chance's error, 1 - 1 / C.")
  app.run(main)
