r"""Finished runs of unfinished cells, kept in the checkout so that a long suite survives
the loss of its run folders (a new machine between sessions: the folders outside the
checkout go, the checkout stays).

  python -m benchmarks.in_progress --runs=/work/runs/sweep                # keep, once
  python -m benchmarks.in_progress --runs=/work/runs/sweep --every=300    # keep, every 5 min
  python -m benchmarks.in_progress --runs=/work/runs/sweep --restore      # on a new machine

A cell is one run folder RUNS/NAME of the CLI (`experiments.main`, as `benchmarks.sweep`
and `benchmarks.coverage_suite` make them). ``keep`` writes the finished runs of every
cell whose results.json lacks some of its config's strategy x seed runs to
KEPT/NAME.json.gz (the results.json as the CLI wrote it, no checkpoint), and deletes the
kept file of a cell that has all its runs (the suite stores that one whole).
``restore`` writes each kept file back as RUNS/NAME/results.json where that folder has no
results.json: the suite's next command skips those runs (the CLI resumes from its
results.json; only the run that was in flight starts again), with exactly the results of
an uninterrupted cell, a seed's runs being independent of the others'. The kept files are
committed with the session's work; they are no table's source.
"""

from __future__ import annotations

import gzip
import json
import os
import time

from absl import app, flags

FLAGS = flags.FLAGS


def _runs_missing(results: dict) -> int:
  """How many strategy x seed runs of its config a results.json lacks."""
  config = results["config"]
  names = [s for s in str(config["strategies"]).split(",") if s]
  done = {(run["strategy"], run["seed"]) for run in results["runs"]}
  return sum((name, seed) not in done for name in names for seed in range(config["seeds"]))


def _write_gz(path: str, data: bytes) -> None:
  tmp = path + ".tmp"
  with open(tmp, "wb") as raw:  # no name or time in the header: the same runs, the same bytes
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
      f.write(data)
  os.replace(tmp, path)


def keep(runs: str, kept: str) -> list[str]:
  """Copies the finished runs of each unfinished cell under ``runs`` to ``kept``; returns
  what changed, one line each."""
  changed = []
  for name in sorted(os.listdir(runs)) if os.path.isdir(runs) else ():
    path = os.path.join(runs, name, "results.json")
    if not os.path.isfile(path):
      continue
    with open(path, "rb") as f:
      data = f.read()
    results = json.loads(data)
    target = os.path.join(kept, f"{name}.json.gz")
    if not _runs_missing(results):
      if os.path.exists(target):
        os.remove(target)
        changed.append(f"{name}: finished, its kept file removed")
      continue
    if not results["runs"]:
      continue
    if os.path.exists(target):
      with gzip.open(target, "rb") as f:
        if f.read() == data:
          continue
    os.makedirs(kept, exist_ok=True)
    _write_gz(target, data)
    changed.append(f"{name}: {len(results['runs'])} runs kept, {_runs_missing(results)} to go")
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
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
      f.write(data)
    os.replace(tmp, path)
    restored.append(f"{name}: {len(json.loads(data)['runs'])} finished runs restored")
  return restored


def main(argv):
  del argv
  kept = FLAGS.kept or os.path.join("docs/results/in_progress", os.path.basename(FLAGS.runs))
  if FLAGS.restore:
    print("\n".join(restore(FLAGS.runs, kept)) or "nothing to restore", flush=True)
    return
  while True:
    for line in keep(FLAGS.runs, kept):
      print(time.strftime("%H:%M:%S"), line, flush=True)
    if not FLAGS.every:
      return
    time.sleep(FLAGS.every)


def _define_flags() -> None:
  flags.DEFINE_string("runs", None, "The suite's run folders (RUNS/NAME/results.json).")
  flags.DEFINE_string(
    "kept", "", "Where the kept files go (default docs/results/in_progress/BASENAME(RUNS))."
  )
  flags.DEFINE_bool("restore", False, "Write the kept files back into empty run folders.")
  flags.DEFINE_integer("every", 0, "Keep again every this many seconds (0: once).")
  flags.mark_flag_as_required("runs")


if __name__ == "__main__":
  _define_flags()
  app.run(main)
