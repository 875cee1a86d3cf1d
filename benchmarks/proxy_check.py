r"""Do the search's proxies rank the candidates like the real one-round gain? (issue: search)

  python -m benchmarks.proxy_check --workdir=/work/runs/proxy_balanced
  python -m benchmarks.proxy_check --workdir=/work/runs/proxy_imbalanced --config.imbalance_ratio=10
  python -m benchmarks.proxy_check --workdir=DIR --table   # the tables of what is measured

States: the labeled sets of a real AL run (``--state_strategy``, default uniform-mix, the
search's starting point) of the config's experiment, at the start of rounds ``--rounds``
for seeds ``--seeds``. For each state L and each candidate:

- real gain: the task model trained on L scores the pool, the candidate buys b, and the
  task model is retrained from scratch on L + b with ``--retrains`` seeds: the mean test
  accuracy (the same retraining seeds for every candidate: paired).
- proxies, computed on L alone (`../shared/SEARCH.md`): a seeded split of L into T / V / H
  (40 / 40 / 20), FitNet (the task model) trained on T; each candidate picks
  n = round(b |T| / |L|) samples of V from FitNet's outputs on V; then
  ``paper``: mean FitNet cross-entropy of the picks (higher preferred; AutoAL's objective);
  ``align``: mean gradient alignment <g_H, G_i> of the picks, G_i = phi_i (p_i - y_i)^T
  (BADGE's gradient embedding), g_H the mean over H (R2 without its redundancy term);
  ``align_red``: the same minus ``gamma / 2`` times the picks' mean pairwise <G_i, G_j>
  (R2); ``lookahead``: minus the cross-entropy on H of FitNet fine-tuned from its weights
  on T + the picks for ``--lookahead_steps`` steps (R1 through the whole network).
  All of them use the factorised inner products <G_i, G_j> = (phi_i . phi_j)(r_i . r_j).

Per state: each proxy's Spearman correlation with the real gain over the candidates and
the regret (best real gain minus the real gain of the candidate the proxy prefers). Every
finished state is stored in ``WORKDIR/proxy.json`` at once (with every retrain's accuracy,
``retrains``), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import sys
import time

from absl import app, flags
from ml_collections import config_flags

config_flags.DEFINE_config_file(
  "config", "experiments/configs/default.py", "Experiment config.", lock_config=True
)
flags.DEFINE_string("workdir", None, "Folder of proxy.json (resumed when present).")
flags.DEFINE_list("seeds", ["0", "1"], "AL runs whose states are checked.")
flags.DEFINE_list("rounds", ["1", "4", "8"], "Rounds whose starting labeled sets are checked.")
flags.DEFINE_string("state_strategy", "uniform-mix", "The strategy of the AL runs.")
flags.DEFINE_list(
  "candidates",
  "least_confidence,margin,entropy,kmeans,bald,var_ratio_mc,mean_std,badge,random",
  "The candidates ranked.",
)
flags.DEFINE_integer("retrains", 3, "Retraining seeds per candidate for the real gain.")
flags.DEFINE_integer("lookahead_steps", 100, "FitNet fine-tuning steps of the lookahead proxy.")
flags.DEFINE_float("lookahead_learning_rate", 1e-3, "Its Adam learning rate.")
flags.DEFINE_float("gamma", 1.0, "Weight of the redundancy term of align_red.")
flags.DEFINE_bool("table", False, "Only print the tables of what proxy.json holds.")
flags.mark_flag_as_required("workdir")
FLAGS = flags.FLAGS

from benchmarks.proxy_stats import PROXIES, table  # noqa: E402 (after the flags)


def main(argv):
  del argv
  from absl import logging

  logging.set_verbosity(logging.WARNING)
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax

  path = os.path.join(FLAGS.workdir, "proxy.json")
  results = {}
  if os.path.exists(path):
    with open(path) as f:
      results = json.load(f)
  if FLAGS.table:
    print(table(results))
    return

  config = FLAGS.config
  if config.jax_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(config.jax_cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  from autoal_jax import data, loop, models, passes, strategies, train
  from experiments import common

  os.makedirs(FLAGS.workdir, exist_ok=True)
  train_config = train.TrainConfig(**config.train.to_dict())
  dataset = data.load_dataset(config.dataset, config.data_dir or None, config.imbalance_ratio)
  dataset = data.subsample(jax.random.key(0), dataset, config.pool_size, config.test_size)
  al_config = loop.ALConfig(config.num_initial, config.query_size, config.quota, config.num_mc)
  model = models.get_model(config.model, dataset.info.num_classes)
  trainer = train.Trainer(model, dataset.info, train_config, config.steps_per_call or None)
  learner = loop.ActiveLearner(
    dataset, trainer, al_config, common.search_config(config, train_config)
  )
  images, labels = learner.images, learner.labels
  test_images, test_labels = learner.test_images, learner.test_labels
  num_pool, b, num_mc = labels.shape[0], al_config.query_size, al_config.num_mc
  stats = dict(mean=tuple(dataset.info.mean), std=tuple(dataset.info.std))
  candidates = list(strategies.check_candidates(FLAGS.candidates))
  rounds = sorted(int(r) for r in FLAGS.rounds)
  print(
    f"{dataset.info.name}: pool {num_pool}, b {b}, states of {FLAGS.state_strategy} at rounds "
    f"{rounds}, seeds {FLAGS.seeds}; candidates {candidates}",
    flush=True,
  )

  def save():
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      json.dump(results, f, indent=1)
    os.replace(tmp, path)

  def accuracy_after(key, mask) -> float:
    n = int(jnp.sum(mask))
    state = trainer.fit(key, images, labels, mask, n)
    return float(trainer.evaluate(state, test_images, test_labels))

  def gradient_parts(outputs, y):
    """phi [m, D] and r = p - onehot(y) [m, C] of BADGE's gradient embedding."""
    residual = outputs.probs - jax.nn.one_hot(y, outputs.probs.shape[1])
    return np.asarray(outputs.embeddings, np.float64), np.asarray(residual, np.float64)

  def evaluate_state(seed: int, labeled) -> dict:
    key = jax.random.fold_in(jax.random.key(1000 + seed), int(jnp.sum(labeled)))
    model_key, mc_key, pick_key, split_key, fit_key = jax.random.split(key, 5)
    retrain_keys = jax.random.split(jax.random.fold_in(key, 7), FLAGS.retrains)
    num_labeled = int(jnp.sum(labeled))
    # Real one-round gains.
    task = trainer.fit(model_key, images, labels, labeled, num_labeled)
    outputs = trainer.pool_outputs(task, mc_key, images, num_mc=num_mc)
    gain, runs = {}, {}
    for name in candidates:
      picks = strategies.pick(name, pick_key, outputs, ~labeled, b)
      bought = labeled.at[picks].set(True)
      runs[name] = [accuracy_after(k, bought) for k in retrain_keys]
      gain[name] = float(np.mean(runs[name]))
    # Proxies on the labeled set alone: T / V / H.
    index = np.flatnonzero(np.asarray(labeled))
    order = np.asarray(jax.random.permutation(split_key, len(index)))
    num_t, num_v = int(0.4 * len(index)), int(0.4 * len(index))
    t_idx, v_idx, h_idx = np.split(index[order], [num_t, num_t + num_v])
    t_mask = jnp.zeros(num_pool, bool).at[t_idx].set(True)
    fit = trainer.fit(fit_key, images, labels, t_mask, len(t_idx))
    v_out = trainer.pool_outputs(fit, mc_key, images[v_idx], num_mc=num_mc)
    h_out = trainer.pool_outputs(fit, mc_key, images[h_idx], num_mc=0)
    y_v, y_h = labels[v_idx], labels[h_idx]
    ce_v = np.asarray(optax.softmax_cross_entropy_with_integer_labels(v_out.logits, y_v))
    phi_v, r_v = gradient_parts(v_out, y_v)
    phi_h, r_h = gradient_parts(h_out, y_h)
    g_h = phi_h.T @ r_h / len(h_idx)  # [D, C], the mean gradient embedding of H
    n = max(1, round(b * len(t_idx) / num_labeled))
    lookahead = train.Trainer(
      model,
      dataset.info,
      train_config._replace(
        epochs=1,
        min_steps=FLAGS.lookahead_steps,
        schedule="constant",
        learning_rate=FLAGS.lookahead_learning_rate,
      ),
      trainer.steps_per_call,
      init_variables={"params": fit.params, "batch_stats": fit.batch_stats},
    )
    proxies = {p: {} for p in PROXIES}
    for name in candidates:
      chosen = np.asarray(strategies.pick(name, pick_key, v_out, jnp.ones(len(v_idx), bool), n))
      proxies["paper"][name] = float(ce_v[chosen].mean())
      phi, r = phi_v[chosen], r_v[chosen]
      aligned = np.einsum("id,dc,ic->i", phi, g_h, r)  # <g_H, G_i>
      gram = (phi @ phi.T) * (r @ r.T)  # <G_i, G_j>
      proxies["align"][name] = float(aligned.mean())
      proxies["align_red"][name] = float(aligned.mean() - FLAGS.gamma / 2 * gram.mean())
      mask = t_mask.at[v_idx[chosen]].set(True)
      tuned = lookahead.fit(fit_key, images, labels, mask, int(jnp.sum(mask)))
      logits, _ = passes.predict(tuned, images[h_idx], **stats, chunk=train_config.eval_chunk)
      h_ce = optax.softmax_cross_entropy_with_integer_labels(logits, y_h)
      proxies["lookahead"][name] = -float(jnp.mean(h_ce))
    return {"num_labeled": num_labeled, "gain": gain, "retrains": runs, "proxies": proxies}

  for seed in (int(s) for s in FLAGS.seeds):
    todo = [r for r in rounds if f"seed{seed}/round{r}" not in results]
    if not todo:
      continue
    state = learner.init(jax.random.key(seed), FLAGS.state_strategy)
    while int(state.round) <= max(todo):
      r = int(state.round)
      if r in todo:
        start = time.perf_counter()
        results[f"seed{seed}/round{r}"] = evaluate_state(seed, state.labeled)
        save()
        print(f"seed {seed} round {r}: {time.perf_counter() - start:.0f} s", flush=True)
      if r == max(todo) or r >= al_config.num_rounds:
        break
      state, _ = learner.round(state, FLAGS.state_strategy)
  print(table(results))


if __name__ == "__main__":
  sys.exit(app.run(main))
