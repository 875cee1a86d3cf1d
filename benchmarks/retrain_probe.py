r"""Can a retraining simulation on the labeled set tell near-equal candidates apart?
(issue: search; a probe of the lead "real one-round gain measured on L").

  python -m benchmarks.retrain_probe --case=margin --seeds=3 --repeats=8

Along a run of ``--trajectory`` (margin) on a synthetic case (`search_synthetic`), at each
round's labeled set L, for each candidate of ``--candidates``:

- the real one-round gain: buy b with it from the pool (the round's model), retrain from
  scratch (``--retrains`` keys), test accuracy;
- the simulated gain on L, ``--repeats`` times: L split at random into L0 (half), a
  pseudo-pool V (a quarter) and H (a quarter); a model trained on L0; each candidate picks
  ceil(|V| b / |L|) of V (at most half); retrained on L0 and the picks with the same key;
  H's mean probability of the true label. Paired across candidates by repeat.

Prints, per state, each candidate's real gain and simulated value minus the reference's
(``--candidates``' first) with the simulation's standard error, and at the end how often
"challenger ahead of the reference by more than ``--z`` SE" was right about the real gain.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
from absl import app, flags

from benchmarks import search_synthetic

flags.DEFINE_string("case", "margin", "Synthetic case.")
flags.DEFINE_string("trajectory", "margin", "The strategy whose labeled sets are probed.")
flags.DEFINE_list("candidates", "margin,bald,mean_std,entropy,kmeans", "Reference first.")
flags.DEFINE_integer("repeats", 8, "Simulations per state.")
flags.DEFINE_integer("retrains", 3, "Retrains per candidate for the real gain.")
flags.DEFINE_float("z", 2.0, "Standard errors a challenger must lead by.")
FLAGS = flags.FLAGS


def probe(case: str, seeds, candidates, repeats: int, retrains: int, trajectory: str):
  import jax
  import jax.numpy as jnp

  from autoal_jax import loop, models, search, strategies, train

  dataset, budget, training, model_kwargs = search_synthetic.make_case(case)
  model = models.get_model("mlp", dataset.info.num_classes, **model_kwargs)
  trainer = train.Trainer(model, dataset.info, training)
  config = search.SearchConfig(
    backbone="mlp", backbone_kwargs=tuple(model_kwargs.items()), **search.config.V1_RULE
  )  # v1's rule, as its numbers ran
  learner = loop.ActiveLearner(dataset, trainer, budget, config)
  images, labels = learner.images, learner.labels
  num_pool, b = labels.shape[0], budget.query_size
  pick = jax.jit(strategies.pick, static_argnums=(0, 4))
  prob_true = jax.jit(lambda probs, y: jnp.take_along_axis(probs, y[:, None], 1)[:, 0])

  def fit(key, mask):
    return trainer.fit(key, images, labels, jnp.asarray(mask), int(mask.sum()))

  def outputs_of(state, key):
    return trainer.pool_outputs(state, key, images, num_mc=budget.num_mc)

  def simulate(key, members, candidates):
    """float[K]: H's mean probability of the label after each candidate's picks from V."""
    split_key, fit_key, mc_key, pick_key = jax.random.split(key, 4)
    order = np.asarray(jax.random.permutation(split_key, members))
    n0, nv = len(order) // 2, len(order) // 4
    base, pseudo, held = order[:n0], order[n0 : n0 + nv], order[n0 + nv :]
    mask0, vmask = np.zeros(num_pool, bool), np.zeros(num_pool, bool)
    mask0[base], vmask[pseudo] = True, True
    m = max(1, min(len(pseudo) // 2, math.ceil(len(pseudo) * b / len(members))))
    sim_outputs = outputs_of(fit(fit_key, mask0), mc_key)
    values = []
    for c in candidates:
      mask = mask0.copy()
      mask[np.asarray(pick(c, pick_key, sim_outputs, vmask, m))] = True
      # The same training key for every candidate: paired by repeat.
      probs = trainer.pool_outputs(fit(fit_key, mask), mc_key, images, num_mc=0).probs
      values.append(float(jnp.mean(prob_true(probs, labels)[held])))
    return np.asarray(values)

  rows = []
  for seed in seeds:
    state = learner.init(jax.random.key(seed), trajectory)
    while not learner.done(state):
      labeled = np.asarray(state.labeled)
      r = int(state.round)
      if r < budget.num_rounds:
        key = jax.random.fold_in(jax.random.key(100 + seed), r)
        real_key, sim_key = jax.random.split(key)
        # The real one-round gain of each candidate.
        model_state = fit(jax.random.fold_in(real_key, 0), labeled)
        outputs = outputs_of(model_state, jax.random.fold_in(real_key, 1))
        real = []
        for c in candidates:
          chosen = np.asarray(pick(c, jax.random.fold_in(real_key, 2), outputs, ~labeled, b))
          mask = labeled.copy()
          mask[chosen] = True
          accs = [
            float(
              trainer.evaluate(
                fit(jax.random.fold_in(real_key, 10 + t), mask),
                learner.test_images,
                learner.test_labels,
              )
            )
            for t in range(retrains)
          ]
          real.append(np.mean(accs))
        # The simulation on L.
        members = np.flatnonzero(labeled)
        sims = np.stack(
          [
            simulate(jax.random.fold_in(sim_key, rep), members, candidates)
            for rep in range(repeats)
          ]
        )
        diff = sims[:, 1:] - sims[:, :1]
        rows.append(
          dict(
            seed=seed,
            labels=len(members),
            real=np.asarray(real[1:]) - real[0],
            sim=diff.mean(0),
            se=diff.std(0, ddof=1) / np.sqrt(repeats),
          )
        )
        row = rows[-1]
        print(
          f"seed {seed} |L| {row['labels']}: "
          + ", ".join(
            f"{c} real {100 * row['real'][j]:+.2f} sim {100 * row['sim'][j]:+.2f}"
            f"+-{100 * row['se'][j]:.2f}"
            for j, c in enumerate(candidates[1:])
          ),
          flush=True,
        )
      state, _ = learner.round(state, trajectory)
  return rows


def table(rows: list, candidates, z: float) -> str:
  """The probe's summary (markdown): per challenger, over the states of ``rows`` (each
  ``real``, ``sim``, ``se``: float[K - 1], the challengers minus the reference), the mean
  real and simulated differences, their Pearson correlation across states, how often the
  simulation put it more than ``z`` SE ahead, how often it really was ahead then, and its
  mean real difference there."""
  real, sim, se = (np.array([r[f] for r in rows]) for f in ("real", "sim", "se"))
  lines = [
    "| candidate | mean real gain diff | mean sim diff | corr(real, sim) | "
    f"sim > {z:g} SE: times | of which real > 0 | real mean there |",
    "|---|---|---|---|---|---|---|",
  ]
  for j, c in enumerate(candidates[1:]):
    ahead = sim[:, j] > z * se[:, j]
    corr = np.corrcoef(real[:, j], sim[:, j])[0, 1]
    there = real[ahead, j]
    lines.append(
      f"| {c} | {100 * real[:, j].mean():+.2f} | {100 * sim[:, j].mean():+.2f} | "
      f"{corr:+.2f} | {ahead.sum()} | {(there > 0).sum()} | "
      f"{100 * there.mean() if len(there) else float('nan'):+.2f} |"
    )
  return "\n".join(lines)


def main(argv):
  del argv
  import jax

  jax.config.update("jax_compilation_cache_dir", os.path.expanduser("~/.cache/autoal_jax/jax"))
  candidates = tuple(FLAGS.candidates)
  rows = probe(
    FLAGS.case, range(FLAGS.seeds), candidates, FLAGS.repeats, FLAGS.retrains, FLAGS.trajectory
  )
  print(f"\n{FLAGS.case}: challengers against {candidates[0]}, {len(rows)} states")
  print(table(rows, candidates, FLAGS.z))


if __name__ == "__main__":
  sys.exit(app.run(main))
