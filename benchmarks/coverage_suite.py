r"""Coverage at low budgets: every cell of (dataset, labels per class, pool embedding) of
the coverage suite (`experiments/configs/coverage.py`), and the table of docs/results.md.

  python -m benchmarks.coverage_suite --runs=/work/runs/coverage          # run (resumes)
  python -m benchmarks.coverage_suite --table                             # the tables
  python -m benchmarks.coverage_suite --variant=v5 --embeddings=model     # autoal@v5's rows

Each cell is one CLI invocation in RUNS/DATASET-M-EMBEDDING (resumed when interrupted);
its results.json is copied to docs/results/coverage/ when it finishes. Random and margin
do not measure distances, so they run in the ``model`` cells only; the embedding-based
strategies (TypiClust and the four coverage ones) run in every cell. Seeds 0-4: a seed's
initial set and first model are the same in every cell of a (dataset, budget), so every
comparison is paired by seed.

The table: per dataset, a row per (strategy, embedding), a column per budget; each cell
the AUBC (%, mean over seeds) and its paired difference to margin (mean +- SE).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS

DISTANCE_FREE = ("random", "margin")


def _strategies(embedding: str) -> str:
  from experiments.configs import coverage

  keep = [s for s in coverage.STRATEGIES if embedding == "model" or s not in DISTANCE_FREE]
  return ",".join(keep)


def _run_cell(dataset: str, budget: str, embedding: str, variant: str = "") -> None:
  """One cell; with ``variant``, `autoal` alone with that sweep variant's search values
  (RUNS/DATASET-M-EMBEDDING-VARIANT, paired with the cell by seed)."""
  name = f"{dataset}-{budget}-{embedding}" + (f"-{variant}" if variant else "")
  workdir = os.path.join(FLAGS.runs, name)
  argument = f"{dataset},{budget}" + (f",{variant}" if variant else "")
  strategies = "autoal" if variant else _strategies(embedding)
  command = [
    sys.executable, "-m", "experiments.main",
    f"--config=experiments/configs/coverage.py:{argument}",
    f"--config.embeddings={embedding}", f"--config.strategies={strategies}",
    f"--workdir={workdir}",
  ]  # fmt: skip
  print(" ".join(command), flush=True)
  subprocess.run(command, check=True)
  os.makedirs(FLAGS.stored, exist_ok=True)
  shutil.copy(os.path.join(workdir, "results.json"), os.path.join(FLAGS.stored, f"{name}.json"))


def _aubcs(path: str) -> dict:
  with open(path) as f:
    runs = json.load(f)["runs"]
  out = {}
  for run in runs:
    out.setdefault(run["strategy"], {})[run["seed"]] = 100 * run["aubc"]
  return out


def tables(stored: str) -> str:
  cells = {}
  for name in sorted(os.listdir(stored)):
    if name.endswith(".json"):
      stem, variant = name[:-5], ""
      if stem.rsplit("-", 1)[1] not in ("model", "pca", "ssl"):  # a variant's autoal
        stem, variant = stem.rsplit("-", 1)
      dataset, budget, embedding = stem.rsplit("-", 2)
      cell = cells.setdefault((dataset, int(budget), embedding), {})
      for strategy, runs in _aubcs(os.path.join(stored, name)).items():
        cell[strategy + (f"@{variant}" if variant else "")] = runs
  lines = []
  for dataset in sorted({d for d, _, _ in cells}):
    budgets = sorted({b for d, b, _ in cells if d == dataset})
    embeddings = [e for e in ("model", "pca", "ssl") if any(k[2] == e for k in cells)]
    lines += [f"\n{dataset}: AUBC % (mean over seeds) and minus margin, paired (mean +- SE)\n"]
    lines.append("| strategy | embedding | " + " | ".join(f"{b}/class" for b in budgets) + " |")
    lines.append("|---|---|" + "---|" * len(budgets))
    rows = [(s, "model") for s in DISTANCE_FREE]
    from experiments.configs import coverage

    rows += [(s, e) for s in coverage.STRATEGIES if s not in DISTANCE_FREE for e in embeddings]
    ran = {(s, e) for (d, _, e), c in cells.items() if d == dataset for s in c if "@" in s}
    rows += sorted(ran)  # the variants' autoal (STRATEGY@VARIANT), where they ran
    for strategy, embedding in rows:
      entries = []
      for budget in budgets:
        runs = cells.get((dataset, budget, embedding), {}).get(strategy)
        margin = cells.get((dataset, budget, "model"), {}).get("margin")
        if not runs:
          entries.append("")
          continue
        seeds = sorted(runs)
        mean = np.mean([runs[s] for s in seeds])
        if strategy == "margin" or not margin or set(seeds) - set(margin):
          entries.append(f"{mean:.2f}")
          continue
        diff, se = _paired(runs, margin)
        entries.append(f"{mean:.2f} ({diff:+.2f} +- {se:.2f})")
      lines.append(f"| {strategy} | {embedding} | " + " | ".join(entries) + " |")
    if ran:
      lines += [
        f"\n{dataset}: each variant's autoal minus the best single strategy of its cell (the"
        " same embedding; random and margin of the model cell), paired (mean +- SE)\n"
      ]
      lines.append("| strategy | embedding | " + " | ".join(f"{b}/class" for b in budgets) + " |")
      lines.append("|---|---|" + "---|" * len(budgets))
      for strategy, embedding in sorted(ran):
        entries = []
        for budget in budgets:
          cell = cells.get((dataset, budget, embedding), {})
          singles = {n: r for n, r in cell.items() if "@" not in n}
          singles.update({n: r for n, r in cells.get((dataset, budget, "model"), {}).items()
                          if n in DISTANCE_FREE})  # fmt: skip
          entries.append(_minus_best(cell.get(strategy), singles, str))
        lines.append(f"| {strategy} | {embedding} | " + " | ".join(entries) + " |")
    lines += _regret_table(dataset, budgets, rows, cells)
  return "\n".join(lines)


def _regret_table(dataset: str, budgets, rows, cells) -> list[str]:
  """Each row minus the best single strategy and embedding of its budget (highest mean
  AUBC; random and margin run once, on the model cell), paired (mean +- SE)."""
  lines = [
    f"\n{dataset}: each strategy minus the best single strategy and embedding of its budget,"
    " paired (mean +- SE)\n",
    "| strategy | embedding | " + " | ".join(f"{b}/class" for b in budgets) + " |",
    "|---|---|" + "---|" * len(budgets),
  ]
  runs_of = {}  # (strategy, embedding, budget) -> {seed: AUBC}
  for (d, budget, embedding), cell in cells.items():
    for strategy, runs in cell.items():
      if d == dataset and (embedding == "model" or strategy not in DISTANCE_FREE):
        runs_of[strategy, embedding, budget] = runs
  for strategy, embedding in rows:
    entries = []
    for budget in budgets:
      singles = {k: r for k, r in runs_of.items() if k[2] == budget and "@" not in k[0]}
      runs = runs_of.get((strategy, embedding, budget))
      entries.append(_minus_best(runs, singles, lambda k: f"{k[0]}, {k[1]}"))
    if any(entries):
      lines.append(f"| {strategy} | {embedding} | " + " | ".join(entries) + " |")
  return lines


def _minus_best(runs, singles: dict, name) -> str:
  """``runs`` minus the entry of ``singles`` with the highest mean AUBC, paired:
  'diff +- SE (name(best))'; '' without runs or singles."""
  if not runs or not singles:
    return ""
  best = max(singles, key=lambda n: np.mean(list(singles[n].values())))
  diff, se = _paired(runs, singles[best])
  return f"{diff:+.2f} +- {se:.2f} ({name(best)})"


def _paired(runs: dict, other: dict) -> tuple[float, float]:
  """The mean over the seeds of both of runs minus other, and its standard error."""
  diff = np.asarray([runs[s] - other[s] for s in sorted(runs) if s in other])
  se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
  return float(diff.mean()), float(se)


def main(argv):
  del argv
  if not FLAGS.table:
    for dataset in FLAGS.datasets:
      for budget in FLAGS.budgets:
        for embedding in FLAGS.embeddings:
          _run_cell(dataset, budget, embedding, FLAGS.variant)
  print(tables(FLAGS.stored))


def _define_flags() -> None:
  """The command's flags, defined only when run as a command (absl refuses a flag name
  defined twice, and benchmarks/sweep.py uses the same names)."""
  flags.DEFINE_string("runs", "/work/runs/coverage", "Folder of the cells' workdirs.")
  flags.DEFINE_list("datasets", ["digits"], "digits, fashion_mnist.")
  flags.DEFINE_list("budgets", ["1", "2", "3", "5", "10"], "Labels per class.")
  flags.DEFINE_list("embeddings", ["model", "pca", "ssl"], "Pool embeddings.")
  flags.DEFINE_bool("table", False, "Only print the tables from docs/results/coverage.")
  flags.DEFINE_string(
    "variant", "", "Run autoal alone with this budget-sweep variant's search (sweep.VARIANTS)."
  )
  flags.DEFINE_string("stored", "docs/results/coverage", "Where finished cells are stored.")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
