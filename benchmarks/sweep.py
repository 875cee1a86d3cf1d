r"""The budget sweep: every cell of (dataset, labels per class) of
`experiments/configs/sweep.py`, its tables and its heat map (docs/results.md, "The budget
sweep").

  python -m benchmarks.sweep --runs=/work/runs/sweep                  # run (resumes)
  python -m benchmarks.sweep --runs=DIR --datasets=digits --budgets=1,2  # some cells
  python -m benchmarks.sweep --later=dcom --runs=DIR                  # a later strategy
  python -m benchmarks.sweep --table                                  # tables + heat map
  python -m benchmarks.sweep --table --versus=uherding_gated,uherding_median  # A - B per cell
  python -m benchmarks.sweep --table --rounds=uherding_gated:gate     # a log entry per round
  python -m benchmarks.sweep --datasets=trap --budgets=1 --only=margin --seeds=20 \
    --stored=DIR                                 # seeds 10-19 added to a finished cell
  python -m benchmarks.sweep --table --stored=DIR --min_seeds=20 [--new_seeds=10]
  python -m benchmarks.sweep --geometry=raw --runs=DIR --stored=DIR2 --datasets=trap_d4 \
    --budgets=1                    # distances on a synthetic case's features as drawn

Each cell is one CLI invocation in RUNS/DATASET-M (resumed when interrupted, a strategy's
ten seeds as one vmapped program); its results.json goes, gzipped, to
docs/results/sweep/DATASET-M.json.gz when the cell finishes. The synthetic cases of
`benchmarks.synthetic_cases` (seed 0's draw of each) are written once to RUNS/data/ as
float features (the suite's uint8 encoding undone) and run as ``npz`` cells; CASE_dN
(e.g. ``--datasets=trap_d1``) is a fresh draw of a case with data seed N, to confirm a
rule chosen on the first draw.

``--seeds=N`` runs seeds 0 to N - 1 of the cell's strategies (resuming its workdir, so a
finished ten-seed cell runs the new seeds only) and stores the whole workdir in
``--stored`` (give it a folder of its own); ``--min_seeds=N`` tables, in each cell, only
the strategies that ran N seeds, and ``--new_seeds=10`` prints the bar on new seeds
(`new_seeds`: the reference chosen on seeds 0-9, the regrets read on seeds 10 and up).

The tables (``--table``, from the stored files only): per dataset, a row per strategy and
a column per budget, each entry the strategy's paired regret to the cell's best single
strategy (the one of `sweep.SINGLE` with the highest mean AUBC over the seeds; points of
AUBC, mean +- SE over the seeds, a seed's initial set and first model shared by all), with
a star where it is more than two SEs above 0 (a significant loss; the best itself is
marked by ``best``). Then, per strategy, the mean regret over every cell and the count of
cells with a star. The heat map (``--figure``) shows the mean regrets, one panel per
dataset.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from absl import app, flags

SYNTHETIC = ("blobs", "low_budget", "trap", "margin")
DATASETS = ("digits", "digits_imb", "fashion_mnist", "fashion_mnist_imb", *SYNTHETIC)
FLAGS = flags.FLAGS


def synthetic_draw(dataset: str) -> tuple[str, int] | None:
  """(case, data seed) of a synthetic dataset name, None for a real one: CASE is the
  sweep's own draw of the case (data seed 0), CASE_dN a fresh draw with data seed N >= 1
  (the same generator, other samples: no data seed but 0 was ever run before 2026-12-05),
  on which a rule chosen on CASE can be confirmed."""
  case, sep, draw = dataset.rpartition("_d")
  if sep and case in SYNTHETIC and draw.isdigit() and int(draw) >= 1:
    return case, int(draw)
  return (dataset, 0) if dataset in SYNTHETIC else None


def synthetic_npz(dataset: str, folder: str) -> tuple[str, int, int]:
  """The synthetic dataset (`synthetic_draw`) as float features in an npz: (path, classes,
  pool size)."""
  from benchmarks import synthetic_cases  # (search_synthetic's flags would clash)

  case, seed = synthetic_draw(dataset)
  data = synthetic_cases.make_case(case, seed)[0]
  path = os.path.join(folder, f"{dataset}.npz")
  decode = synthetic_cases.decode
  if not os.path.exists(path):
    os.makedirs(folder, exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez(
      tmp,
      train_images=decode(data.train_images),
      train_labels=np.asarray(data.train_labels),
      test_images=decode(data.test_images),
      test_labels=np.asarray(data.test_labels),
    )
    os.replace(tmp, path)
  return path, data.info.num_classes, len(data.train_labels)


def raw_embedding(path: str) -> str:
  """The fixed embedding of a synthetic case's npz (`synthetic_npz`): its pool features as
  drawn, not standardised, in PATH-raw.npz beside it (written once)."""
  out = path[: -len(".npz")] + "-raw.npz"
  if not os.path.exists(out):
    with np.load(path) as f:
      features = np.asarray(f["train_images"], np.float32)
    tmp = out + ".tmp.npz"
    np.savez(tmp, embeddings=features)
    os.replace(tmp, out)
  return out


def cell_command(
  dataset: str,
  budget: str,
  workdir: str,
  runs: str,
  variant: str = "v1",
  only=(),
  module: str = "experiments.main",
  seeds: int = 0,
  geometry: str = "standard",
) -> list[str]:
  """The CLI command of a cell; ValueError (the config's own checks, e.g. a pool with no
  room for the budget) before any process starts. ``seeds`` > 0: seeds 0 to seeds - 1
  instead of the config's ten (a finished workdir resumes, running the new seeds only:
  the seed count is not part of a run's identity). ``geometry`` "raw" (synthetic cases
  only): the strategies' distances on the generator's features as drawn (a fixed embedding
  written beside the data, RUNS/data/DATASET-raw.npz) instead of on the features
  standardised one by one, as the image cells measure theirs before standardisation."""
  from experiments.configs import sweep

  suffix = "" if variant == "v1" else f",{variant}"
  if geometry not in ("standard", "raw"):
    raise ValueError(f"Unknown geometry {geometry!r}: standard or raw")
  if synthetic_draw(dataset):
    path, classes, pool = synthetic_npz(dataset, os.path.join(runs, "data"))
    argument = f"npz,{budget},{classes},{pool}{suffix}"
    extra = [f"--config.dataset=npz:{path}"]
    if geometry == "raw":
      extra.append(f"--config.embeddings=npz:{raw_embedding(path)}")
  elif geometry == "raw":
    raise ValueError(f"--geometry=raw is for the synthetic cases, not {dataset}")
  else:
    argument, extra = f"{dataset},{budget}{suffix}", []
  sweep.get_config(argument)
  if only:
    extra.append(f"--config.strategies={','.join(only)}")
  elif variant != "v1":  # a later search version: its autoal alone, paired with the cell
    extra.append("--config.strategies=autoal")
  if seeds:
    extra.append(f"--config.seeds={seeds}")
  return [
    sys.executable,
    "-m",
    module,
    f"--config=experiments/configs/sweep.py:{argument}",
    f"--workdir={workdir}",
    *extra,
  ]


def cell_name(dataset: str, budget: str, variant: str = "v1", later=()) -> str:
  """The run folder's and stored file's name of a cell: DATASET-M, DATASET-M-VARIANT for
  a later search version's autoal, DATASET-M+NAME[+NAME] for strategies added to the
  library after the freeze (`--later`)."""
  if later:
    return f"{dataset}-{budget}+" + "+".join(later)
  return f"{dataset}-{budget}" + ("" if variant == "v1" else f"-{variant}")


def check_datasets(datasets, geometry: str) -> None:
  """ValueError, before any cell runs, where ``geometry`` is "raw" and a dataset is not a
  synthetic case (`cell_command` refuses it too, but a cell's ValueError reads as "no room
  for the budget" and the sweep goes on)."""
  real = [d for d in datasets if not synthetic_draw(d)]
  if geometry == "raw" and real:
    raise ValueError(
      f"--geometry=raw is for the synthetic cases ({', '.join(SYNTHETIC)}, "
      f"CASE_dN), not {', '.join(real)}"
    )


def run_cell(dataset: str, budget: str) -> None:
  variant, later = FLAGS.variant, tuple(FLAGS.later)
  if later and (variant != "v1" or FLAGS.only):
    raise app.UsageError("--later runs its strategies alone: no --variant, no --only")
  name = cell_name(dataset, budget, variant, later)
  workdir = os.path.join(FLAGS.runs, name)
  try:
    command = cell_command(
      dataset,
      budget,
      workdir,
      FLAGS.runs,
      variant,
      FLAGS.only or later,
      FLAGS.module,
      FLAGS.seeds,
      FLAGS.geometry,
    )
  except ValueError as e:  # no room in the pool for this budget
    print(f"{name}: skipped ({e})", flush=True)
    return
  print(" ".join(command), flush=True)
  subprocess.run(command, check=True)
  # A whole cell (or a variant's autoal, or the later strategies) only; with --seeds, the
  # workdir's every run (tabled with --min_seeds: the strategies that ran the new seeds).
  if not FLAGS.only or FLAGS.seeds:
    os.makedirs(FLAGS.stored, exist_ok=True)
    with open(os.path.join(workdir, "results.json"), "rb") as src:
      # No name or time in the header: a cell stored again (a resumed sweep passing a
      # finished cell) gives the same bytes.
      with open(os.path.join(FLAGS.stored, f"{name}.json.gz"), "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as dst:
          shutil.copyfileobj(src, dst)


def _stored_files(stored: str):
  """(file name, DATASET-M, VARIANT or '' for v1 and for later strategies) of each stored
  cell, sorted by name."""
  for name in sorted(os.listdir(stored)):
    if not name.endswith(".json.gz"):
      continue
    stem, variant = name[: -len(".json.gz")].partition("+")[0], ""
    if not stem.rsplit("-", 1)[1].isdigit():
      stem, variant = stem.rsplit("-", 1)
    yield name, stem, variant


def load_cells(stored: str) -> dict:
  """{(dataset, budget): {strategy: {seed: AUBC %}}} from the stored cells; a variant's
  file (DATASET-M-VARIANT) adds its runs as STRATEGY@VARIANT, a later strategies' file
  (DATASET-M+NAME) its runs under their own names (rows after the frozen ones: never the
  cell's best single strategy, which is one of `sweep.SINGLE`)."""
  cells = {}
  for name, stem, variant in _stored_files(stored):
    dataset, budget = stem.rsplit("-", 1)
    with gzip.open(os.path.join(stored, name), "rt") as f:
      runs = json.load(f)["runs"]
    cell = cells.setdefault((dataset, int(budget)), {})
    for run in runs:
      strategy = run["strategy"] + (f"@{variant}" if variant else "")
      cell.setdefault(strategy, {})[run["seed"]] = 100 * run["aubc"]
  return cells


def merged_cells(folders) -> dict:
  """`load_cells` of several folders (missing ones skipped) merged run by run; where two
  hold a strategy's run of the same seed, the later folder's wins."""
  cells = {}
  for folder in folders:
    for key, cell in (load_cells(folder) if os.path.isdir(folder) else {}).items():
      for strategy, runs in cell.items():
        cells.setdefault(key, {}).setdefault(strategy, {}).update(runs)
  return cells


def parse_compose(spec: str) -> tuple[str, list]:
  """``NAME=PART[,PART...]``, each PART ``[FROM:]STRATEGY[|ALTERNATIVE...]`` (FROM labels
  per class, 0 when left out) -> (NAME, [(FROM, [STRATEGY, ...]), ...] by FROM)."""
  name, sep, body = spec.partition("=")
  if not sep or not name or not body:
    raise ValueError(f"A composed row is NAME=[FROM:]STRATEGY[|ALT][,...]: {spec!r}")
  parts = []
  for part in body.split(","):
    start, _, names = part.rpartition(":")
    if not names or (start and not start.isdigit()):
      raise ValueError(f"A composed row's part is [FROM:]STRATEGY[|ALT]: {part!r}")
    parts.append((int(start or 0), names.split("|")))
  if len({start for start, _ in parts}) != len(parts):
    raise ValueError(f"A composed row names each FROM once: {spec!r}")
  return name, sorted(parts)


def compose(cells: dict, spec: str) -> dict:
  """The cells with one more row, NAME, from ``spec`` (`parse_compose`): in a cell of M
  labels per class, the runs of the part with the largest FROM <= M, seed by seed the
  first of its strategies that ran that seed. For a strategy whose picks are another's
  in some regime and a third's in another (v12: v10's leader below 50 picks per class,
  its own, or its development probe's, the same code and parameters, at 50): one row
  over every cell, no run repeated. Cells where no part's strategy ran get no row."""
  name, parts = parse_compose(spec)
  out = {}
  for key, cell in cells.items():
    out[key] = dict(cell)
    usable = [names for start, names in parts if start <= key[1]]
    runs = {}
    for strategy in reversed(usable[-1]) if usable else ():
      runs.update(cell.get(strategy, {}))
    if runs:
      out[key][name] = dict(sorted(runs.items()))
  return out


def with_tagged(cells: dict, tag: str, folder: str) -> dict:
  """``cells`` with the runs stored in ``folder`` added as STRATEGY@TAG (e.g. the same
  cells run under another protocol, ``--geometry=raw``), for `versus` to pair a strategy
  with itself across the two."""
  out = {key: dict(cell) for key, cell in cells.items()}
  for key, cell in load_cells(folder).items():
    for strategy, runs in cell.items():
      out.setdefault(key, {})[f"{strategy}@{tag}"] = dict(runs)
  return out


def composed_cells(folders, specs=()) -> dict:
  """`merged_cells` of ``folders`` with the rows of each of ``specs`` (`compose`)."""
  cells = merged_cells(folders)
  for spec in specs:
    cells = compose(cells, spec)
  return cells


def with_seeds(cells: dict, count: int) -> dict:
  """``cells`` with, in each, only the strategies that ran ``count`` seeds or more (cells
  left with none dropped): a cell extended to more seeds for some of its strategies
  (``--seeds``) tabled over those alone, its best single strategy one of them."""
  out = {}
  for key, cell in cells.items():
    kept = {s: runs for s, runs in cell.items() if len(runs) >= count}
    if kept:
      out[key] = kept
  return out


def of_kind(cells: dict, kind: str) -> dict:
  """``cells`` of one kind of dataset: "synthetic" (the cases and their fresh draws),
  "real" (the others) or "all"."""
  if kind not in ("all", "synthetic", "real"):
    raise ValueError(f"Unknown kind {kind!r}: all, synthetic or real")
  if kind == "all":
    return dict(cells)
  wanted = kind == "synthetic"
  return {key: cell for key, cell in cells.items() if bool(synthetic_draw(key[0])) == wanted}


def _datasets_in(cells: dict) -> list[str]:
  """The datasets of ``cells`` ({(dataset, budget): ...}): `DATASETS`' order, then the
  others (fresh draws, files) sorted."""
  datasets = [d for d in DATASETS if any(k[0] == d for k in cells)]
  return datasets + sorted({d for d, _ in cells} - set(datasets))


def mean_se(diff) -> tuple[float, float]:
  """The mean of paired differences and its standard error (nan with fewer than two)."""
  diff = np.asarray(diff, np.float64)
  se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
  return float(diff.mean()), float(se)


def regrets(cell: dict, single) -> tuple[str, dict]:
  """The cell's best single strategy and each strategy's paired regret to it:
  {strategy: (mean, SE, n)} over the seeds both ran."""
  means = {s: np.mean(list(cell[s].values())) for s in single if s in cell}
  best = max(means, key=means.get)
  out = {}
  for strategy, runs in cell.items():
    seeds = sorted(set(runs) & set(cell[best]))
    mean, se = mean_se([cell[best][s] - runs[s] for s in seeds])
    out[strategy] = (mean, se, len(seeds))
  return best, out


def tables(cells: dict, composed=()) -> tuple[str, dict]:
  """The per-dataset regret tables, the rows over every cell and each autoal version's
  (the strategies named autoal or autoal@VARIANT, and the ``composed`` rows of `compose`)
  against the others on its own cells; and the heat map's grids."""
  from experiments.configs import sweep

  lines, per_strategy, grids = [], {}, {}
  # A cell whose single strategies have not finished (only a variant's autoal stored)
  # has no best to measure regret to: named, not tabled.
  waiting = sorted(k for k, cell in cells.items() if not any(s in cell for s in sweep.SINGLE))
  cells = {k: cell for k, cell in cells.items() if k not in waiting}
  for dataset in _datasets_in(cells):
    budgets = sorted(b for d, b in cells if d == dataset)
    results = {b: regrets(cells[dataset, b], sweep.SINGLE) for b in budgets}
    present = {s for b in budgets for s in cells[dataset, b]}
    names = [s for s in sweep.STRATEGIES if s in present]
    names += sorted(present - set(sweep.STRATEGIES))  # the variants' runs (STRATEGY@VARIANT)
    lines += [
      f"\n{dataset}: regret to the cell's best single strategy, points of AUBC, paired "
      "(mean +- SE; * more than 2 SE)\n",
      "| strategy | " + " | ".join(f"{b}/class" for b in budgets) + " |",
      "|---|" + "---|" * len(budgets),
    ]
    grid = np.full((len(names), len(budgets)), np.nan)
    for i, strategy in enumerate(names):
      entries = []
      for j, budget in enumerate(budgets):
        best, table = results[budget]
        if strategy not in table:
          entries.append("")
          continue
        mean, se, n = table[strategy]
        grid[i, j] = mean
        per_strategy.setdefault(strategy, {})[dataset, budget] = (mean, se)
        if strategy == best:
          entries.append(f"best {np.mean(list(cells[dataset, budget][best].values())):.2f}")
        else:
          star = "*" if mean > 2 * se else ""
          entries.append(f"{mean:.2f} +- {se:.2f}{star}")
      lines.append(f"| {strategy} | " + " | ".join(entries) + " |")
    seeds = {len(cells[dataset, b][s]) for b in budgets for s in cells[dataset, b]}
    lines.append(f"\n(seeds per run: {sorted(seeds)})")
    grids[dataset] = (names, budgets, grid)
  if waiting:  # (before the table below: a line inside it would end it in markdown)
    names = ", ".join(f"{d}-{b}" for d, b in waiting)
    lines.append(f"\n(cells waiting for their single strategies, not tabled: {names})")
  lines += [
    "\nEvery cell: mean regret (points), cells run, cells more than 2 SE under the best, "
    "the 90th percentile of the cells' regrets and the worst cell\n",
    "| strategy | mean regret | cells | > 2 SE under | 90th pct | worst cell |",
    "|---|---|---|---|---|---|",
  ]

  def mean_regret(strategy, keys):
    return float(np.mean([per_strategy[strategy][k][0] for k in keys]))

  ranked = sorted(per_strategy, key=lambda s: mean_regret(s, per_strategy[s]))
  for strategy in ranked:
    values = per_strategy[strategy].values()
    fails = sum(m > 2 * se for m, se in values)
    (dataset, budget), (worst, _) = max(per_strategy[strategy].items(), key=lambda i: i[1][0])
    tail = np.percentile([m for m, _ in values], 90)
    mean = mean_regret(strategy, per_strategy[strategy])
    lines.append(f"| {strategy} | {mean:.2f} | {len(values)} | {fails} | {tail:.2f} | "
                 f"{worst:.2f} ({dataset}-{budget}) |")  # fmt: skip
  # The searches (autoal's versions) against every strategy on the same cells: the mean
  # regrets above average over different cells where a version ran on fewer of them.
  lines += [
    "\nEach autoal version against every strategy on its own cells: its mean regret, its "
    "rank, the lowest mean regret of another strategy over the same cells\n",
    "| version | cells | mean regret | rank | lowest other |",
    "|---|---|---|---|---|",
  ]
  for version in [s for s in ranked if s.split("@")[0] == "autoal" or s in composed]:
    keys = list(per_strategy[version])
    others = {s: mean_regret(s, keys) for s in per_strategy
              if s != version and all(k in per_strategy[s] for k in keys)}  # fmt: skip
    own = mean_regret(version, keys)
    rank = 1 + sum(v < own for v in others.values())
    best = min(others, key=others.get) if others else None
    lowest = f"{best} {others[best]:.2f}" if best else "-"
    lines.append(
      f"| {version} | {len(keys)} | {own:.2f} | {rank} of {len(others) + 1} | {lowest} |"
    )
  return "\n".join(lines), grids


def align_rows(grids: dict, rows=()) -> dict:
  """The grids with one row per strategy in every panel (the panels share the labels of
  the first): the union of the datasets' rows in the order they first appear (``rows``:
  these, in this order, the others left out), NaN (blank) where a strategy did not run."""
  rows = list(rows)
  if not rows:
    for names, _, _ in grids.values():
      rows += [n for n in names if n not in rows]
  aligned = {}
  for dataset, (names, budgets, grid) in grids.items():
    full = np.full((len(rows), len(budgets)), np.nan)
    for i, name in enumerate(names):
      if name in rows:
        full[rows.index(name)] = grid[i]
    aligned[dataset] = (rows, budgets, full)
  return aligned


def heat_map(grids: dict, path: str, strategies=(), columns: int = 0) -> bool:
  """Draws the grids to ``path``; False (nothing drawn) where there is none (a folder of
  later strategies alone: no cell's single strategies). ``strategies``: only these rows,
  in this order (blank where one did not run; none: every row); ``columns`` > 0: the
  panels wrapped into rows of that many (0: one row)."""
  if not grids:
    return False
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  aligned = align_rows(grids, strategies)
  wide = columns if columns > 0 else len(aligned)
  tall = -(-len(aligned) // wide)
  rows_each = len(next(iter(aligned.values()))[0])
  height = 6.5 if tall == 1 else 0.8 + 0.28 * rows_each
  fig, axes = plt.subplots(tall, wide, figsize=(3.2 * wide + 1, height * tall), squeeze=False)
  finite = [g[np.isfinite(g)] for _, _, g in aligned.values()]
  vmax = max((float(np.max(f)) for f in finite if f.size), default=1.0)
  for index, (dataset, (names, budgets, grid)) in enumerate(aligned.items()):
    ax = axes[index // wide][index % wide]
    image = ax.imshow(grid, cmap="Reds", vmin=0, vmax=max(vmax, 1e-6), aspect="auto")
    ax.set_xticks(range(len(budgets)), [str(b) for b in budgets])
    first = index % wide == 0
    ax.set_yticks(range(len(names)), names if first else [""] * len(names))
    if index + wide >= len(aligned):  # the lowest panel of its column
      ax.set_xlabel("labels per class (start)")
    ax.set_title(dataset, fontsize=10)
    for i in range(grid.shape[0]):
      for j in range(grid.shape[1]):
        if np.isfinite(grid[i, j]):
          ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=6)
  for index in range(len(aligned), tall * wide):  # the last row's empty places
    axes[index // wide][index % wide].axis("off")
  if tall > 1:
    fig.subplots_adjust(hspace=0.3)
  fig.colorbar(image, ax=axes.ravel().tolist(), label="regret to the best single (AUBC points)")
  fig.savefig(path, dpi=120, bbox_inches="tight")
  plt.close(fig)
  return True


def versus(cells: dict, a: str, b: str) -> str:
  """Strategy ``a`` against ``b`` in every cell where both ran: the paired difference of
  their AUBCs (a - b, points, mean +- SE over the seeds both ran; * beyond 2 SE), then
  the cells where a is ahead or behind by more than 2 SE and the mean over the cells. A
  markdown table."""
  lines = [f"| cell | {a} - {b} |", "|---|---|"]
  diffs = []
  for dataset in _datasets_in(cells):
    for budget in sorted(bb for d, bb in cells if d == dataset):
      cell = cells[dataset, budget]
      if a not in cell or b not in cell:
        continue
      seeds = sorted(set(cell[a]) & set(cell[b]))
      mean, se = mean_se([cell[a][s] - cell[b][s] for s in seeds])
      star = "*" if abs(mean) > 2 * se else ""
      diffs.append((mean, se))
      lines.append(f"| {dataset}-{budget} | {mean:+.2f} +- {se:.2f}{star} |")
  ahead = sum(m > 2 * se for m, se in diffs)
  behind = sum(-m > 2 * se for m, se in diffs)
  mean = np.mean([m for m, _ in diffs]) if diffs else float("nan")
  lines.append(
    f"\n{len(diffs)} cells: {a} ahead by more than 2 SE in {ahead}, behind in {behind}; "
    f"mean difference {mean:+.2f}"
  )
  return "\n".join(lines)


def new_seeds(cells: dict, single, first: int, focus: str = "") -> str:
  """The bar on new seeds, in the cells where some strategy ran seeds ``first`` and up: the
  reference is the single strategy (of ``single``, among those that ran both the first and
  the new seeds) with the best mean AUBC over seeds 0 to ``first`` - 1, and each strategy's
  paired regret to it is read on the new seeds alone (a fail: over 2 SE). The seeds that
  chose the reference never score it, so its lead carries no winner's curse: it is a
  strategy one could have picked from the first seeds. Beside it, per strategy, the bar
  after the fact (`regrets`) over all the seeds and over the first ones, with the same
  single strategies. Markdown: a row per cell (each strategy's new-seed regret), then a
  row per strategy (mean new-seed regret, and the fails on each bar); with ``focus`` (a
  strategy), then a row per cell of its regret on each bar."""
  rows, summary, focused = [], {}, []
  names: list[str] = []
  for dataset in _datasets_in(cells):
    for budget in sorted(b for d, b in cells if d == dataset):
      cell = cells[dataset, budget]
      old = {s: {k: v for k, v in r.items() if k < first} for s, r in cell.items()}
      new = {s: {k: v for k, v in r.items() if k >= first} for s, r in cell.items()}
      candidates = [s for s in single if s in cell and old[s] and len(new[s]) > 1]
      if not candidates:
        continue
      reference = max(candidates, key=lambda s: np.mean(list(old[s].values())))
      best_all, after_all = regrets(cell, candidates)
      best_old, after_old = regrets({s: r for s, r in old.items() if r}, candidates)
      entries = {}
      for strategy, runs in new.items():
        seeds = sorted(set(runs) & set(new[reference]))
        if len(seeds) < 2:
          continue
        mean, se = mean_se([new[reference][k] - runs[k] for k in seeds])
        entries[strategy] = (mean, se)
        if strategy not in names:
          names.append(strategy)
        fails = summary.setdefault(strategy, [[], 0, 0, 0])
        fails[0].append(mean)
        fails[1] += mean > 2 * se
        fails[2] += after_all[strategy][0] > 2 * after_all[strategy][1]
        if strategy in after_old:
          fails[3] += after_old[strategy][0] > 2 * after_old[strategy][1]
      rows.append((f"{dataset}-{budget}", reference, entries))
      if focus in entries:
        bars = [
          (best_old, after_old[focus]),
          (best_all, after_all[focus]),
          (reference, entries[focus]),
        ]
        focused.append((f"{dataset}-{budget}", bars))
  names = [s for s in single if s in names] + [s for s in names if s not in single]
  lines = [
    "| cell | chosen on the first seeds | " + " | ".join(names) + " |",
    "|---|---|" + "---|" * len(names),
  ]
  for cell, reference, entries in rows:
    texts = []
    for strategy in names:
      if strategy not in entries:
        texts.append("")
        continue
      mean, se = entries[strategy]
      star = "*" if mean > 2 * se else ""
      texts.append("ref" if strategy == reference else f"{mean:.2f} +- {se:.2f}{star}")
    lines.append(f"| {cell} | {reference} | " + " | ".join(texts) + " |")
  lines += [
    f"\n(regret on seeds {first} and up to the single strategy chosen on seeds 0-{first - 1};"
    " * more than 2 SE)\n",
    "| strategy | cells | mean regret, new seeds | fails: new seeds | fails: after the fact, "
    f"all seeds | fails: after the fact, seeds 0-{first - 1} |",
    "|---|---|---|---|---|---|",
  ]
  for strategy in names:
    means, on_new, on_all, on_old = summary[strategy]
    lines.append(
      f"| {strategy} | {len(means)} | {np.mean(means):.2f} | {on_new} | {on_all} | {on_old} |"
    )
  if focused:
    lines += [
      f"\n{focus}'s regret (mean +- SE, * more than 2 SE) and the reference of each bar\n",
      f"| cell | after the fact, seeds 0-{first - 1} | after the fact, all seeds | new seeds |",
      "|---|---|---|---|",
    ]
    for cell, bars in focused:
      texts = [
        f"{m:.2f} +- {se:.2f}{'*' if m > 2 * se else ''} ({ref})" for ref, (m, se, *_) in bars
      ]
      lines.append(f"| {cell} | " + " | ".join(texts) + " |")
  return "\n".join(lines)


def rounds(folders, strategy: str, key: str) -> str:
  """Per stored cell where ``strategy`` ran: the mean over its seeds, round by round, of
  the entry ``key`` of its query log (`search`: e.g. `uherding_gated`'s ``gate``, its
  ``kernel_width`` or ``temperature``), beside the labels and the test error (%) of the
  model that query read. A markdown table."""
  lines = [f"| cell | labels | {key} | test error (%) |", "|---|---|---|---|"]
  for folder in folders:
    if not os.path.isdir(folder):
      continue
    for name, stem, variant in _stored_files(folder):
      with gzip.open(os.path.join(folder, name), "rt") as f:
        runs = [r for r in json.load(f)["runs"] if r["strategy"] == strategy]
      logs = [r.get("search", []) for r in runs]
      if not runs or not all(logs) or any(key not in q for log in logs for q in log):
        continue
      count = min(len(log) for log in logs)
      values = np.mean([[q[key] for q in log[:count]] for log in logs], axis=0)
      error = 100 * (1 - np.mean([r["accuracy"][:count] for r in runs], axis=0))
      labels = runs[0]["labels"][:count]
      cell = stem + (f"-{variant}" if variant else "")
      lines.append(
        f"| {cell} | {', '.join(str(n) for n in labels)} | "
        f"{', '.join(f'{v:.4g}' for v in values)} | {', '.join(f'{e:.1f}' for e in error)} |"
      )
  return "\n".join(lines)


def bought(stored: str) -> str:
  """Who bought each query of every stored `autoal` run: per cell and version, the count
  of queries by the column with the largest weight, and how many the searched mixture
  bought. A markdown table."""
  lines = ["| cell | version | queries | bought by (queries) | mixture |", "|---|---|---|---|---|"]
  for name, cell, version in _stored_files(stored):
    version = version or "v1"
    with gzip.open(os.path.join(stored, name), "rt") as f:
      runs = [r for r in json.load(f)["runs"] if r["strategy"] == "autoal"]
    queries = [q for r in runs for q in r.get("search", [])]
    if not queries:
      continue
    counts = collections.Counter(max(q["weights"], key=q["weights"].get) for q in queries)
    mixture = int(sum(q.get("mixture", 0) for q in queries))
    who = ", ".join(f"{n} {c}" for n, c in counts.most_common())
    lines.append(f"| {cell} | {version} | {len(queries)} | {who} | {mixture} |")
  return "\n".join(lines)


def runs_cells(table: bool, rounds_key: str, versus_pair, new_seeds: int = 0) -> bool:
  """Whether the command runs the cells: not when it prints a table, nor with the
  flags that only read stored cells (--rounds, --versus, --new_seeds), with or without
  --table."""
  return not (table or rounds_key or versus_pair or new_seeds)


def main(argv):
  del argv
  if FLAGS.bought:
    print(bought(FLAGS.stored))
    return
  if runs_cells(FLAGS.table, FLAGS.rounds, FLAGS.versus, FLAGS.new_seeds):
    try:
      check_datasets(FLAGS.datasets, FLAGS.geometry)
    except ValueError as e:
      raise app.UsageError(str(e)) from None
    for dataset in FLAGS.datasets:
      for budget in FLAGS.budgets:
        run_cell(dataset, budget)
  if FLAGS.rounds:  # reads the stored runs' logs itself
    strategy, _, key = FLAGS.rounds.partition(":")
    print(rounds([*FLAGS.also, FLAGS.stored], strategy, key))
    return
  cells = composed_cells([*FLAGS.also, FLAGS.stored], FLAGS.compose)
  for spec in FLAGS.tagged:
    tag, sep, folder = spec.partition("=")
    if not sep or not tag or not folder:
      raise app.UsageError(f"--tagged is TAG=FOLDER, not {spec!r}")
    cells = with_tagged(cells, tag, folder)
  cells = of_kind(with_seeds(cells, FLAGS.min_seeds), FLAGS.kind)
  if not cells:
    print(f"no finished cell in {FLAGS.stored}")
    return
  if FLAGS.new_seeds:
    from experiments.configs import sweep

    print(new_seeds(cells, sweep.SINGLE, FLAGS.new_seeds, FLAGS.focus))
    return
  if FLAGS.versus:
    if len(FLAGS.versus) != 2:
      raise app.UsageError("--versus takes two strategies: A,B")
    print(versus(cells, *FLAGS.versus))
    return
  text, grids = tables(cells, [parse_compose(spec)[0] for spec in FLAGS.compose])
  print(text)
  if FLAGS.figure and heat_map(grids, FLAGS.figure, FLAGS.heat_strategies, FLAGS.heat_columns):
    print(f"\nwrote {FLAGS.figure}")


def _define_flags() -> None:
  """The command's flags: defined only when run as a command, so that the tables can be
  imported beside the other benchmarks (absl refuses a flag name defined twice)."""
  flags.DEFINE_string("runs", "/work/runs/sweep", "Folder of the cells' workdirs.")
  flags.DEFINE_list(
    "datasets", list(DATASETS), "Real datasets, then the synthetic cases (CASE_dN: a fresh draw)."
  )
  flags.DEFINE_list("budgets", ["1", "2", "5", "10", "20", "50"], "Labels per class.")
  flags.DEFINE_list("only", [], "Only these strategies (default: the config's; not stored).")
  flags.DEFINE_string("variant", "v1", "The search's frozen version (sweep.VARIANTS).")
  flags.DEFINE_list(
    "later", [], "Strategies added after the freeze (e.g. dcom), run alone into DATASET-M+NAME."
  )
  flags.DEFINE_string(
    "module", "experiments.main", "The CLI module (one that registers probes: herding_ablation)."
  )
  flags.DEFINE_integer(
    "seeds", 0, "Run seeds 0..N-1 (0: the config's ten); stores the workdir even with --only."
  )
  flags.DEFINE_integer(
    "new_seeds", 0, "Only the bar on seeds N and up, the reference chosen on 0..N-1 (no runs)."
  )
  flags.DEFINE_string("focus", "", "--new_seeds: this strategy's regret on each bar, by cell.")
  flags.DEFINE_enum(
    "geometry",
    "standard",
    ["standard", "raw"],
    "Synthetic cells: the strategies' distances on the standardised features or on the raw "
    "ones (raw: use a --runs and --stored of their own).",
  )
  flags.DEFINE_multi_string(
    "tagged", [], "TAG=FOLDER: that folder's stored runs added as STRATEGY@TAG (for --versus)."
  )
  flags.DEFINE_enum(
    "kind", "all", ["all", "synthetic", "real"], "--table: only the cells of these datasets."
  )
  flags.DEFINE_integer("min_seeds", 0, "--table: only the strategies that ran this many seeds.")
  flags.DEFINE_bool("table", False, "Only print the tables (and draw the heat map).")
  flags.DEFINE_list(
    "also", [], "--table: more folders of stored cells, merged with --stored's (e.g. kept runs)."
  )
  flags.DEFINE_string(
    "rounds",
    "",
    "Only STRATEGY:KEY, its query log's KEY per round (e.g. uherding_gated:gate; runs nothing).",
  )
  flags.DEFINE_multi_string(
    "compose",
    [],
    "--table, --versus: a row NAME=[FROM:]STRATEGY[|ALT][,...] from other rows by budget "
    "(sweep.compose), e.g. 'autoal@v12=uherding_cvswitch,50:uherding_cvswitch_agree'.",
  )
  flags.DEFINE_list("versus", [], "Only A against B (A,B) in every cell both ran (runs nothing).")
  flags.DEFINE_bool("bought", False, "Only print who bought each stored autoal run's queries.")
  flags.DEFINE_string("stored", "docs/results/sweep", "Where finished cells are stored.")
  flags.DEFINE_string("figure", "docs/results/sweep_heatmap.png", "The heat map ('': none).")
  flags.DEFINE_list("heat_strategies", [], "The heat map's rows, in order (none: every one).")
  flags.DEFINE_integer("heat_columns", 0, "The heat map's panels per row (0: one row).")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
