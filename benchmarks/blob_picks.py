r"""What each strategy buys in a ``blobs`` draw, read from the stored sweep runs' picks:
how many of the sixteen blobs its queries reach, and where in the feature space its
bought points lie (the twentieth session's look at why the narrow-width herdings lose
the raw-geometry blobs).

  python -m benchmarks.blob_picks --stored=docs/results/sweep_raw19 --case=blobs_d5

Per budget (labels per class) and strategy, over the seeds: the blobs reached by all
seven queries (of 16; the initial set not counted), the mean norm of the bought points'
features as drawn (the pool's mean beside it: L2 normalisation maps a point of large
norm, an outer blob, into a small solid angle, so the outer blobs are the sphere's
densest), their mean distance in the plane to their own blob's centre (typicality), and
the AUBC (%), best first.
"""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS


def features(case: str):
  """(the pool's features as the strategies saw them, float[N, 6]; each sample's blob)
  of a blobs draw (``blobs`` or ``blobs_dN``)."""
  from benchmarks import sweep, synthetic_cases

  drawn = sweep.synthetic_draw(case)
  if drawn is None or drawn[0] != "blobs":
    raise ValueError(f"case must be blobs or blobs_dN (N >= 1), got {case!r}")
  x, _, blob = synthetic_cases.blobs_pool(drawn[1])
  # The sweep's npz holds the encoded features decoded (rounded to 1/20).
  x = synthetic_cases.decode(synthetic_cases.encode(x))
  return x, blob


def table(folder: str, case: str) -> str:
  """The markdown table (module docstring) of every stored cell of ``case`` in
  ``folder`` (DATASET-M.json.gz and DATASET-M+LATER.json.gz)."""
  from benchmarks import sweep, synthetic_cases

  x, blob = features(case)
  norm = np.linalg.norm(x, axis=1)
  offset = np.linalg.norm(x[:, :2] - synthetic_cases.BLOB_CENTRES[blob], axis=1)
  cells = {}
  for name, stem, variant in sweep._stored_files(folder):
    dataset, budget = stem.rsplit("-", 1)
    if dataset != case:
      continue
    with gzip.open(os.path.join(folder, name), "rt") as f:
      for run in json.load(f)["runs"]:
        bought = np.concatenate([np.asarray(p, np.int64) for p in run["picks"]])
        row = (len(set(blob[bought])), norm[bought].mean(), offset[bought].mean(), run["aubc"])
        strategy = run["strategy"] + (f"@{variant}" if variant else "")  # as sweep.load_cells
        cells.setdefault(int(budget), {}).setdefault(strategy, []).append(row)
  lines = [
    f"pool: mean norm {norm.mean():.2f}, mean distance to the blob's centre {offset.mean():.3f}",
    "",
    "| cell | strategy | blobs reached | norm | to centre | AUBC |",
    "|---|---|---|---|---|---|",
  ]
  for budget, rows in sorted(cells.items()):
    for strategy, values in sorted(rows.items(), key=lambda kv: -np.mean([v[3] for v in kv[1]])):
      v = np.asarray(values, np.float64).mean(axis=0)
      lines.append(
        f"| {case}-{budget} | {strategy} | {v[0]:.1f} | {v[1]:.2f} | {v[2]:.3f} | "
        f"{100 * v[3]:.2f} |"
      )
  return "\n".join(lines)


def main(argv):
  del argv
  print(table(FLAGS.stored, FLAGS.case))


if __name__ == "__main__":
  flags.DEFINE_string("stored", "docs/results/sweep_raw19", "Folder of stored sweep cells.")
  flags.DEFINE_string("case", "blobs_d5", "The blobs draw (blobs or blobs_dN).")
  app.run(main)
