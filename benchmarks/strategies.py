r"""Time and peak memory of every strategy against a NumPy / scikit-learn reference.

  python -m benchmarks.strategies                       # N=50k, D=512, C=10, T=10, k=1000
  python -m benchmarks.strategies --memory_n=200000 --only=kcenter_greedy,badge
  python -m benchmarks.strategies --decisions --model=small_cnn   # decisions vs passes
  python -m benchmarks.strategies --only=typiclust,cluster_margin,tailor,albl --n=200000
  python -m benchmarks.strategies --only=probcover,maxherding,uherding,dropquery --n=200000
  python -m benchmarks.strategies --only=dcom --n=200000

Each (strategy, implementation) runs in a fresh subprocess that builds the inputs, resets
the kernel's peak-RSS mark (/proc/self/clear_refs), runs the strategy and reports the wall
time and the peak resident memory above the RSS it had before (for JAX: the best of a few
calls after a warm-up that compiles; the compilation counts in its peak memory). The
references are written the way the common PyTorch toolkits (DeepAL+, the AutoAL
repository, BADGE's code) do it: NumPy on the full matrices, a full N x N distance matrix
for k-center, scikit-learn's KMeans, BADGE's explicit N x (C*D) gradient embedding;
TypiClust as its authors' loop (scikit-learn's KMeans, nearest neighbours per cluster),
Cluster-Margin with the same substitute clustering (scikit-learn's KMeans from the
farthest-first centres), TAILOR and ALBL as Python loops over NumPy arrays (the two
bandits over the six score candidates, BANDIT_CANDIDATES: a k-means candidate would time
scikit-learn's k-means, not the bandit; one query from a fresh state). ProbCover,
MaxHerding and Uncertainty Herding's greedy step as scikit-activeml and the released
UHerding code run them: a full kernel or ball matrix, here of the same random subset of
S = 4,096 candidates (at N = 50,000 their N x N matrices would not fit this machine), the
purity radius from scikit-learn's KMeans; DropQuery with scikit-learn's KMeans on the
disagreeing samples; DCoM as its released code runs one query from a fresh state (every
labeled sample's radius searched, the task model's predictions standing in for their
labels): the radii's binary search and the coverage on the full |L| x N distances, the
greedy step's graph on the same subset of S candidates. ``uherding`` times the selection
(uncertainty at T = 1, the adaptive kernel width, the greedy step), not the calibration
model's training.
Ratio = reference time / JAX time (> 1: JAX is faster).

The inputs are synthetic but shaped like a real pool: embeddings from a 50-component
Gaussian mixture, logits from a random linear head, MC probabilities from noisy logits,
2% of the pool labeled.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from absl import app, flags

from benchmarks import memory

flags.DEFINE_integer("n", 50_000, "Pool size N.")
flags.DEFINE_integer("d", 512, "Embedding size D.")
flags.DEFINE_integer("c", 10, "Classes C.")
flags.DEFINE_integer("t", 10, "MC passes T.")
flags.DEFINE_integer("k", 1000, "Picks k.")
flags.DEFINE_integer("memory_n", 0, "If > 0, also run the memory check at this N.")
flags.DEFINE_string("only", "", "Comma-separated strategies to run (default: all).")
flags.DEFINE_bool("skip_reference", False, "Run the JAX implementations only.")
flags.DEFINE_bool("decisions", False, "Time AutoAL's 7 decisions against the model passes.")
flags.DEFINE_string("model", "small_cnn", "Task model for --decisions.")
flags.DEFINE_string("worker", "", "Internal: 'strategy:impl' to run in this process.")
FLAGS = flags.FLAGS

STRATEGIES = [
  "random",
  "least_confidence",
  "margin",
  "entropy",
  "var_ratio",
  "var_ratio_mc",
  "bald",
  "mean_std",
  "kcenter_greedy",
  "kmeans",
  "badge",
  "typiclust",
  "cluster_margin",
  "tailor",
  "albl",
  "probcover",
  "maxherding",
  "uherding",
  "dropquery",
  "dcom",
]
KMEANS_ITERS = 10
BANDIT_CANDIDATES = ("least_confidence", "margin", "entropy", "bald", "var_ratio_mc", "mean_std")


def _inputs(n, d, c, t, seed=0):
  import numpy as np

  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(50, d)).astype(np.float32) * 3
  embeddings = centres[rng.integers(0, 50, n)] + rng.normal(size=(n, d)).astype(np.float32)
  head = rng.normal(size=(d, c)).astype(np.float32) / np.sqrt(d)
  logits = embeddings @ head
  probs = np.exp(logits - logits.max(1, keepdims=True))
  probs /= probs.sum(1, keepdims=True)
  noisy = logits[None] + rng.normal(size=(t, n, c)).astype(np.float32)
  mc = np.exp(noisy - noisy.max(2, keepdims=True))
  mc /= mc.sum(2, keepdims=True)
  labeled = np.zeros(n, bool)
  labeled[rng.choice(n, n // 50, replace=False)] = True
  return embeddings, probs.astype(np.float32), mc.astype(np.float32), labeled


# ---------------------------------------------------------------------------- references


def _reference(name, embeddings, probs, mc, labeled, k):
  import numpy as np

  candidates = np.flatnonzero(~labeled)

  def top(scores):
    return candidates[np.argsort(-scores[candidates], kind="stable")[:k]]

  if name == "random":
    return np.random.default_rng(0).permutation(candidates)[:k]
  if name in ("least_confidence", "var_ratio"):
    return top(1 - probs.max(1))
  if name == "margin":
    s = np.sort(probs, axis=1)
    return top(-(s[:, -1] - s[:, -2]))
  if name == "entropy":
    return top(-(probs * np.log(probs + 1e-12)).sum(1))
  if name == "var_ratio_mc":
    votes = mc.argmax(2)
    counts = np.stack([(votes == c).sum(0) for c in range(mc.shape[2])], 1)
    return top(1 - counts.max(1) / mc.shape[0])
  if name == "bald":
    mean = mc.mean(0)
    return top(-(mean * np.log(mean + 1e-12)).sum(1) + (mc * np.log(mc + 1e-12)).sum(2).mean(0))
  if name == "mean_std":
    return top(mc.std(0).mean(1))
  if name == "kcenter_greedy":
    # DeepAL+'s KCenterGreedy: the full N x N distance matrix, filled in row blocks (one
    # 50k x 50k product segfaults numpy's bundled BLAS: 2.5e9 outputs overflow an int32).
    n = len(embeddings)
    sq = (embeddings * embeddings).sum(1)
    dist = np.empty((n, n), np.float32)
    for i in range(0, n, 4096):
      block = embeddings[i : i + 4096] @ embeddings.T
      dist[i : i + 4096] = sq[i : i + 4096, None] + sq[None, :] - 2 * block
    best = dist[:, labeled].min(1)
    taken = labeled.copy()
    picks = []
    for _ in range(k):
      j = int(np.argmax(np.where(taken, -np.inf, best)))
      picks.append(j)
      taken[j] = True
      best = np.minimum(best, dist[j])
    return np.asarray(picks)
  if name == "kmeans":
    from sklearn.cluster import KMeans

    x = embeddings[candidates]
    km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=KMEANS_ITERS, tol=0.0)
    assign = km.fit_predict(x)
    dis = ((x - km.cluster_centers_[assign]) ** 2).sum(1)
    picks = [
      np.flatnonzero(assign == i)[dis[assign == i].argmin()]
      for i in range(k)
      if (assign == i).any()
    ]
    return candidates[np.asarray(picks)]
  if name == "badge":
    # BADGE's code: the explicit gradient embedding and k-means++ on it.
    onehot = np.eye(probs.shape[1], dtype=np.float32)[probs.argmax(1)]
    g = ((probs - onehot)[:, :, None] * embeddings[:, None, :]).reshape(len(probs), -1)
    g_sq = (g * g).sum(1)
    x = g[candidates]
    x_sq = g_sq[candidates]
    first = int(np.argmax(x_sq))
    picks = [first]
    best = np.maximum(x_sq + x_sq[first] - 2 * x @ x[first], 0)
    rng = np.random.default_rng(0)
    while len(picks) < k:
      j = int(rng.choice(len(x), p=best / best.sum()))
      picks.append(j)
      best = np.minimum(best, np.maximum(x_sq + x_sq[j] - 2 * x @ x[j], 0))
    return candidates[np.asarray(picks)]
  if name == "typiclust":
    return _reference_typiclust(embeddings, labeled, k)
  if name == "cluster_margin":
    return _reference_cluster_margin(embeddings, probs, labeled, k)
  if name in ("probcover", "maxherding", "uherding"):
    return _reference_coverage(name, embeddings, probs, labeled, k)
  if name == "dropquery":
    return _reference_dropquery(embeddings, probs, mc, labeled, k)
  if name == "dcom":
    return _reference_dcom(embeddings, probs, labeled, k)
  if name in ("tailor", "albl"):
    lists = np.stack([_reference(c, embeddings, probs, mc, labeled, k) for c in BANDIT_CANDIDATES])
    return (_reference_tailor if name == "tailor" else _reference_albl)(lists, probs, labeled, k)
  raise ValueError(name)


def _reference_typiclust(embeddings, labeled, k):
  """The authors' TypiClust (scikit-learn k-means, nearest neighbours per cluster)."""
  import numpy as np
  from sklearn.cluster import KMeans
  from sklearn.neighbors import NearestNeighbors

  num_clusters = min(int(labeled.sum()) + k, 500)
  km = KMeans(n_clusters=num_clusters, n_init=1, max_iter=KMEANS_ITERS, tol=0.0)
  clusters = km.fit_predict(embeddings)
  sizes = np.bincount(clusters, minlength=num_clusters)
  existing = np.bincount(clusters[labeled], minlength=num_clusters)
  order = [c for c in np.lexsort((-sizes, existing)) if sizes[c] > 5]
  free = clusters.copy()
  free[labeled] = -1
  picks = []
  for i in range(k):
    c = order[i % len(order)]
    members = np.flatnonzero(free == c)
    knn = min(20, len(members) // 2)
    nn = NearestNeighbors(n_neighbors=knn + 1, metric="sqeuclidean").fit(embeddings[members])
    dist, _ = nn.kneighbors(embeddings[members])
    typicality = 1 / (dist[:, 1:].mean(1) + 1e-5)
    picks.append(members[np.argmax(typicality)])
    free[picks[-1]] = -1
  return np.asarray(picks)


def _reference_cluster_margin(embeddings, probs, labeled, k, multiple=10):
  import numpy as np
  from sklearn.cluster import KMeans

  s = np.sort(probs, axis=1)
  candidates = np.flatnonzero(~labeled)
  chosen = candidates[np.argsort((s[:, -1] - s[:, -2])[candidates])[: multiple * k]]
  x = embeddings[chosen]
  centres, best = [0], ((x - x[0]) ** 2).sum(1)
  for _ in range(1, k):
    centres.append(int(np.argmax(best)))
    best = np.minimum(best, ((x - x[centres[-1]]) ** 2).sum(1))
  km = KMeans(n_clusters=k, init=x[centres], n_init=1, max_iter=KMEANS_ITERS, tol=0.0)
  assign = km.fit_predict(x)
  sizes = np.bincount(assign, minlength=k)
  rng = np.random.default_rng(0)
  queues = [list(rng.permutation(chosen[assign == c])) for c in np.argsort(sizes, kind="stable")]
  picks = []
  while len(picks) < k:
    for q in queues:
      if q and len(picks) < k:
        picks.append(q.pop(0))
  return np.asarray(picks)


def _reference_coverage(name, embeddings, probs, labeled, k, subset=4096):
  """Greedy kernel coverage on a full S x S matrix (scikit-activeml's ProbCover and
  MaxHerding loops, the released UHerding code's), on a random subset of S candidates."""
  import numpy as np
  from sklearn.cluster import KMeans

  rng = np.random.default_rng(0)
  x = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
  candidates = np.flatnonzero(~labeled)
  chosen = np.sort(rng.choice(candidates, min(max(subset, 4 * k), len(candidates)), False))
  xs = x[chosen]
  sq = (xs * xs).sum(1)
  d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * xs @ xs.T, 0)
  xl = x[labeled]
  nearest = np.maximum(sq[:, None] + (xl * xl).sum(1)[None] - 2 * xs @ xl.T, 0).min(1)
  weights = np.ones(len(chosen))
  if name == "probcover":
    assign = KMeans(n_clusters=probs.shape[1], n_init=1, max_iter=KMEANS_ITERS).fit_predict(xs)
    other = np.where(assign[:, None] != assign[None], d2, np.inf).min(1)
    delta = 0.05
    for d in np.arange(0.05, 2.0001, 0.05):
      if (other > d * d).mean() < 0.95:
        break
      delta = d
    gram, m = (d2 <= delta * delta).astype(np.float32), (nearest <= delta * delta) * 1.0
  else:
    sigma = 1.0
    if name == "uherding":
      sql = (xl * xl).sum(1)
      dl = np.sqrt(np.maximum(sql[:, None] + sql[None, :] - 2 * xl @ xl.T, 0))
      np.fill_diagonal(dl, 0.0)
      sigma = dl[dl > 1e-3].min()
      top = np.sort(probs[chosen], axis=1)
      weights = 1 - (top[:, -1] - top[:, -2])
    gram, m = np.exp(-d2 / sigma**2), np.exp(-nearest / sigma**2)
  picks, free = [], np.ones(len(chosen), bool)
  for _ in range(k):
    gains = (weights[None] * np.maximum(gram - m[None], 0)).sum(1)
    j = int(np.argmax(np.where(free, gains, -np.inf)))
    picks.append(j)
    free[j] = False
    m = np.maximum(m, gram[j])
  return chosen[np.asarray(picks)]


def _reference_dropquery(embeddings, probs, mc, labeled, k):
  import numpy as np
  from sklearn.cluster import KMeans

  candidates = np.flatnonzero(~labeled)
  rate = (mc.argmax(2) != probs.argmax(1)[None]).mean(0)[candidates]
  keep = candidates[np.argsort(rate)[-max(int((rate > 0.5).sum()), k) :]]
  km = KMeans(n_clusters=k, n_init=1, max_iter=KMEANS_ITERS, tol=0.0)
  dist = km.fit_transform(embeddings[keep])
  picks = []
  for b in range(k):
    order = np.argsort(dist[:, b])
    picks.append(next(i for i in keep[order] if i not in picks))
  return np.asarray(picks)


def _reference_dcom(embeddings, probs, labeled, k, subset=4096):
  """One DCoM query from a fresh state as the released code runs it (DCoM.py's
  new_centroids_deltas, calculate_coverage, select_samples), NumPy on full matrices: |L| x N
  distances for the radii and the coverage, the S x S graph of the greedy step."""
  import numpy as np

  from autoal_jax.strategies import dcom

  x = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
  lab = np.flatnonzero(labeled)
  sq = (x * x).sum(1)
  dl = np.sqrt(np.maximum(sq[lab, None] + sq[None, :] - 2 * x[lab] @ x.T, 0))
  pseudo = probs.argmax(1)
  same = pseudo[None, :] == pseudo[lab][:, None]  # labels: the model's predictions

  def coverage(r):
    return np.mean(np.any(dl < r[:, None], axis=0))

  radii = np.full(len(lab), dcom.INITIAL_DELTA)
  threshold = 0.2 * coverage(radii) + 0.4
  low, high = np.zeros(len(lab)), np.full(len(lab), dcom.MAX_DELTA)
  for _ in range(dcom.search_steps()):
    mid = (low + high) / 2
    inside = dl < mid[:, None]
    size = inside.sum(1)
    purity = np.where(size > 0, (inside & same).sum(1) / np.maximum(size, 1), 0.0)
    ok = purity >= threshold
    low, high = np.where(ok, mid, low), np.where(ok, high, mid)
  radii = np.round((low + high) / 2, 2)
  share = coverage(radii)
  p = 1 + np.exp(-dcom.K_LOGISTIC * (1 - dcom.A_LOGISTIC))
  weight = p / (1 + np.exp(-dcom.K_LOGISTIC * (share - dcom.A_LOGISTIC)))
  avg = radii.mean()
  covered = np.any((dl < avg) & (dl < radii[:, None]), axis=0)
  rng = np.random.default_rng(0)
  candidates = np.flatnonzero(~labeled)
  chosen = np.sort(rng.choice(candidates, min(max(subset, 4 * k), len(candidates)), False))
  xs = x[chosen]
  d = np.sqrt(np.maximum(sq[chosen, None] + sq[chosen][None] - 2 * xs @ xs.T, 0))
  edges = d < avg
  edges[:, covered[chosen]] = False
  top = np.sort(probs[chosen], axis=1)
  margin = 1 - (top[:, -1] - top[:, -2])

  def minmax(v):
    span = v.max() - v.min()
    return (v - v.min()) / (span if span > 0 else 1.0)

  free, picks = np.ones(len(chosen), bool), []
  for _ in range(k):
    degree = edges.sum(1).astype(np.float64)
    score = weight * minmax(margin) + (1 - weight) * minmax(degree)
    j = int(np.argmax(np.where(free, score, -np.inf)))
    picks.append(j)
    free[j] = False
    edges[:, edges[j].copy()] = False
    margin[j] = 0
  return chosen[np.asarray(picks)]


def _reference_tailor(lists, probs, labeled, k):
  import numpy as np

  rng = np.random.default_rng(0)
  labels = probs.argmax(1)
  counts = np.maximum(np.bincount(labels[labeled], minlength=probs.shape[1]), 1).astype(float)
  counts[counts / labeled.sum() > 0.5] *= -1
  v = 1 / counts
  alpha = np.ones((len(lists), probs.shape[1]))
  taken, picks = set(), []
  for _ in range(k):
    theta = np.array([rng.dirichlet(a + 1) for a in alpha])
    arm = int(np.argmax(theta @ v))
    picks.append(next(i for i in lists[arm] if i not in taken))
    taken.add(picks[-1])
  return np.asarray(picks)


def _reference_albl(lists, probs, labeled, k):
  import numpy as np

  rng = np.random.default_rng(0)
  free = np.flatnonzero(~labeled)
  arms = len(lists) + 1
  p = np.full(arms, 1 / arms)
  arm = rng.choice(arms, p=p)
  chosen = lists[arm] if arm < len(lists) else rng.choice(free, k, replace=False)
  q = (lists[:, :, None] == chosen[None, None]).any(1).T @ p[:-1] + p[-1] * k / len(free)
  weight = np.zeros(len(labeled))
  weight[chosen] = 1 / q  # the importance weights the bandit keeps (timed, as in JAX)
  assert np.isfinite(weight).all()
  return chosen


# -------------------------------------------------------------------------------- JAX


def _jax_fn(name, k):
  import jax
  import jax.numpy as jnp

  from autoal_jax import strategies
  from autoal_jax.types import PoolOutputs

  def run(key, embeddings, probs, mc, labeled):
    outputs = PoolOutputs(probs, probs, embeddings, mc)
    if name in ("tailor", "albl"):
      return _bandit_query(name, key, outputs, labeled, k)
    if name == "uherding":  # the selection (T = 1); the calibration fit is a model's
      from autoal_jax.strategies import coverage, uherding

      weights = uherding.margin_uncertainty(jnp.log(probs), 1.0, labeled)
      # The loop passes the largest labeled set (Setup.max_labeled) as the capacity.
      capacity = int(labeled.shape[0]) // 50
      sigma = uherding.kernel_width(coverage.normalise(embeddings), labeled, capacity)
      return coverage.herding(key, embeddings, ~labeled, k, weights, sigma)
    if name == "dcom":  # one query from a fresh state (every labeled sample's radius searched)
      from autoal_jax.strategies import dcom

      labels = jnp.where(labeled, jnp.argmax(probs, -1), -1).astype(jnp.int32)
      radii = jnp.full(labeled.shape, -1.0, jnp.float32)
      return dcom.query(key, radii, embeddings, probs, labeled, labels, k)[0]
    return strategies.get_picker(name).pick(key, outputs, ~labeled, k)

  return jax.jit(run)


def _bandit_query(name, key, outputs, labeled, k):
  """One query of a bandit from its fresh state (labels: the model's own predictions)."""
  import jax.numpy as jnp

  from autoal_jax.strategies import albl, resolve, tailor

  n, c = outputs.probs.shape
  labels = jnp.where(labeled, jnp.argmax(outputs.probs, -1), -1).astype(jnp.int32)
  candidates = resolve(BANDIT_CANDIDATES)
  if name == "tailor":
    state = tailor.init(len(BANDIT_CANDIDATES), c, k)
    return tailor.query(state, key, outputs, labels, labeled, k, candidates)[1]
  state = albl.init(len(BANDIT_CANDIDATES) + 1, n, 10)
  return albl.query(state, key, outputs, labels, labeled, k, candidates)[1]


def _worker(spec: str):
  name, impl = spec.split(":")
  embeddings, probs, mc, labeled = _inputs(FLAGS.n, FLAGS.d, FLAGS.c, FLAGS.t)
  if impl == "jax":
    import jax

    args = [jax.device_put(x) for x in (embeddings, probs, mc, labeled)]
    jax.block_until_ready(args)
    base = memory.reset_peak()
    fn = _jax_fn(name, FLAGS.k)
    key = jax.random.key(0)
    start = time.perf_counter()
    jax.block_until_ready(fn(key, *args))
    first = time.perf_counter() - start
    times = []
    for i in range(3 if first < 20 else 1):
      start = time.perf_counter()
      picks = jax.block_until_ready(fn(jax.random.key(i + 1), *args))
      times.append(time.perf_counter() - start)
    seconds, compile_s = min(times), max(first - min(times), 0.0)
  else:
    base = memory.reset_peak()
    start = time.perf_counter()
    picks = _reference(name, embeddings, probs, mc, labeled, FLAGS.k)
    seconds, compile_s = time.perf_counter() - start, 0.0
  import numpy as np

  picks = np.asarray(picks)
  ok = len(set(picks.tolist())) == FLAGS.k and not labeled[picks].any()
  print(
    json.dumps(
      {"seconds": seconds, "compile": compile_s, "peak_mb": memory.peak_mb() - base, "ok": ok}
    )
  )


def _spawn(spec: str, n: int) -> dict:
  argv = [sys.executable, "-m", "benchmarks.strategies", f"--worker={spec}", f"--n={n}"]
  argv += [f"--d={FLAGS.d}", f"--c={FLAGS.c}", f"--t={FLAGS.t}", f"--k={FLAGS.k}"]
  out = subprocess.run(argv, capture_output=True, text=True)
  if out.returncode != 0:
    return {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:60]}
  return json.loads(out.stdout.strip().splitlines()[-1])


def _table(n: int, names: list[str], with_reference: bool) -> list[str]:
  lines = [
    f"N={n}, D={FLAGS.d}, C={FLAGS.c}, T={FLAGS.t}, k={FLAGS.k} (2% labeled)",
    f"{'strategy':<17} {'jax s':>8} {'compile s':>9} {'jax MB':>8} {'ref s':>8} {'ref MB':>8}"
    f" {'speed-up':>8} {'ok':>5}",
  ]
  for name in names:
    ours = _spawn(f"{name}:jax", n)
    ref = _spawn(f"{name}:ref", n) if with_reference else {}
    if "error" in ours:
      lines.append(f"{name:<17} error: {ours['error']}")
      continue
    ratio = ref["seconds"] / ours["seconds"] if "seconds" in ref else float("nan")
    ref_s = f"{ref['seconds']:8.3f}" if "seconds" in ref else f"{ref.get('error', '-')[:8]:>8}"
    ref_mb = f"{ref['peak_mb']:8.0f}" if "peak_mb" in ref else f"{'-':>8}"
    ok = "yes" if ours["ok"] and ref.get("ok", True) else "NO"
    lines.append(
      f"{name:<17} {ours['seconds']:8.3f} {ours['compile']:9.2f} {ours['peak_mb']:8.0f} "
      f"{ref_s} {ref_mb} {ratio:8.2f} {ok:>5}"
    )
    print(lines[-1], flush=True)
  return lines


def _decisions():
  """AutoAL's 7 candidates' decisions against the forward + MC passes that feed them."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  from autoal_jax import models, strategies, train
  from autoal_jax.types import DatasetInfo

  shape = (28, 28, 1) if FLAGS.model == "small_cnn" else (32, 32, 3)
  kwargs = {"embedding_dim": FLAGS.d} if FLAGS.model == "small_cnn" else {}
  model = models.get_model(FLAGS.model, FLAGS.c, **kwargs)
  info = DatasetInfo("synthetic", FLAGS.c, shape, (0.5,) * shape[2], (0.25,) * shape[2])
  trainer = train.Trainer(model, info, train.TrainConfig(eval_chunk=1000))
  state = trainer.init(jax.random.key(0))
  images = jnp.asarray(np.random.default_rng(0).integers(0, 256, (FLAGS.n, *shape)), jnp.uint8)
  mask = jnp.asarray(np.random.default_rng(1).random(FLAGS.n) > 0.02)
  names = strategies.resolve(strategies.AUTOAL_CANDIDATES)

  def passes(key):
    return trainer.pool_outputs(state, key, images, num_mc=FLAGS.t)

  decide = jax.jit(
    lambda key, outputs: strategies.decisions.decisions(names, key, outputs, mask, FLAGS.k)
  )

  def timed(fn):
    jax.block_until_ready(fn(jax.random.key(0)))  # compile
    start = time.perf_counter()
    jax.block_until_ready(fn(jax.random.key(1)))
    return time.perf_counter() - start

  t_passes = timed(passes)
  t_all = timed(lambda key: decide(key, passes(key)))
  print(f"model {FLAGS.model}, N={FLAGS.n}, T={FLAGS.t}, k={FLAGS.k}, devices {jax.devices()}")
  print(f"{'forward + MC passes':<32} {t_passes:8.2f} s")
  print(f"{'passes + 7 decisions':<32} {t_all:8.2f} s")
  print(f"{'ratio (target <= 1.2)':<32} {t_all / t_passes:8.2f}")


def main(argv):
  del argv
  if FLAGS.worker:
    return _worker(FLAGS.worker)
  if FLAGS.decisions:
    return _decisions()
  names = FLAGS.only.split(",") if FLAGS.only else STRATEGIES
  _table(FLAGS.n, names, not FLAGS.skip_reference)
  if FLAGS.memory_n:
    print()
    _table(FLAGS.memory_n, [n for n in names if n in ("kcenter_greedy", "badge")], False)


if __name__ == "__main__":
  app.run(main)
