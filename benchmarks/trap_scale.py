r"""A mechanism probe for the trap at one label per class: do the coverage strategies lose
there because the unlearnable cluster sets the scale of the features they cover?

  python -m benchmarks.trap_scale --case=trap_d2 --runs=/work/runs/trap_scale   # run
  python -m benchmarks.trap_scale --case=trap_d2 --runs=/work/runs/trap_scale --table
  python -m benchmarks.trap_scale --case=trap_d2 --runs=docs/results/trap_scale --table  # stored

The sweep's coverage strategies measure distances on the pool's standardised features
(``embeddings = inputs``). In the trap a quarter of the pool is a cluster off the plane
whose labels are random; it nearly doubles the spread of the two informative features
(1.8 against the margin case's 1.15), so after standardisation the plane the classes
live on is shrunk against the four noise features. The probe runs the cell again with a
fixed embedding (``--config.embeddings=npz:...``) of the same features standardised with
the statistics of the pool *without* the cluster (`cluster_free_embedding`): the plane at
the margin case's scale, the cluster where it is. The task model, its inputs, the seeds'
initial sets and first models are the sweep's, so each run is paired with the stored run
of the same strategy and seed (``--stored``, the twenty-seed cells of
``docs/results/sweep20``). It uses the generator's knowledge of which rows are the cluster:
a probe of the mechanism, not a strategy. ``--scale=raw`` instead: the distances on
the generator's own features, not standardised at all (no knowledge of the cluster; the
plane then outweighs the noise features in the trap and in the margin case alike), on
any synthetic case (the margin case, the blobs: a control), into DATASET-M-raw.

``--picks`` (no run): where each stored strategy's queries went, for the trap's draws and
the margin case's (whose first quarter of rows is no cluster: its share is a control):
the share in the cluster's rows, the mean |x0|, |x1| of the picks on the plane (the plane
spans [-2, 2]; uniform picks average 1), and how many of the three classes the plane picks
of the first three queries hold.
Then the features' spreads (SD over every row and over the rows outside the cluster) and,
per scaling of the features (the standard deviation the sweep uses, and two robust
ones), how wide the plane is against the noise features on the rows outside the cluster
(`spread_ratios`): 1 in the margin case under the sweep's scaling.

``--table``: per strategy, the stored run's and the probe's regret to the reference (the
single strategy with the best mean over the stored seeds 0-9, as the bar on new seeds
chooses it) over the seeds both ran, and the probe's gain (probe - stored AUBC, paired).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess

import numpy as np
from absl import app, flags

from benchmarks import sweep

FLAGS = flags.FLAGS
STRATEGIES = ("maxherding", "uherding", "uherding_cvswitch")


def cluster_free_embedding(features: np.ndarray) -> np.ndarray:
  """The trap's pool features [N, D] standardised with the mean and spread of the rows
  outside its cluster (the first quarter of the rows, `synthetic_cases.make_case`)."""
  rest = features[len(features) // 4 :]
  return ((features - rest.mean(0)) / rest.std(0)).astype(np.float32)


def spread_ratios(features: np.ndarray, rest: np.ndarray) -> dict:
  """{scaling: the mean spread (SD) of the two plane features over the mean spread of the
  others, on the rows ``rest`` after the features are divided by that scaling's per-feature
  scale, computed over every row}: 'std' (the sweep's standardisation), 'iqr', 'mad'."""
  scales = {
    "std": features.std(0),
    "iqr": np.subtract(*np.percentile(features, [75, 25], axis=0)),
    "mad": np.median(np.abs(features - np.median(features, 0)), 0),
  }
  out = {}
  for name, scale in scales.items():
    spread = (features[rest] / scale).std(0)
    out[name] = float(spread[:2].mean() / spread[2:].mean())
  return out


def pick_geometry(features: np.ndarray, labels: np.ndarray, runs) -> str:
  """Markdown: per strategy of ``runs`` (stored run dicts with 'picks'), the mean over its
  seeds of the share of its queries in the first quarter of the rows, of |x0| and |x1| of
  its other picks, and of the classes among the other picks of its first three queries."""
  quarter = len(labels) // 4
  rows = {}
  for run in runs:
    picks = np.concatenate([np.asarray(p, np.int64) for p in run["picks"]])
    plane = picks[picks >= quarter]
    early = np.concatenate([np.asarray(p, np.int64) for p in run["picks"][:3]])
    classes = len(set(labels[early[early >= quarter]].tolist()))
    row = [np.mean(picks < quarter), *np.abs(features[plane, :2]).mean(0), classes]
    rows.setdefault(run["strategy"], []).append(row)
  lines = [
    "| strategy | seeds | share in the first quarter | mean abs x0 | mean abs x1 "
    "| classes, first three queries |",
    "|---|---|---|---|---|---|",
  ]
  for strategy, values in sorted(rows.items()):
    cells = " | ".join(f"{v:.2f}" for v in np.mean(values, axis=0))
    lines.append(f"| {strategy} | {len(values)} | {cells} |")
  return "\n".join(lines)


def table(stored: dict, probe: dict, single, first: int = 10) -> str:
  """Markdown: per probed strategy, its stored and probed regret to the reference (the
  single strategy of ``single`` with the best mean over stored seeds below ``first``),
  and the probe's paired gain; mean +- SE over the seeds all three ran."""
  candidates = [s for s in single if s in stored]
  reference = max(candidates, key=lambda s: np.mean([v for k, v in stored[s].items() if k < first]))
  lines = [
    f"reference: {reference} (chosen on the stored seeds 0-{first - 1})\n",
    "| strategy | seeds | stored: regret | probe: regret | probe - stored |",
    "|---|---|---|---|---|",
  ]

  def text(diff):
    mean, se = sweep.mean_se(diff)
    return f"{mean:.2f} +- {se:.2f}" + ("*" if abs(mean) > 2 * se else "")

  for strategy, runs in probe.items():
    seeds = sorted(set(runs) & set(stored.get(strategy, {})) & set(stored[reference]))
    if len(seeds) < 2:
      continue
    ref = np.asarray([stored[reference][k] for k in seeds])
    old = np.asarray([stored[strategy][k] for k in seeds])
    new = np.asarray([runs[k] for k in seeds])
    lines.append(
      f"| {strategy} | {len(seeds)} | {text(ref - old)} | {text(ref - new)} | {text(new - old)} |"
    )
  return "\n".join(lines)


def main(argv):
  del argv
  suffix = "" if FLAGS.scale == "cluster_free" else f"-{FLAGS.scale}"
  workdir = os.path.join(FLAGS.runs, f"{FLAGS.case}-{FLAGS.budget}{suffix}")
  if FLAGS.picks:
    path, _, _ = sweep.synthetic_npz(FLAGS.case, FLAGS.data)
    runs = []
    for name in (f"{FLAGS.case}-{FLAGS.budget}", f"{FLAGS.case}-{FLAGS.budget}+uherding_cvswitch"):
      with gzip.open(os.path.join(FLAGS.stored, f"{name}.json.gz"), "rt") as f:
        runs += json.load(f)["runs"]
    with np.load(path) as f:
      features, labels = f["train_images"], f["train_labels"]
    print(pick_geometry(features, labels, runs))
    rest = np.arange(len(labels)) >= (len(labels) // 4 if FLAGS.case.startswith("trap") else 0)
    ratios = spread_ratios(features, rest)
    print("\nfeature SDs, every row: " + ", ".join(f"{v:.2f}" for v in features.std(0)))
    print(
      "feature SDs, outside the cluster: " + ", ".join(f"{v:.2f}" for v in features[rest].std(0))
    )
    print(
      "\nplane / noise spread outside the cluster, by scaling: "
      + ", ".join(f"{name} {value:.2f}" for name, value in ratios.items())
    )
    return
  if FLAGS.table:
    # The workdir's results.json, or where it was stored (RUNS/CASE-M[-raw].json.gz).
    stored_probe = workdir + ".json.gz"
    opener = gzip.open if os.path.exists(stored_probe) else open
    path = stored_probe if os.path.exists(stored_probe) else os.path.join(workdir, "results.json")
    with opener(path, "rt") as f:
      probe = {}
      for run in json.load(f)["runs"]:
        probe.setdefault(run["strategy"], {})[run["seed"]] = 100 * run["aubc"]
    from experiments.configs import sweep as config

    # The stored cell: its singles and v12's leader (DATASET-M+uherding_cvswitch).
    stored = sweep.load_cells(FLAGS.stored)[FLAGS.case, int(FLAGS.budget)]
    print(table(stored, probe, config.SINGLE))
    return
  if not sweep.synthetic_draw(FLAGS.case):
    raise app.UsageError(f"--case is a synthetic case or a draw of one, not {FLAGS.case}")
  if FLAGS.scale == "cluster_free" and not FLAGS.case.startswith("trap"):
    raise app.UsageError(f"--scale=cluster_free needs the trap's cluster: {FLAGS.case}")
  path, _, _ = sweep.synthetic_npz(FLAGS.case, FLAGS.data)
  embedding = os.path.join(FLAGS.runs, f"{FLAGS.case}-embedding{suffix}.npz")
  os.makedirs(FLAGS.runs, exist_ok=True)
  with np.load(path) as f:
    features = f["train_images"].astype(np.float32)
    scaled = cluster_free_embedding(features) if FLAGS.scale == "cluster_free" else features
    np.savez(embedding, embeddings=scaled)
  command = sweep.cell_command(
    FLAGS.case,
    FLAGS.budget,
    workdir,
    os.path.dirname(FLAGS.data),
    only=STRATEGIES,
    seeds=FLAGS.seeds,
  )
  command.append(f"--config.embeddings=npz:{embedding}")
  print(" ".join(command), flush=True)
  subprocess.run(command, check=True)


if __name__ == "__main__":
  flags.DEFINE_string(
    "case", "trap_d2", "The trap or a draw of it (trap_dN; --scale=raw: any case)."
  )
  flags.DEFINE_string("budget", "1", "Labels per class.")
  flags.DEFINE_enum(
    "scale", "cluster_free", ["cluster_free", "raw"], "The features the distances are on."
  )
  flags.DEFINE_string("runs", "/work/runs/trap_scale", "Where the probe's workdirs go.")
  flags.DEFINE_string("data", "/work/runs/sweep/data", "The sweep's synthetic npz files.")
  flags.DEFINE_string("stored", "docs/results/sweep20", "The stored cells it pairs with.")
  flags.DEFINE_integer("seeds", 20, "Seeds 0..N-1.")
  flags.DEFINE_bool("picks", False, "Only print where the stored runs' queries went.")
  flags.DEFINE_bool("table", False, "Only print the comparison with the stored cell.")
  app.run(main)
