r"""How much of each strategy's queries the budget sweep's ``trap`` case spends in its noise
cluster: a quarter of the pool off the plane, labels drawn at random, absent from the test
set (`benchmarks.synthetic_cases`, the first quarter of the pool rows by construction).

  python -m benchmarks.trap_share     # the sweep's stored and kept trap cells

Per cell (labels per class) and strategy: the share of the labels bought in the seven
queries (the initial set excluded) that lie in the cluster, mean over the seeds, in %.
The cluster's share of the pool is 25%: a strategy that ignores it buys about that.
"""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS


def shares(folders) -> dict:
  """{labels per class: {strategy: mean % of its bought labels in the cluster}}."""
  from benchmarks import synthetic_cases

  cluster = len(synthetic_cases.make_case("trap")[0].train_labels) // 4
  found = {}
  for folder in folders:
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
      parts = name[: -len(".json.gz")].split("-") if name.endswith(".json.gz") else []
      if len(parts) < 2 or parts[0] != "trap" or not parts[1].isdigit():
        continue
      suffix = "" if len(parts) == 2 else f"@{parts[2]}"
      with gzip.open(os.path.join(folder, name), "rt") as f:
        runs = json.load(f)["runs"]
      cell = found.setdefault(int(parts[1]), {})
      for run in runs:
        picks = np.concatenate([np.asarray(q, np.int64) for q in run["picks"]])
        cell.setdefault(run["strategy"] + suffix, []).append(np.mean(picks < cluster))
  return {m: {s: 100.0 * float(np.mean(v)) for s, v in c.items()} for m, c in found.items()}


def table(by_cell: dict) -> str:
  names = sorted({s for c in by_cell.values() for s in c})
  lines = ["| labels per class | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
  for m in sorted(by_cell):
    row = [f"{by_cell[m][s]:.0f}" if s in by_cell[m] else "" for s in names]
    lines.append(f"| {m} | " + " | ".join(row) + " |")
  return "\n".join(lines)


def main(argv):
  del argv
  print(table(shares(FLAGS.folders)))


if __name__ == "__main__":
  flags.DEFINE_list(
    "folders",
    ["docs/results/sweep", "docs/results/in_progress/sweep"],
    "Folders of stored or kept sweep cells (trap-M[-VARIANT].json.gz).",
  )
  app.run(main)
