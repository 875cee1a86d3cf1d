r"""Markdown tables of a finished experiment, for docs/results.md (numbers as stored).

  python -m experiments.report runs/compare
  python -m experiments.report docs/results/pure_round/demo_results.json   # a stored file
  python -m experiments.report FILE docs/results/demo_   # and its figures: demo_*.png

Prints, from the workdir's results.json: the AUBC / F-acc table (rank, mean +- std over
seeds, seeds, per-seed AUBC), the mean accuracy per round, the wall time per run, and for
the mixtures (autoal, autoal-code, albl) the mean weight per candidate and round plus
AutoAL's search metrics per round.
"""

from __future__ import annotations

import gzip
import json
import os
import sys

import numpy as np

from experiments import reporting


def _pct(x: float) -> str:
  return f"{100 * x:.2f}"


def tables(results: dict) -> str:
  runs = results["runs"]
  summary = reporting.summarize_runs(runs)
  ranked = sorted(summary, key=lambda s: -summary[s]["aubc_mean"])
  out = ["| rank | strategy | seeds | AUBC (%) | F-acc (%) | AUBC per seed (%) |"]
  out.append("|---|---|---|---|---|---|")
  for rank, name in enumerate(ranked, 1):
    e = summary[name]
    per_seed = ", ".join(
      _pct(run["aubc"]) for run in sorted(runs, key=lambda r: r["seed"]) if run["strategy"] == name
    )
    out.append(
      f"| {rank} | {name} | {', '.join(map(str, e['seeds']))} | "
      f"{_pct(e['aubc_mean'])} +- {_pct(e['aubc_std'])} | "
      f"{_pct(e['f_acc_mean'])} +- {_pct(e['f_acc_std'])} | {per_seed} |"
    )
  labels = runs[0]["labels"]
  out += ["", "Mean test accuracy (%) per round, by labeled-set size:", ""]
  out.append("| strategy | " + " | ".join(map(str, labels)) + " |")
  out.append("|---|" + "---|" * len(labels))
  for name in ranked:
    acc = np.mean([run["accuracy"] for run in runs if run["strategy"] == name], axis=0)
    out.append(f"| {name} | " + " | ".join(_pct(a) for a in acc) + " |")
  out += ["", "Wall time per run (s, mean over seeds): train / query (score + search + pick):", ""]
  out.append("| strategy | train | score | search | pick | total |")
  out.append("|---|---|---|---|---|---|")
  for name in ranked:
    chosen = [run["seconds"] for run in runs if run["strategy"] == name]
    parts = [np.mean([sum(s[k]) for s in chosen]) for k in ("train", "score", "search", "pick")]
    out.append(f"| {name} | " + " | ".join(f"{p:.0f}" for p in parts) + f" | {sum(parts):.0f} |")
  for name in ranked:
    chosen = [run for run in runs if run["strategy"] == name and "search" in run]
    if not chosen:
      continue
    columns = list(chosen[0]["search"][0]["weights"])
    what = (
      "arm probability at the draw"
      if "arm" in chosen[0]["search"][0]
      else "mean weight over the picks"
    )
    out += ["", f"{name}: {what}, mean over seeds, per round:", ""]
    out.append("| labels | " + " | ".join(columns) + " |")
    out.append("|---|" + "---|" * len(columns))
    for r in range(len(chosen[0]["search"])):
      row = [np.mean([run["search"][r]["weights"][c] for run in chosen]) for c in columns]
      out.append(f"| {labels[r]} | " + " | ".join(f"{w:.3f}" for w in row) + " |")
    if "search_loss" in chosen[0]["search"][0]:
      keys = [key for key in SEARCH_METRICS if key in chosen[0]["search"][0]]
      out += ["", f"{name}: search metrics, mean over seeds, per round:", ""]
      out.append("| labels | " + " | ".join(keys) + " |")
      out.append("|---|" + "---|" * len(keys))
      for r in range(len(chosen[0]["search"])):
        row = [np.mean([run["search"][r][k] for run in chosen]) for k in keys]
        out.append(f"| {labels[r]} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    elif "arm" in chosen[0]["search"][0]:
      arms = [[run["search"][r]["arm"] for r in range(len(run["search"]))] for run in chosen]
      out += ["", f"{name}: arms drawn per seed: " + "; ".join(", ".join(a) for a in arms)]
  return "\n".join(out)


# A search's per-round metrics, in this order, those its entries have (the alignment
# search's guardrail: mixture 1 = the searched mixture bought, 0 = the vote of survivors).
SEARCH_METRICS = (
  "fit_loss", "search_loss", "rank_accuracy", "soft_count_v", "target_count_v", "mixture",
  "survivors", "value_mixture", "value_best", "value_se",
)  # fmt: skip


def main(argv: list[str]) -> int:
  if len(argv) not in (2, 3):
    print(__doc__)
    return 2
  # A run folder, or a results file stored under docs/results/ (plain or gzipped).
  path = argv[1] if os.path.isfile(argv[1]) else os.path.join(argv[1], "results.json")
  if not os.path.exists(path):
    print(f"error: no results.json in {argv[1]}")
    return 1
  with (gzip.open if path.endswith(".gz") else open)(path, "rt") as f:
    results = json.load(f)
  print(tables(results))
  if len(argv) == 3:  # the figures too, as the CLI draws them, with this file name prefix
    runs, prefix = results["runs"], argv[2]
    reporting.plot_learning_curves(f"{prefix}learning_curve.png", runs)
    if any(reporting.has_weights(run) for run in runs):
      reporting.plot_strategy_weights(f"{prefix}strategy_weights.png", runs)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
