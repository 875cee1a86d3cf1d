r"""Which candidates `autoal`'s out-of-fold evidence favours, round by round (issue: search).

  python -m benchmarks.search_evidence --cases=low_budget,trap --seeds=5   # ~3 min on 2 cores

Runs `autoal` (default config, the candidates of ``--candidates``) through the synthetic
suite's cases (`benchmarks/search_synthetic.py`, the same data, budgets and models) and
prints, per case, each candidate's rank by its evidence after every query (0: the highest),
averaged over the seeds. Compare with the candidates' real AUBCs in the suite's tables
(docs/results.md): a search can only follow a candidate its evidence ranks high.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from absl import app, flags

from benchmarks import search_synthetic

# --cases, --seeds and --jax_cache_dir are the synthetic suite's flags.
flags.DEFINE_list(
  "candidates",
  "least_confidence,margin,entropy,kmeans,bald,var_ratio_mc,mean_std,typiclust,cluster_margin",
  "autoal's candidates.",
)
FLAGS = flags.FLAGS


def evidence_ranks(case: str, seeds: int, candidates: tuple) -> np.ndarray:
  """float[Q, K]: each candidate's evidence rank after each of the Q queries (0: highest),
  the mean over the seeds."""
  import jax

  from autoal_jax import loop, models, search, train

  dataset, budget, training, model_kwargs = search_synthetic.make_case(case)
  model = models.get_model("mlp", dataset.info.num_classes, **model_kwargs)
  config = search.SearchConfig(
    backbone="mlp",
    backbone_kwargs=tuple(model_kwargs.items()),
    batch_size=32,
    warmup=training._replace(epochs=1, min_steps=100, schedule="constant"),
    candidates=candidates,
    **search.config.V1_RULE,  # as its stored results ran
  )
  learner = loop.ActiveLearner(
    dataset, train.Trainer(model, dataset.info, training), budget, config
  )
  ranks = []
  for seed in range(seeds):
    state, rows = learner.init(jax.random.key(seed), "autoal"), []
    while not learner.done(state):
      state, log = learner.round(state, "autoal")
      if log.info is not None:  # a query: the evidence it left
        rows.append(np.asarray(state.strategy.evidence))
    rows = np.asarray(rows)
    ranks.append(np.argsort(np.argsort(-rows, axis=1), axis=1))
  return np.mean(ranks, axis=0)


def main(argv):
  del argv
  import jax

  if FLAGS.jax_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(FLAGS.jax_cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  candidates = tuple(FLAGS.candidates)
  for case in FLAGS.cases:
    ranks = evidence_ranks(case, FLAGS.seeds, candidates)
    print(f"\n{case}: mean evidence rank after each query over {FLAGS.seeds} seeds (0: highest)\n")
    print("| query | " + " | ".join(candidates) + " |")
    print("|---|" + "---|" * len(candidates))
    for q, row in enumerate(ranks, 1):
      print(f"| {q} | " + " | ".join(f"{r:.1f}" for r in row) + " |", flush=True)


if __name__ == "__main__":
  sys.exit(app.run(main))
