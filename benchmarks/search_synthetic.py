r"""The search's synthetic suite: cases where the best candidate is known (issue: search).

  python -m benchmarks.search_synthetic --workdir=/work/runs/synthetic          # 4 cases x 10 seeds
  python -m benchmarks.search_synthetic --workdir=DIR --cases=trap --seeds=3   # one case, quick
  python -m benchmarks.search_synthetic --workdir=DIR --table                  # what is stored
  python -m benchmarks.search_synthetic --workdir=DIR --cases=margin --first_seed=10  # fresh seeds

Small Gaussian-mixture tasks (vectors stored as uint8 [1, 1, D] "images", an MLP task
model), run through the library's own loop (`loop.ActiveLearner`) with every strategy
of ``--strategies``, paired by seed (a seed's initial set and first model are shared):

- ``margin``: three classes in bands of the plane split by two sine curves. Built for
  margin to win, it does not: the MC-dropout candidates (MeanSTD, BALD) lead margin by
  0.65 +- 0.27 points over 20 seeds (docs/results.md), and no signal measured on the
  labeled set tells them apart from margin.
- ``trap``: ``margin`` plus a dense cluster whose labels are random: a model is never
  sure there, so entropy and least confidence pile into it and learn nothing
  (`../shared/SEARCH.md` section 6, the positive control of the paper's objective).
- ``low_budget``: ten well-separated classes, an initial set of ten, a few labels per
  round, and scattered outliers: uncertainty buys outliers, k-means covers the classes.
- ``blobs``: the issue's case (a) as written, a Gaussian mixture where margin is best:
  sixteen overlapping Gaussian blobs on a 4 x 4 grid, four classes assigned to them at
  random (fixed), 20 initial + 10 x 20 (margin first of the seven by 1.5 points).

Verdict per search strategy and case (``--searches``): its AUBC against the best single
candidate's (by mean AUBC over the seeds), paired by seed, passes when the mean
difference is at least minus one standard error; its top candidate (the largest mean
strategy weight over a run's queries) passes when one candidate is the top in at least
80% of the seeds. Every finished run is stored at once in ``WORKDIR/synthetic.json``
(an interrupted suite resumes).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
from absl import app, flags

from benchmarks.synthetic_cases import CASES, SCALE, encode, make_case  # noqa: F401

SEARCHES = ("autoal", "autoal-paper", "autoal-code", "uniform-mix")

flags.DEFINE_string("workdir", None, "Folder of synthetic.json (resumed when present).")
flags.DEFINE_list("cases", list(CASES), "Cases to run.")
flags.DEFINE_integer("seeds", 10, "Seeds per case: first_seed .. first_seed + S - 1.")
flags.DEFINE_integer("first_seed", 0, "The first seed (a replication on fresh seeds: 10).")
flags.DEFINE_list(
  "strategies",
  "random,least_confidence,margin,entropy,kmeans,bald,var_ratio_mc,mean_std,"
  "uniform-mix,autoal,autoal-paper,autoal-code",
  "Strategies run in every case.",
)
flags.DEFINE_list("searches", list(SEARCHES), "Strategies judged (if run) against the best.")
flags.DEFINE_string("search_overrides", "", "SearchConfig fields, as name=value,... (tuning).")
flags.DEFINE_bool("table", False, "Only print the tables of what synthetic.json holds.")
flags.DEFINE_string("jax_cache_dir", "~/.cache/autoal_jax/jax", "Compilation cache ('': none).")
FLAGS = flags.FLAGS


def _parse_overrides(text: str) -> dict:
  """``name=value,...`` -> SearchConfig fields, each value of its default's type (a tuple's
  items joined by '+')."""
  from autoal_jax import search

  out = {}
  for item in filter(None, (t.strip() for t in text.split(","))):
    name, value = item.split("=", 1)
    if name not in search.SearchConfig._fields:
      raise ValueError(f"Unknown SearchConfig field {name!r}")
    default = search.SearchConfig._field_defaults[name]
    if isinstance(default, tuple):  # candidates=margin+typiclust+...
      out[name] = tuple(filter(None, value.split("+")))
    else:
      out[name] = value == "True" if isinstance(default, bool) else type(default)(value)
  return out


def learner_for(dataset, budget, training, model_kwargs, overrides=None):
  """The `loop.ActiveLearner` of a synthetic task: the MLP, its training, the search on
  an MLP backbone (``overrides``: SearchConfig fields)."""
  from autoal_jax import loop, models, search, train

  model = models.get_model("mlp", dataset.info.num_classes, **model_kwargs)
  trainer = train.Trainer(model, dataset.info, training)
  config = search.SearchConfig(
    backbone="mlp",
    backbone_kwargs=tuple(model_kwargs.items()),
    batch_size=32,
    warmup=training._replace(epochs=1, min_steps=100, schedule="constant"),
    **{**search.config.V1_RULE, **(overrides or {})},  # as its stored results ran
  )
  return loop.ActiveLearner(dataset, trainer, budget, config)


def run_case(name: str, seeds, strategy_names, results: dict, save, overrides=None) -> None:
  """Runs every (strategy, seed) of case ``name`` missing from ``results`` (saved at once)."""
  import jax

  from autoal_jax import loop

  learner = learner_for(*make_case(name), overrides)
  for strategy in strategy_names:
    for seed in seeds:
      entry = f"{name}/{strategy}/{seed}"
      if entry in results:
        continue
      start = time.perf_counter()
      state, logs = learner.run(jax.random.key(seed), strategy)
      summary = loop.summarize(state)
      weights = [log.info.weights.tolist() for log in logs if log.info is not None]
      results[entry] = {
        "aubc": summary["aubc"],
        "accuracy": [log.accuracy for log in logs],
        "weights": [w for w in weights if w],
        "weight_names": list(learner.strategy(strategy).weight_names),
        "seconds": time.perf_counter() - start,
      }
      save()
      print(f"{entry}: AUBC {100 * summary['aubc']:.2f} ({results[entry]['seconds']:.1f} s)")


def verdicts(results: dict, case: str, searches=SEARCHES) -> tuple[str, dict]:
  """The case's table (markdown) and, per search strategy run, its verdict."""
  from autoal_jax import strategies

  runs = {}
  for entry, value in results.items():
    c, strategy, seed = entry.split("/")
    if c == case:
      runs.setdefault(strategy, {})[int(seed)] = value
  if not runs:
    return f"(no runs of {case})", {}
  singles = [s for s in runs if strategies.registry.is_picker(s) and s != "random"]
  aubc = {s: np.array([runs[s][k]["aubc"] for k in sorted(runs[s])]) for s in runs}
  best = max(singles, key=lambda s: aubc[s].mean()) if singles else None
  lines = [
    f"**{case}** (best single candidate: {best})",
    "",
    "| strategy | seeds | AUBC % mean +- std | minus best, paired: mean +- SE "
    "| top candidate per seed |",
    "|---|---|---|---|---|",
  ]
  result = {}
  for s in sorted(runs, key=lambda s: -aubc[s].mean()):
    diff, tops = "", ""
    if best is not None and s != best:
      seeds = sorted(set(runs[s]) & set(runs[best]))
      d = np.array([runs[s][k]["aubc"] - runs[best][k]["aubc"] for k in seeds]) * 100
      se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
      diff = f"{d.mean():+.2f} +- {se:.2f}"
      if s in searches:
        top = [_top(runs[s][k]) for k in sorted(runs[s])]
        counts = {t: top.count(t) for t in set(top)}
        modal = max(counts, key=counts.get)
        agree = counts[modal] / len(top)
        tops = ", ".join(top) if len(set(top)) > 1 else f"{modal} (all)"
        result[s] = {
          "diff": float(d.mean()),
          "se": float(se),
          "aubc_pass": bool(d.mean() >= -se),
          "top": modal,
          "agree": agree,
          "agree_pass": bool(agree >= 0.8),
        }
    a = aubc[s] * 100
    lines.append(f"| {s} | {len(a)} | {a.mean():.2f} +- {a.std():.2f} | {diff} | {tops} |")
  return "\n".join(lines), result


def _top(run: dict) -> str:
  """The candidate with the largest mean weight over a run's queries; a tie (a vote of
  equals) is the joined names of the tied ones."""
  if not run["weights"]:
    return "-"
  mean = np.mean(np.array(run["weights"]), axis=0)
  top = np.flatnonzero(mean >= mean.max() - 1e-6)
  return "+".join(run["weight_names"][i] for i in top)


def table(results: dict, cases=CASES, searches=SEARCHES) -> str:
  out, summary = [], []
  for case in cases:
    text, result = verdicts(results, case, searches)
    out.append(text)
    for s, v in result.items():
      summary.append(
        f"| {case} | {s} | {v['diff']:+.2f} +- {v['se']:.2f} "
        f"| {'pass' if v['aubc_pass'] else 'FAIL'} | {v['top']} {100 * v['agree']:.0f}% "
        f"| {'pass' if v['agree_pass'] else 'FAIL'} |"
      )
  if summary:
    out.append(
      "| case | search | AUBC minus best single (points) | AUBC | top candidate, agreement | "
      "agreement |\n|---|---|---|---|---|---|\n" + "\n".join(summary)
    )
  return "\n\n".join(out)


def open_workdir(filename: str) -> tuple[str, dict]:
  """Turns the compilation cache on; the path of ``--workdir``/``filename`` and what it
  holds (a run resumes from it; the folder is made unless ``--table``)."""
  import jax

  if FLAGS.jax_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(FLAGS.jax_cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  if not FLAGS.workdir:
    raise app.UsageError("--workdir is required")
  path = os.path.join(FLAGS.workdir, filename)
  results = {}
  if os.path.exists(path):
    with open(path) as f:
      results = json.load(f)
  if not FLAGS.table:
    os.makedirs(FLAGS.workdir, exist_ok=True)
  return path, results


def save_json(path: str, results: dict) -> None:
  """Writes ``results`` to ``path`` atomically (an interrupted write leaves the old file)."""
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(results, f, indent=1)
  os.replace(tmp, path)


def main(argv):
  del argv
  path, results = open_workdir("synthetic.json")
  if not FLAGS.table:

    def save():
      save_json(path, results)

    overrides = _parse_overrides(FLAGS.search_overrides)
    for case in FLAGS.cases:
      seeds = range(FLAGS.first_seed, FLAGS.first_seed + FLAGS.seeds)
      run_case(case, seeds, FLAGS.strategies, results, save, overrides)
  print(table(results, FLAGS.cases, FLAGS.searches))


if __name__ == "__main__":
  sys.exit(app.run(main))
