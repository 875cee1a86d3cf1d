r"""How far the labels near a strategy's picks agree beyond chance, in and out of the trap's
cluster of random labels (`uherding.label_agreement`, read on the budget sweep's stored
runs of the synthetic cases).

  python -m benchmarks.agreement_picks --cells=trap-50,trap_d2-50,blobs-50,margin-50,trap-20 \
      --strategy=uherding_gated_min

Per cell and query q = 2..8: the labeled set before query q is rebuilt exactly (the run's
initial set from its seed, `loop.init_state`, plus the stored picks of the queries before
q); each pick of query q gets its excess agreement at that labeled set (the labeled
neighbours' agreement beyond chance at the median nearest-labeled width, scale 1), and
the table gives, means over the seeds, the share of the query in the cluster (the trap's
first quarter of the pool rows by construction; 0 for the other cases) and quantiles of
the picks' excess agreement in the cluster and outside it. v12's scale (0.2) was read
from this table (docs/results.md, the thirteenth session).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import warnings

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS


def cell_rows(cell: str, strategy: str, stored: str, data_dir: str, seeds: int) -> list[str]:
  """The table's rows of one stored cell (DATASET-M) of ``strategy`` (a later strategy's
  file, DATASET-M+STRATEGY, or the cell's own)."""
  import jax
  import jax.numpy as jnp

  from autoal_jax import data, loop
  from autoal_jax.strategies import coverage, uherding
  from benchmarks import sweep

  dataset_name, budget = cell.rsplit("-", 1)
  if not sweep.synthetic_draw(dataset_name):
    raise app.UsageError(f"{cell}: a synthetic case's cell (CASE-M or CASE_dN-M)")
  path, classes, pool = sweep.synthetic_npz(dataset_name, data_dir)
  dataset = data.load_dataset(f"npz:{path}", None, 1.0, seed=0)
  x = coverage.normalise(jnp.asarray(dataset.train_images, jnp.float32).reshape(pool, -1))
  labels = jnp.asarray(dataset.train_labels, jnp.int32)
  trap = np.zeros(pool, bool)
  if sweep.synthetic_draw(dataset_name)[0] == "trap":
    trap[: pool // 4] = True
  runs = []
  for name in (f"{cell}+{strategy}.json.gz", f"{cell}.json.gz"):
    if os.path.exists(os.path.join(stored, name)):
      with gzip.open(os.path.join(stored, name), "rt") as f:
        runs = [r for r in json.load(f)["runs"] if r["strategy"] == strategy]
    if runs:
      break
  if not runs:
    raise app.UsageError(f"no stored run of {strategy} in {cell} under {stored}")
  size = int(budget) * classes
  config = loop.ALConfig(size, size, size * len(runs[0]["picks"]), 0)
  table = {}
  for run in sorted(runs, key=lambda r: r["seed"])[:seeds]:
    labeled = np.array(loop.init_state(jax.random.key(run["seed"]), pool, config).labeled)
    for q, picks in enumerate(run["picks"]):
      picks = np.asarray(picks)
      if q > 0:  # the labeled set before query q + 1 (the first is the initial set's)
        width = uherding.kernel_width(x, jnp.asarray(labeled), statistic="median")
        excess = np.asarray(
          uherding.label_agreement(x, jnp.asarray(labeled), labels, width, classes)
        )[picks]
        inside, outside = excess[trap[picks]], excess[~trap[picks]]
        row = table.setdefault(q + 1, [])
        row.append(
          [
            float(np.mean(trap[picks])),
            *(np.percentile(inside, [50, 95]) if len(inside) else [np.nan] * 2),
            *(np.percentile(outside, [5, 25, 50]) if len(outside) else [np.nan] * 3),
          ]
        )
      labeled[picks] = True
  lines = []
  for q, rows in sorted(table.items()):
    with warnings.catch_warnings():  # a column with no pick (none in the cluster): blank
      warnings.simplefilter("ignore", RuntimeWarning)
      m = np.nanmean(np.asarray(rows, np.float64), axis=0)
    cells = " | ".join("" if np.isnan(v) else f"{v:.2f}" for v in m)
    lines.append(f"| {cell} | {q} | {cells} |")
  return lines


def main(argv):
  del argv
  print(
    f"{FLAGS.strategy}: picks' excess label agreement (means over {FLAGS.seeds} seeds)\n\n"
    "| cell | query | share in the cluster | in: q50 | in: q95 | out: q5 | out: q25 | "
    "out: q50 |\n|---|---|---|---|---|---|---|---|"
  )
  data_dir = FLAGS.data_dir or os.path.join(tempfile.gettempdir(), "autoal_sweep_data")
  for cell in FLAGS.cells:
    print("\n".join(cell_rows(cell, FLAGS.strategy, FLAGS.stored, data_dir, FLAGS.seeds)))


if __name__ == "__main__":
  flags.DEFINE_list("cells", ["trap-50", "trap_d2-50", "blobs-50", "margin-50", "trap-20"], "")
  flags.DEFINE_string("strategy", "uherding_gated_min", "a stored strategy's runs")
  flags.DEFINE_string("stored", "docs/results/sweep", "the stored cells")
  flags.DEFINE_string("data_dir", "", "where the synthetic npz go (default: a temp folder)")
  flags.DEFINE_integer("seeds", 10, "the first this many seeds")
  app.run(main)
