r"""Finished runs of unfinished cells, kept in the checkout so that a long suite survives
the loss of its run folders (a new machine between sessions: the folders outside the
checkout go, the checkout stays).

  python -m benchmarks.in_progress --runs=/work/runs/sweep --stored=docs/results/sweep  # keep, once
  python -m benchmarks.in_progress --runs=/work/runs/sweep --stored=... --every=300  # every 5 min
  python -m benchmarks.in_progress --runs=/work/runs/sweep --restore      # on a new machine

A cell is one run folder RUNS/NAME of the CLI (`experiments.main`, as `benchmarks.sweep`
and `benchmarks.coverage_suite` make them); it is finished when the suite has stored it
whole as STORED/NAME.json.gz or STORED/NAME.json. ``keep`` writes the results.json of
every unfinished cell (the CLI's, holding every run finished in that folder, whichever
command ran it: a pass with some strategies first, `--only`, counts) to
KEPT/NAME.json.gz, no checkpoint, and deletes the kept file of a finished cell.
``restore`` writes each kept file back as RUNS/NAME/results.json where that folder has no
results.json: the suite's next command skips those runs (the CLI resumes from its
results.json; only the run that was in flight starts again), with exactly the results of
an uninterrupted cell, a seed's runs being independent of the others'. The kept files are
committed with the session's work. A table reads them only when named: `benchmarks.sweep
--table --stored=docs/results/in_progress/sweep --also=docs/results/sweep` merges them
with the stored cells (the synthetic cases' and draws' cells, which the sweep has not
stored whole; docs/results.md names the tables that do).
"""

from __future__ import annotations

import gzip
import json
import os
import time

from absl import app, flags

from experiments import reporting

FLAGS = flags.FLAGS


def _stored(stored: str, name: str) -> bool:
  return any(os.path.exists(os.path.join(stored, name + ext)) for ext in (".json.gz", ".json"))


def keep(runs: str, kept: str, stored: str) -> list[str]:
  """Copies the finished runs of each cell under ``runs`` not stored whole in ``stored``
  to ``kept``; returns what changed, one line each."""
  changed = []
  for name in sorted(os.listdir(runs)) if os.path.isdir(runs) else ():
    path = os.path.join(runs, name, "results.json")
    if not os.path.isfile(path):
      continue
    target = os.path.join(kept, f"{name}.json.gz")
    if _stored(stored, name):
      if os.path.exists(target):
        os.remove(target)
        changed.append(f"{name}: stored whole, its kept file removed")
      continue
    with open(path, "rb") as f:
      data = f.read()
    results = json.loads(data)
    if not results["runs"]:
      continue
    if os.path.exists(target):
      with gzip.open(target, "rb") as f:
        if f.read() == data:
          continue
    os.makedirs(kept, exist_ok=True)
    # No name or time in the gzip header: the same runs, the same bytes.
    reporting.atomic_write(target, gzip.compress(data, mtime=0))
    changed.append(f"{name}: {len(results['runs'])} runs kept")
  return changed


def restore(runs: str, kept: str) -> list[str]:
  """Writes each kept cell back as its run folder's results.json where there is none."""
  restored = []
  for file in sorted(os.listdir(kept)) if os.path.isdir(kept) else ():
    if not file.endswith(".json.gz"):
      continue
    name = file[: -len(".json.gz")]
    path = os.path.join(runs, name, "results.json")
    if os.path.exists(path):
      continue
    with gzip.open(os.path.join(kept, file), "rb") as f:
      data = f.read()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    reporting.atomic_write(path, data)
    restored.append(f"{name}: {len(json.loads(data)['runs'])} finished runs restored")
  return restored


def main(argv):
  del argv
  kept = FLAGS.kept or os.path.join("docs/results/in_progress", os.path.basename(FLAGS.runs))
  if FLAGS.restore:
    print("\n".join(restore(FLAGS.runs, kept)) or "nothing to restore", flush=True)
    return
  if not FLAGS.stored:
    raise app.UsageError("--stored: where the suite stores finished cells")
  while True:
    for line in keep(FLAGS.runs, kept, FLAGS.stored):
      print(time.strftime("%H:%M:%S"), line, flush=True)
    if not FLAGS.every:
      return
    time.sleep(FLAGS.every)


def _define_flags() -> None:
  flags.DEFINE_string("runs", None, "The suite's run folders (RUNS/NAME/results.json).")
  flags.DEFINE_string(
    "kept", "", "Where the kept files go (default docs/results/in_progress/BASENAME(RUNS))."
  )
  flags.DEFINE_string("stored", "", "Where the suite stores finished cells (keep needs it).")
  flags.DEFINE_bool("restore", False, "Write the kept files back into empty run folders.")
  flags.DEFINE_integer("every", 0, "Keep again every this many seconds (0: once).")
  flags.mark_flag_as_required("runs")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
