r"""Could a prior learned across tasks tell when BALD beats margin? (issue: search; a probe
of the lead "a prior learned offline across datasets").

  python -m benchmarks.meta_prior --workdir=/work/runs/meta_prior     # 80 tasks, 28 min measured
  python -m benchmarks.meta_prior --workdir=/work/runs/meta_prior --table

A corpus of synthetic tasks from five families (``bands``, ``blobs``, ``trap``, ``noisy``,
``rings``; random parameters per task, 6-D, 3 or 4 classes), each run through the
library's loop with the synthetic suite's MLP, training and budget (20 initial + 10 x 20)
by margin, BALD, MeanSTD and random over ``--seeds`` seeds. For each task, features of a
random labeled set of 20 and of 60 (the mean over 2 draws x 2 folds: trained on one
half, scored on the other): held-out accuracy, the NLL gain of MC-dropout averaging, the
AUROC of margin's and of BALD's scores for the held-out errors, the overlap of their top
20 pool picks, BALD over the predictive entropy, the share of the pool with max p < 0.5.

The table: how often BALD beats margin per family, the regret of always-margin and
always-BALD (to the better of the two), and a logistic regression on the features
trained leave-one-family-out, as a prior would be used on a task family it has not seen:
its accuracy against the majority rate and the regret of following it.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from absl import app, flags

from benchmarks import search_synthetic, synthetic_cases

FAMILIES = ("bands", "blobs", "trap", "noisy", "rings")
STRATEGIES = ("margin", "bald", "mean_std", "random")
FEATURES = (
  "acc",
  "nll_det_minus_mc",
  "auroc_margin",
  "auroc_bald",
  "overlap",
  "bald_over_entropy",
  "frac_unsure",
)
SIZES = (20, 60)

# --workdir, --seeds (AL runs per strategy and task; here 3 unless given), --table and
# --jax_cache_dir are the synthetic suite's flags (defined once, on its import).
flags.DEFINE_list("families", list(FAMILIES), "Task families.")
flags.DEFINE_integer("tasks", 16, "Tasks per family.")
FLAGS = flags.FLAGS


def make_task(family: str, task: int):
  """A task of ``family`` with parameters drawn from ``task``: (Dataset, params dict).

  The plane holds the classes; four noise dimensions follow. ``trap`` adds a cluster
  with random labels to the pool (a tenth to a third), ``noisy`` flips 5-25% of the
  pool's labels at random; the test sets are clean."""
  from autoal_jax import data

  if family not in FAMILIES:
    raise ValueError(f"Unknown family {family!r}. Valid families: {list(FAMILIES)}")
  rng = np.random.RandomState(5000 + 1000 * FAMILIES.index(family) + task)
  if family == "blobs":
    grid, k, sd = rng.choice([3, 4, 5]), rng.choice([3, 4]), rng.uniform(0.25, 0.6)
    cells = np.stack(np.meshgrid(np.arange(grid), np.arange(grid)), -1).reshape(-1, 2)
    centres = 1.5 * (cells - (grid - 1) / 2) / (grid / 4)
    blob_class = rng.permutation(np.resize(np.arange(k), grid * grid))
    params = dict(k=int(k), grid=int(grid), sd=sd)

    def plane(n):
      c = rng.randint(0, grid * grid, n)
      return centres[c] + sd * rng.randn(n, 2), blob_class[c]

  elif family == "rings":
    k, sd = rng.choice([3, 4]), rng.uniform(0.1, 0.35)
    params = dict(k=int(k), sd=sd)

    def plane(n):
      y = rng.randint(0, k, n)
      radius = 0.5 + 1.5 * y / (k - 1) + sd * rng.randn(n)
      angle = rng.uniform(0, 2 * np.pi, n)
      return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1), y

  else:  # bands, and the trap and noisy variants of bands
    k, freq, amp = rng.choice([3, 4]), rng.uniform(0.5, 3.0), rng.uniform(0.2, 1.0)
    cuts = (np.arange(1, k) - k / 2) * (4.0 / k)
    params = dict(k=int(k), freq=freq, amp=amp)

    def plane(n):
      x = rng.uniform(-2, 2, (n, 2))
      height = x[:, 1] - amp * np.sin(freq * x[:, 0])
      return x, (height[:, None] > cuts[None]).sum(1)

  noise_sd, trap_share, flip = rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3), rng.uniform(0.05, 0.25)
  params.update(noise_sd=noise_sd)
  if family == "trap":
    params.update(trap_share=trap_share)
  if family == "noisy":
    params.update(flip=flip)

  def sample(n, pool):
    xy, y = plane(n)
    x = np.concatenate([xy, noise_sd * rng.randn(n, 4)], 1).astype(np.float32)
    y = y.astype(np.int32)
    if pool and family == "trap":
      m = int(trap_share * n)
      x[:m] = np.array([3.5, 3.5, 0, 0, 0, 0], np.float32) + 0.5 * rng.randn(m, 6)
      y[:m] = rng.randint(0, params["k"], m)
    if pool and family == "noisy":
      flipped = rng.rand(n) < flip
      y[flipped] = rng.randint(0, params["k"], flipped.sum())
    return synthetic_cases.encode(x), y

  train_x, train_y = sample(3000, True)
  test_x, test_y = sample(1000, False)
  name = f"{family}-{task}"
  return data.from_arrays(train_x, train_y, test_x, test_y, params["k"], name=name), params


def state_features(trainer, images, labels, size: int, num_mc: int, draws: int = 2) -> dict:
  """FEATURES of random labeled sets of ``size`` (the mean over draws x 2 folds)."""
  import jax
  import jax.numpy as jnp
  from sklearn.metrics import roc_auc_score

  from autoal_jax.strategies import scores

  y, rows = np.asarray(labels), []
  n = y.shape[0]
  for draw in range(draws):
    rng = np.random.RandomState(draw)
    members = rng.choice(n, size, replace=False)
    for fold in range(2):
      order = rng.permutation(members)
      fit_rows, held = order[: size // 2], order[size // 2 :]
      mask = np.zeros(n, bool)
      mask[fit_rows] = True
      state = trainer.fit(
        jax.random.key(100 * draw + fold), images, labels, jnp.asarray(mask), int(mask.sum())
      )
      out = trainer.pool_outputs(state, jax.random.key(7), images, num_mc=num_mc)
      probs, mean_probs = np.asarray(out.probs), np.asarray(out.mc_probs).mean(0)
      margin, bald = np.asarray(scores.margin(out.probs)), np.asarray(scores.bald(out.mc_probs))
      entropy = np.asarray(scores.entropy(jnp.asarray(mean_probs)))
      truth = y[held]
      nll = [-np.log(np.maximum(p[held, truth], 1e-12)) for p in (probs, mean_probs)]
      wrong = (probs[held].argmax(1) != truth).astype(int)

      def auroc(score, wrong=wrong, held=held):
        return roc_auc_score(wrong, score[held]) if 0 < wrong.sum() < len(wrong) else 0.5

      free = ~mask
      top = [set(np.argsort(-np.where(free, s, -np.inf))[:20]) for s in (margin, bald)]
      rows.append([
        1 - wrong.mean(),
        nll[0].mean() - nll[1].mean(),
        auroc(margin),
        auroc(bald),
        len(top[0] & top[1]) / 20,
        bald[free].mean() / max(entropy[free].mean(), 1e-9),
        (probs[free].max(1) < 0.5).mean(),
      ])  # fmt: skip
  return dict(zip(FEATURES, np.mean(rows, 0).tolist(), strict=True))


def run_task(family: str, task: int, seeds: int) -> dict:
  """AUBCs of STRATEGIES over seeds and the features at SIZES of one task."""
  import jax

  from autoal_jax import loop

  dataset, params = make_task(family, task)
  _, budget, training, model_kwargs = search_synthetic.make_case("margin")
  learner = search_synthetic.learner_for(dataset, budget, training, model_kwargs)
  aubc = {
    s: [loop.summarize(learner.run(jax.random.key(seed), s)[0])["aubc"] for seed in range(seeds)]
    for s in STRATEGIES
  }
  features = {}
  for size in SIZES:
    values = state_features(learner.trainer, learner.images, learner.labels, size, budget.num_mc)
    features.update({f"{name}_{size}": v for name, v in values.items()})
  return dict(params=params, aubc=aubc, features=features)


def table(results: dict) -> str:
  """The corpus's summary and the leave-one-family-out prior (see the module docstring)."""
  from sklearn.linear_model import LogisticRegression
  from sklearn.preprocessing import StandardScaler

  keys = sorted(results)
  if not keys:
    return "(no tasks)"
  family = np.array([k.split("/")[0] for k in keys])
  names = sorted(results[keys[0]]["features"])
  x = np.array([[results[k]["features"][n] for n in names] for k in keys])
  margin, bald = (
    np.array([np.mean(results[k]["aubc"][s]) for k in keys]) * 100 for s in STRATEGIES[:2]
  )
  best = np.maximum(margin, bald)
  y = (bald > margin).astype(int)
  chosen = margin.copy()
  families = list(dict.fromkeys(family))
  predicted = np.zeros(len(keys), int)
  if len(families) > 1:
    for f in families:
      train, held = family != f, family == f
      if len(set(y[train])) < 2:  # nothing to learn: the majority
        predicted[held] = y[train][0]
        continue
      scaler = StandardScaler().fit(x[train])
      model = LogisticRegression(C=0.3, max_iter=1000).fit(scaler.transform(x[train]), y[train])
      predicted[held] = model.predict(scaler.transform(x[held]))
    chosen = np.where(predicted == 1, bald, margin)
  lines = [
    "| family | tasks | BALD > margin | regret: always margin | always BALD | learned prior (LOFO) "
    "| its accuracy |",
    "|---|---|---|---|---|---|---|",
  ]
  for f in [*families, "all"]:
    m = family == f if f != "all" else np.ones(len(keys), bool)
    lines.append(
      f"| {f} | {m.sum()} | {y[m].sum()} | {np.mean(best[m] - margin[m]):.2f} "
      f"| {np.mean(best[m] - bald[m]):.2f} | {np.mean(best[m] - chosen[m]):.2f} "
      f"| {np.mean(predicted[m] == y[m]):.2f} |"
    )
  from scipy.stats import spearmanr

  rho = [spearmanr(x[:, i], bald - margin).statistic for i in range(len(names))]
  lines.append(
    "\nSpearman with BALD minus margin, all tasks: "
    + ", ".join(f"{n} {r:+.2f}" for n, r in zip(names, rho, strict=True))
  )
  majority = max(y.mean(), 1 - y.mean())
  lines.append(
    f"\nmajority rate {majority:.2f}; the learned prior chose BALD in {predicted.sum()} tasks"
  )
  return "\n".join(lines)


def main(argv):
  del argv
  path, results = search_synthetic.open_workdir("meta.json")
  seeds = FLAGS.seeds if FLAGS["seeds"].present else 3
  if not FLAGS.table:
    for family in FLAGS.families:
      for task in range(FLAGS.tasks):
        key = f"{family}/{task}"
        if key in results:
          continue
        start = time.perf_counter()
        results[key] = run_task(family, task, seeds)
        search_synthetic.save_json(path, results)
        aubc = {s: 100 * np.mean(v) for s, v in results[key]["aubc"].items()}
        print(
          f"{key}: " + ", ".join(f"{s} {v:.2f}" for s, v in aubc.items())
          + f" ({time.perf_counter() - start:.0f} s)",
          flush=True,
        )  # fmt: skip
  print(table(results))


if __name__ == "__main__":
  sys.exit(app.run(main))
