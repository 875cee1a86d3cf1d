r"""The pool's own neighbourhood scales on a synthetic case's features, as the coverage
strategies measure them (L2-normalised): candidates for a kernel width set by the pool's
density rather than by the labeled set (issue 28's lead, the twentieth session).

  python -m benchmarks.pool_scale --datasets=blobs_d5,low_budget_d3,margin_d6,trap_d6
  python -m benchmarks.pool_scale --datasets=blobs_d5 --geometry=standard
  python -m benchmarks.pool_scale --clarity --datasets=blobs_d5,margin_d6,digits,fashion_mnist

Per dataset: the median over the pool of each sample's distance to its k-th nearest other
sample (k = 1, 5, 20, 50, 100, 300; TypiClust's density reads k = 20), and ProbCover's
radius (`coverage.probcover_delta`: the largest radius whose balls stay 95% pure under
k-means with as many clusters as classes), and the share of each sample's ten nearest
neighbours (on the features as given) that are still among its ten nearest after the
normalisation (``kept@10``: how much of the neighbourhoods the sphere keeps). Read
beside the fixed widths' regrets (`benchmarks/herding_ablation.py`'s ``uherding_w025``
.. ``uherding_wide``), it says whether a statistic of the pool orders the widths the
cells want.

``--clarity`` (the twenty-first session): instead, the silhouette of k-means with C, 2C
and 4C clusters (C the classes) on the features as given and on their L2-normalised rows,
`clarity`: whether the pool itself says which geometry it is clustered in, the blobs
(whose herding wants the features unnormalised) on one side and the pools that want the
sphere (the other synthetic cases, digits' and Fashion-MNIST's principal components) on
the other. ``digits`` and ``fashion_mnist`` are the sweep's image pools as its cells
embed them (`real_features_of`).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
NEIGHBOURS = (1, 5, 20, 50, 100, 300)
KEPT = 10  # the neighbours whose survival under the normalisation is counted
CLARITY_CLUSTERS = (1, 2, 4)  # `clarity`'s k-means clusters per class
SILHOUETTE_SAMPLE = 2000  # `clarity`'s silhouettes on this many pool samples at most


def _sq_distances(x: np.ndarray) -> np.ndarray:
  """The squared distances between the rows of x (float64[N, D]), inf on the diagonal."""
  sq = np.sum(x * x, axis=1)
  d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
  np.fill_diagonal(d2, np.inf)
  return d2


def scales(features: np.ndarray, num_classes: int, seed: int = 0, kept: int = KEPT) -> dict:
  """{"k=K": median distance to the K-th nearest other sample, "probcover": ProbCover's
  radius} on the L2-normalised rows of ``features`` (float[N, D], N up to a few
  thousand: the N x N distances are built at once), and "kept@K": the mean share of a
  sample's K = ``kept`` nearest neighbours (at most N - 1) on ``features`` as given that
  stay among its K nearest on the normalised rows."""
  import jax
  import jax.numpy as jnp

  from autoal_jax.strategies import coverage

  raw = np.asarray(features, np.float64)
  x = raw / np.linalg.norm(raw, axis=1, keepdims=True)
  d2 = _sq_distances(x)
  ordered = np.sqrt(np.sort(d2, axis=1))
  out = {f"k={k}": float(np.median(ordered[:, k - 1])) for k in NEIGHBOURS if k < len(x)}
  # The share of each sample's KEPT nearest neighbours that the normalisation keeps: how
  # much of the features' neighbourhoods the sphere preserves (1: all of them).
  kept = min(kept, len(x) - 1)
  before = np.argsort(_sq_distances(raw), axis=1)[:, :kept]
  after = np.argsort(d2, axis=1)[:, :kept]
  shared = np.any(before[:, :, None] == after[:, None, :], axis=2).sum(axis=1)
  out[f"kept@{kept}"] = float(np.mean(shared)) / kept
  delta = coverage.probcover_delta(jax.random.key(seed), jnp.asarray(x, jnp.float32), num_classes)
  out["probcover"] = float(delta)
  return out


def clarity(features: np.ndarray, num_classes: int, seed: int = 0) -> dict:
  """{"raw@mC": silhouette, "sphere@mC": silhouette} of k-means (scikit-learn's, three
  restarts) with m x ``num_classes`` clusters, m in `CLARITY_CLUSTERS`, on
  ``features`` (float[N, D]) as given and on their L2-normalised rows; each silhouette
  (Rousseeuw 1987: mean over samples of (b - a) / max(a, b), a the mean distance to the
  own cluster, b to the nearest other) on the same `SILHOUETTE_SAMPLE` samples at most,
  in that geometry's distances. Scale-free, so the two geometries compare."""
  from sklearn.cluster import KMeans
  from sklearn.metrics import silhouette_score

  raw = np.asarray(features, np.float64)
  geometries = {"raw": raw, "sphere": raw / np.linalg.norm(raw, axis=1, keepdims=True)}
  rng = np.random.default_rng(seed)
  sample = rng.permutation(len(raw))[: min(SILHOUETTE_SAMPLE, len(raw))]
  out = {}
  for m in CLARITY_CLUSTERS:
    for name, x in geometries.items():
      labels = KMeans(m * num_classes, n_init=3, random_state=seed).fit_predict(x)
      out[f"{name}@{m}C"] = float(silhouette_score(x[sample], labels[sample]))
  return out


REAL = ("digits", "fashion_mnist")  # `real_features_of`'s pools


def real_features_of(dataset: str) -> tuple[np.ndarray, int]:
  """(the pool's embedding the coverage strategies measure on, classes) of one of the
  sweep's balanced image datasets, as its cells build it (`common.load_dataset` on the
  sweep's config, uncached): the pool's top principal components."""
  from experiments import common
  from experiments.configs import sweep as sweep_config

  loaded = common.load_dataset(sweep_config.get_config(f"{dataset},1"), None, None)
  return np.asarray(loaded.embeddings, np.float64), loaded.info.num_classes


def features_of(dataset: str, geometry: str, folder: str) -> tuple[np.ndarray, int]:
  """(the pool's features the strategies measure on, classes) of a synthetic dataset:
  as drawn (``raw``) or standardised feature by feature (``standard``)."""
  from benchmarks import sweep

  path, classes, _ = sweep.synthetic_npz(dataset, folder)
  with np.load(path) as f:
    x = np.asarray(f["train_images"], np.float64).reshape(len(f["train_labels"]), -1)
  if geometry == "standard":
    from autoal_jax import data

    x = data.standardize_features(x, x[:1])[0]
  return x, classes


def main(argv):
  del argv
  from benchmarks import sweep

  real = [d for d in FLAGS.datasets if d in REAL]
  if real and not FLAGS.clarity:
    raise app.UsageError(f"{', '.join(real)}: only with --clarity")
  sweep.check_datasets([d for d in FLAGS.datasets if d not in REAL], "raw")
  folder = FLAGS.runs or tempfile.mkdtemp(prefix="pool_scale_")
  rows = []
  for dataset in FLAGS.datasets:
    if dataset in REAL:
      x, classes = real_features_of(dataset)
    else:
      x, classes = features_of(dataset, FLAGS.geometry, os.path.join(folder, "data"))
    if FLAGS.clarity:
      rows.append((dataset, {"classes": classes, **clarity(x, classes)}))
    else:
      rows.append((dataset, scales(x, classes)))
  keys = list(rows[0][1])
  if FLAGS.clarity:
    print(
      f"\nThe pool's silhouettes under k-means with m x C clusters, on the features as "
      f"given ({FLAGS.geometry} for the synthetic cases; the image pools' principal "
      "components) and on the sphere\n"
    )
  else:
    print(
      f"\nThe pool's scales ({FLAGS.geometry} geometry, L2-normalised; medians over the pool)\n"
    )
  print("| dataset | " + " | ".join(keys) + " |")
  print("|---|" + "---|" * len(keys))
  for dataset, row in rows:
    cells = (f"{row[k]}" if k == "classes" else f"{row[k]:.3f}" for k in keys)
    print(f"| {dataset} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
  flags.DEFINE_list("datasets", ["blobs_d5", "low_budget_d3", "margin_d6", "trap_d6"], "Cases.")
  flags.DEFINE_enum(
    "geometry", "raw", ["raw", "standard"], "The features as drawn or standardised."
  )
  flags.DEFINE_string("runs", "", "Folder for the drawn data (RUNS/data); empty: a temporary one.")
  flags.DEFINE_bool("clarity", False, "The k-means silhouettes on both geometries instead.")
  app.run(main)
