r"""How many of the budget sweep's ``low_budget`` case's 30 clusters (three a class,
`benchmarks.synthetic_cases`) each strategy's queries reach, query by query: the case
where the labeled set can miss a mode outright and the model, trained without it, is
confidently wrong there.

  python -m benchmarks.cluster_reach                    # the stored and kept low_budget cells
  python -m benchmarks.cluster_reach --dataset=low_budget_d1   # a fresh draw's cells

Per cell (labels per class) and strategy: the number of distinct clusters holding at least
one label bought by the first q queries (the initial set excluded, and the pool's scattered
tenth of outliers, its first rows by construction, not counted), for q = 1, 2, 3, 4, mean
over the seeds, then the mean test accuracy (%) after the first query. A cluster is the
pool row's nearest centre. Random reaches nearly all 30 with the first query at 10 per
class (100 labels).
"""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
QUERIES = 4


def clusters(dataset: str = "low_budget") -> tuple[np.ndarray, np.ndarray]:
  """(cluster of each pool row int[N], outlier bool[N]) of the case's draw ``dataset``."""
  from benchmarks import sweep, synthetic_cases

  case, seed = sweep.synthetic_draw(dataset) or (None, 0)
  if case != "low_budget":
    raise ValueError(f"{dataset!r} is not a draw of the low_budget case")
  x = synthetic_cases.decode(synthetic_cases.make_case(case, seed)[0].train_images)
  # make_case's centres (RandomState(11)); every draw shares them.
  centres = 4.0 * np.random.RandomState(11).randn(30, x.shape[1])
  nearest = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
  outlier = np.arange(len(x)) < len(x) // 10
  return nearest, outlier


def reach(folders, dataset: str = "low_budget") -> dict:
  """{labels per class: {strategy: ([clusters reached after query 1..QUERIES],
  accuracy % after query 1)}}, means over the seeds."""
  cluster, outlier = clusters(dataset)
  found = {}
  for folder in folders:
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
      if not name.endswith(".json.gz"):
        continue
      # DATASET-M, DATASET-M-VARIANT, DATASET-M+LATER (later strategies: their own names)
      stem = name[: -len(".json.gz")].partition("+")[0]
      if not stem.startswith(f"{dataset}-"):
        continue
      budget, _, variant = stem[len(dataset) + 1 :].partition("-")
      if not budget.isdigit():
        continue
      suffix = f"@{variant}" if variant else ""
      with gzip.open(os.path.join(folder, name), "rt") as f:
        runs = json.load(f)["runs"]
      cell = found.setdefault(int(budget), {})
      for run in runs:
        seen, counts = set(), []
        for query in run["picks"][:QUERIES]:
          query = np.asarray(query, np.int64)
          seen |= set(cluster[query[~outlier[query]]].tolist())
          counts.append(len(seen))
        accuracy = 100.0 * run["accuracy"][1] if len(run["accuracy"]) > 1 else np.nan
        cell.setdefault(run["strategy"] + suffix, []).append((counts, accuracy))
  return {
    m: {
      s: (np.mean([r[0] for r in v], axis=0).tolist(), float(np.mean([r[1] for r in v])))
      for s, v in c.items()
    }
    for m, c in found.items()
  }


def table(by_cell: dict) -> str:
  lines = ["| labels per class | strategy | clusters reached after queries 1-4 | acc. % after 1 |"]
  lines.append("|---|---|---|---|")
  for m in sorted(by_cell):
    for s in sorted(by_cell[m]):
      counts, accuracy = by_cell[m][s]
      lines.append(f"| {m} | {s} | {' '.join(f'{c:.1f}' for c in counts)} | {accuracy:.1f} |")
  return "\n".join(lines)


def main(argv):
  del argv
  print(table(reach(FLAGS.folders, FLAGS.dataset)))


if __name__ == "__main__":
  flags.DEFINE_list(
    "folders",
    ["docs/results/sweep", "docs/results/in_progress/sweep"],
    "Folders of stored or kept sweep cells (DATASET-M[-VARIANT|+LATER].json.gz).",
  )
  flags.DEFINE_string("dataset", "low_budget", "The low_budget case or a fresh draw of it.")
  app.run(main)
