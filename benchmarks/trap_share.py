r"""How much of each strategy's queries the budget sweep's ``trap`` case spends in its noise
cluster: a quarter of the pool off the plane, labels drawn at random, absent from the test
set (`benchmarks.synthetic_cases`, the first quarter of the pool rows by construction).

  python -m benchmarks.trap_share                  # the sweep's stored and kept trap cells
  python -m benchmarks.trap_share --per_round      # the same, query by query
  python -m benchmarks.trap_share --case=trap_d2   # a fresh draw of the case (data seed 2)

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


def shares(folders, per_round: bool = False, case: str = "trap") -> dict:
  """{labels per class: {strategy: mean % of its bought labels in the cluster}}; with
  ``per_round``, {strategy: [that % of each query]}. ``case``: the sweep's draw
  (``trap``) or a fresh one (``trap_dN``, built the same way: its cluster is the first
  quarter of its pool too)."""
  from benchmarks import sweep, synthetic_cases

  drawn = sweep.synthetic_draw(case)
  if drawn is None or drawn[0] != "trap":
    raise ValueError(f"case must be trap or trap_dN (N >= 1), got {case!r}")
  cluster = len(synthetic_cases.make_case("trap", drawn[1])[0].train_labels) // 4
  found = {}
  for folder in folders:
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
      # trap-M, trap-M-VARIANT, trap-M+LATER (later strategies: their own names)
      stem = name[: -len(".json.gz")].partition("+")[0] if name.endswith(".json.gz") else ""
      parts = stem.split("-") if stem else []
      if len(parts) < 2 or parts[0] != case or not parts[1].isdigit():
        continue
      suffix = "" if len(parts) == 2 else f"@{parts[2]}"
      with gzip.open(os.path.join(folder, name), "rt") as f:
        runs = json.load(f)["runs"]
      cell = found.setdefault(int(parts[1]), {})
      for run in runs:
        queries = [np.asarray(q, np.int64) for q in run["picks"]]
        share = [np.mean(q < cluster) for q in queries] if per_round else [
          np.mean(np.concatenate(queries) < cluster)
        ]  # fmt: skip
        cell.setdefault(run["strategy"] + suffix, []).append(share)
  mean = lambda v: [100.0 * float(x) for x in np.mean(v, axis=0)]  # noqa: E731
  return {
    m: {s: mean(v) if per_round else mean(v)[0] for s, v in c.items()} for m, c in found.items()
  }


def table(by_cell: dict) -> str:
  """Cells as rows, strategies as columns; a per-round share as its queries' values."""
  names = sorted({s for c in by_cell.values() for s in c})
  lines = ["| labels per class | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
  for m in sorted(by_cell):
    fmt = lambda v: " ".join(f"{x:.0f}" for x in np.atleast_1d(v))  # noqa: E731
    row = [fmt(by_cell[m][s]) if s in by_cell[m] else "" for s in names]
    lines.append(f"| {m} | " + " | ".join(row) + " |")
  return "\n".join(lines)


def main(argv):
  del argv
  print(table(shares(FLAGS.folders, FLAGS.per_round, FLAGS.case)))


if __name__ == "__main__":
  flags.DEFINE_list(
    "folders",
    ["docs/results/sweep", "docs/results/in_progress/sweep"],
    "Folders of stored or kept sweep cells (trap-M[-VARIANT|+LATER].json.gz).",
  )
  flags.DEFINE_bool("per_round", False, "Each query's share, in order, not the run's.")
  flags.DEFINE_string("case", "trap", "The sweep's draw (trap) or a fresh one (trap_dN).")
  app.run(main)
