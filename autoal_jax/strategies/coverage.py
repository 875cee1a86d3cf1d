"""Coverage strategies on embeddings: ProbCover, MaxHerding, Uncertainty Herding's greedy
step, and DropQuery.

ProbCover (Yehuda et al. 2022), MaxHerding (Bae, Noh & Sutherland 2024) and Uncertainty
Herding (Bae, Oliveira & Sutherland 2025) are one greedy algorithm with different kernels
and weights: pick, one at a time, the candidate c maximising

    gain(c) = sum_n w_n max(k(x_n, x_c) - m_n, 0),   m_n <- max(m_n, k(x_n, x_c)) after,

where m_n is how well point n is covered already (by the labeled set, then by the picks).
ProbCover: k = 1[|x - x'| <= delta] (a ball), w = 1, so the gain is the number of
uncovered points within delta. MaxHerding: k = exp(-(|x - x'| / sigma)^2), w = 1.
Uncertainty Herding: the same kernel, w_n the model's calibrated uncertainty (0 on labeled
points; `autoal_jax.strategies.uherding`). Features are L2-normalised first, as in the
papers' code, so distances lie in [0, 2].

Fixed shapes and bounded memory: the points n and candidates c are the unlabeled samples
of a random subset of S = max(``subset``, 4k) of them (all when the pool is smaller; the
released UHerding code subsamples the same way, to 35,000 on a GPU); the labeled samples
enter only through m, the subset's distances to them in chunks (O(S |L| D) time). The S x S
kernel of the subset is built once in row blocks (64 MB at the default S = 4,096, whatever
N is; never an N x N matrix), so each pick costs O(S^2). Ties (ProbCover's integer gains)
go to a uniformly random one of them, as in scikit-activeml.
"""

from __future__ import annotations

from collections.abc import Callable

import chex
import jax
import jax.numpy as jnp
import numpy as np

from autoal_jax.strategies import pickers, selection

_HIGHEST = jax.lax.Precision.HIGHEST

# The candidates (and covered points) a greedy coverage step works on: S.
DEFAULT_SUBSET = 4096
# ProbCover's radius grid on L2-normalised features, and the purity it must keep.
PROBCOVER_DELTAS = tuple(float(d) for d in np.round(np.arange(0.05, 2.0001, 0.05), 2))
PROBCOVER_ALPHA = 0.95
# MaxHerding's kernel width on L2-normalised features (the released code's default h).
MAXHERDING_SIGMA = 1.0


def normalise(x: jax.Array) -> jax.Array:
  """Rows scaled to unit L2 norm (a zero row stays zero). float32[N, D]."""
  x = x.astype(jnp.float32)
  return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def rbf(sigma) -> Callable[[jax.Array], jax.Array]:
  """The Gaussian kernel exp(-(d / sigma)^2) as a function of the squared distance d^2."""
  return lambda sq_dist: jnp.exp(-sq_dist / (sigma * sigma))


def two_scale_rbf(sigma, wide) -> Callable[[jax.Array], jax.Array]:
  """The mean of the Gaussian kernels of widths ``sigma`` and ``wide`` (`rbf`'s), as a
  function of the squared distance: coverage counted at two scales at once (the sum of
  two kernels, as multi-kernel MMD sums several), k(0) = 1 and non-increasing."""
  narrow, broad = rbf(sigma), rbf(wide)
  return lambda sq_dist: 0.5 * (narrow(sq_dist) + broad(sq_dist))


def ball(delta) -> Callable[[jax.Array], jax.Array]:
  """ProbCover's kernel 1[d <= delta] as a function of the squared distance."""
  return lambda sq_dist: (sq_dist <= delta * delta).astype(jnp.float32)


def subset_indices(key: jax.Array, mask: jax.Array, size: int) -> jax.Array:
  """int32[S], S = min(size, N): the samples a coverage step works on, in pool order.

  All of them (``arange(N)``) when N <= size; else ``size`` drawn uniformly among the
  samples of ``mask`` (padded with others, which the caller masks out, when fewer).
  """
  n = mask.shape[0]
  if size <= 0 or size >= n:
    return jnp.arange(n, dtype=jnp.int32)
  scores = jnp.where(mask, jax.random.uniform(key, (n,)), -1.0)
  return jnp.sort(jax.lax.top_k(scores, size)[1]).astype(jnp.int32)


def _pairwise(x: jax.Array, fn: Callable, rows: int, row_values: jax.Array | None = None):
  """``fn(d2, values)`` of each block of rows of the squared distances between all rows of
  x ([rows, S] at a time: the [S, S, D] broadcast never exists, nor, where fn reduces its
  rows, the [S, S] matrix). ``row_values`` [S] (default: the row index) is sliced along.

  Returns:
    fn's outputs for the S rows, stacked along the first axis.
  """
  s = x.shape[0]
  rows = max(1, min(rows, s))
  num_blocks = -(-s // rows)
  pad = num_blocks * rows - s
  sq = jnp.sum(x * x, axis=-1)
  padded = jnp.pad(x, ((0, pad), (0, 0)))
  padded_sq = jnp.pad(sq, (0, pad))
  values = jnp.arange(s, dtype=jnp.int32) if row_values is None else row_values
  padded_values = jnp.pad(values, (0, pad), constant_values=-1)

  def block(b):
    xb = jax.lax.dynamic_slice_in_dim(padded, b * rows, rows)
    sqb = jax.lax.dynamic_slice_in_dim(padded_sq, b * rows, rows)
    vb = jax.lax.dynamic_slice_in_dim(padded_values, b * rows, rows)
    d2 = sqb[:, None] + sq[None, :] - 2.0 * jnp.dot(xb, x.T, precision=_HIGHEST)
    return fn(jnp.maximum(d2, 0.0), vb)

  out = jax.lax.map(block, jnp.arange(num_blocks))
  return out.reshape(num_blocks * rows, *out.shape[2:])[:s]


def greedy_coverage(
  key: jax.Array,
  x: jax.Array,
  weights: jax.Array,
  coverage: jax.Array,
  pickable: jax.Array,
  k: int,
  kernel: Callable[[jax.Array], jax.Array],
  rows: int = 256,
) -> jax.Array:
  """Greedy maximisation of weighted kernel coverage (the module's docstring).

  The [S, S] kernel of the points is built once (in row blocks); each pick then costs
  O(S^2), not O(S^2 D).

  Args:
    key: PRNG key (random tie-breaking).
    x: float32[S, D], the points (normalised by the caller).
    weights: float32[S], w_n (0: point n does not count).
    coverage: float32[S], m_n before the first pick.
    pickable: bool[S], the candidates.
    k: the number of picks (static).
    kernel: k(d^2), non-increasing, with k(0) = 1.
    rows: rows per block of the kernel's construction (static).

  Returns:
    int32[k], indices into the S points in pick order; -1 in slots left when fewer than
    k are pickable.
  """
  chex.assert_rank([x, weights, coverage, pickable], [2, 1, 1, 1])
  s = x.shape[0]
  gram = _pairwise(x, lambda d2, _: kernel(d2), rows)

  def body(i, carry):
    m, taken, picks = carry
    gains = jnp.sum(weights[None, :] * jnp.maximum(gram - m[None, :], 0.0), axis=1)
    g = jnp.where(pickable & ~taken, gains, -jnp.inf)
    best = jnp.max(g)
    tie_break = jax.random.uniform(jax.random.fold_in(key, i), (s,))
    j = jnp.argmax(jnp.where(g == best, tie_break, -1.0)).astype(jnp.int32)
    ok = best > -jnp.inf
    m = jnp.where(ok, jnp.maximum(m, gram[j]), m)
    return m, taken.at[j].set(taken[j] | ok), picks.at[i].set(jnp.where(ok, j, -1))

  init = (coverage.astype(jnp.float32), jnp.zeros(s, bool), jnp.full(k, -1, jnp.int32))
  return jax.lax.fori_loop(0, k, body, init)[2]


def _coverage_pick(key, x, weights, labeled_mask, candidate_mask, k, kernel, subset, rows):
  """The subset, the labeled samples' coverage m, the greedy step; pool indices."""
  subset_key, tie_key = jax.random.split(key)
  index = subset_indices(subset_key, candidate_mask, max(subset, 4 * k))
  points = x[index]
  # m_n from the labeled samples: the kernel of the distance to the nearest one (every
  # kernel here decreases with distance), 0 where none is labeled; for the S points only.
  nearest = pickers.min_sq_dist_from(points, x, labeled_mask, 1024)
  finite = jnp.isfinite(nearest)
  covered = jnp.where(finite, kernel(jnp.where(finite, nearest, 0.0)), 0.0)
  live = candidate_mask[index]
  picks = greedy_coverage(
    tie_key, points, jnp.where(live, weights[index], 0.0), covered, live, k, kernel, rows
  )
  return jnp.where(picks >= 0, index[jnp.maximum(picks, 0)], -1)


def kmeans_assignments(key: jax.Array, x: jax.Array, num_clusters: int, num_iters: int = 10):
  """k-means (k-means++ seeding, Lloyd steps) of all rows of x: int32[S] cluster ids."""
  sq = jnp.sum(x * x, axis=-1)
  everyone = jnp.ones(x.shape[0], bool)
  seeds = pickers.kmeans_plus_plus(key, x, sq, everyone, num_clusters)
  centres = x[jnp.where(seeds < 0, seeds[0], seeds)]
  assignment, _ = pickers.lloyd(
    x, sq, centres, everyone, num_iters, pickers._default_chunk(num_clusters)
  )
  return assignment.astype(jnp.int32)


def purity(x: jax.Array, assignment: jax.Array, deltas: jax.Array, rows: int = 256):
  """ProbCover's purity of each radius: the fraction of points whose delta-ball holds no
  point of another cluster. float32[len(deltas)].

  A point is pure at delta iff its nearest point of another cluster is farther than delta,
  so one chunked pass over the pairs gives every delta at once.
  """
  chex.assert_rank([x, assignment, deltas], [2, 1, 1])

  def nearest_other(d2, block_assignment):
    return jnp.min(jnp.where(block_assignment[:, None] != assignment[None, :], d2, jnp.inf), 1)

  other = _pairwise(x, nearest_other, rows, assignment)
  return jnp.mean((other[None, :] > deltas[:, None] ** 2).astype(jnp.float32), axis=1)


def probcover_delta(
  key: jax.Array,
  x: jax.Array,
  num_classes: int,
  deltas=PROBCOVER_DELTAS,
  alpha: float = PROBCOVER_ALPHA,
  subset: int = DEFAULT_SUBSET,
) -> jax.Array:
  """ProbCover's radius: the largest delta of the ascending grid before the first whose
  purity (k-means with C clusters as the classes' stand-in) falls under ``alpha``; the
  smallest where none passes (Yehuda et al. 2022, section 4; as scikit-activeml). On a
  random subset of ``subset`` samples of the pool when it is larger."""
  cluster_key, subset_key = jax.random.split(key)
  index = subset_indices(subset_key, jnp.ones(x.shape[0], bool), subset)
  points = x[index]
  deltas = jnp.asarray(deltas, jnp.float32)
  assignment = kmeans_assignments(cluster_key, points, num_classes)
  ok = purity(points, assignment, deltas) >= alpha
  first_fail = jnp.where(jnp.all(ok), deltas.shape[0], jnp.argmin(ok))
  return deltas[jnp.maximum(first_fail - 1, 0)]


def probcover(
  key: jax.Array,
  embeddings: jax.Array,
  candidate_mask: jax.Array,
  k: int,
  num_classes: int,
  delta=None,
  subset: int = DEFAULT_SUBSET,
) -> jax.Array:
  """ProbCover (Yehuda, Dekel, Hacohen & Weinshall, NeurIPS 2022): greedy max coverage
  of delta-balls on L2-normalised embeddings, the labeled samples' balls covered already.

  Args:
    key: PRNG key (the radius's k-means, the subset, ties).
    embeddings: float[N, D].
    candidate_mask: bool[N], the unlabeled samples (the others count as labeled).
    k: picks (static).
    num_classes: C, the clusters of the purity criterion.
    delta: the radius; None: `probcover_delta`.
    subset: S (the module's docstring).

  Returns:
    int32[k], distinct indices inside the mask in pick order.
  """
  pickers._check(embeddings, candidate_mask, k)
  delta_key, pick_key = jax.random.split(key)
  x = normalise(embeddings)
  if delta is None:
    delta = probcover_delta(delta_key, x, num_classes, subset=subset)
  weights = jnp.ones(x.shape[0], jnp.float32)
  return _coverage_pick(
    pick_key, x, weights, ~candidate_mask, candidate_mask, k, ball(delta), subset, 256
  )


def herding(
  key: jax.Array,
  embeddings: jax.Array,
  candidate_mask: jax.Array,
  k: int,
  weights: jax.Array | None = None,
  sigma=MAXHERDING_SIGMA,
  subset: int = DEFAULT_SUBSET,
  labeled: jax.Array | None = None,
  wide=None,
  unit_norm: bool = True,
) -> jax.Array:
  """Kernel herding: MaxHerding (Bae, Noh & Sutherland, ECCV 2024) with ``weights`` None,
  Uncertainty Herding's greedy step (Bae, Oliveira & Sutherland, ICLR 2025) with the
  uncertainties as ``weights``. Gaussian kernel of width ``sigma`` on L2-normalised
  embeddings (``unit_norm``; the papers').

  Args:
    key: PRNG key (the subset, ties).
    embeddings: float[N, D].
    candidate_mask: bool[N], the unlabeled samples.
    k: picks (static).
    weights: float32[N], w_n; None: 1.
    sigma: the kernel width (a traced scalar is fine).
    subset: S.
    labeled: bool[N], the samples whose coverage counts as had (m); None: those outside
      ``candidate_mask``. Given, the candidates may be fewer than the unlabeled samples:
      the coverage measured and the picks are then both the candidates'.
    wide: a second width (a traced scalar is fine): the kernel is the mean of the
      Gaussians at ``sigma`` and at ``wide`` (`two_scale_rbf`); None: ``sigma``'s alone.
    unit_norm: False: distances on the embeddings as they are, not L2-normalised (static).

  Returns:
    int32[k], distinct indices inside the mask in pick order.
  """
  pickers._check(embeddings, candidate_mask, k)
  kernel = rbf(sigma) if wide is None else two_scale_rbf(sigma, wide)
  x = normalise(embeddings) if unit_norm else jnp.asarray(embeddings, jnp.float32)
  labeled = ~candidate_mask if labeled is None else labeled
  if weights is None:
    weights = jnp.ones(x.shape[0], jnp.float32)
  chex.assert_shape(weights, candidate_mask.shape)
  return _coverage_pick(
    key, x, weights.astype(jnp.float32), labeled, candidate_mask, k, kernel, subset, 256
  )


DROPQUERY_ROWS = 16  # x k: the disagreeing rows DropQuery's k-means clusters at most


def dropquery(
  key: jax.Array,
  embeddings: jax.Array,
  probs: jax.Array,
  mc_probs: jax.Array,
  candidate_mask: jax.Array,
  k: int,
  num: jax.Array | None = None,
) -> jax.Array:
  """DropQuery (Gupte, Shen, Bhowmick & Ye, TMLR 2024): the candidates whose prediction
  changes in more than half of the dropout passes, then k-means on their embeddings and
  the member nearest each centre. Where fewer than k disagree, the k with the highest
  disagreement rates (as scikit-activeml). The passes are the task model's MC dropout
  between embedding and head (at its rate; the paper drops 75% of the features).

  The k-means runs on the disagreeing rows gathered into ``DROPQUERY_ROWS`` x k slots
  (static; all of them where they fit, else that many drawn uniformly among them), not on
  the whole pool under a mask: its cost and memory follow the buffer, not N (the pool's
  N x k distances per Lloyd step were 2x scikit-learn's time at N = 50,000 and 1.4 GB at
  200,000; docs/benchmarks.md).

  Args:
    key: PRNG key (k-means seeding, ties).
    embeddings: float[N, D].
    probs: float[N, C].
    mc_probs: float[T, N, C], T >= 2 dropout passes.
    candidate_mask: bool[N].
    k: picks (static).
    num: a traced count n <= k (default k): the picks of a query of n, computed in shapes
      of k (slots from n on -1).

  Returns:
    int32[k], distinct indices inside the mask.
  """
  pickers._check(embeddings, candidate_mask, k)
  chex.assert_rank([probs, mc_probs], [2, 3])
  top_key, cluster_key, subset_key = jax.random.split(key, 3)
  prediction = jnp.argmax(probs, axis=-1)
  rate = jnp.mean((jnp.argmax(mc_probs, axis=-1) != prediction[None, :]).astype(jnp.float32), 0)
  disagree = candidate_mask & (rate > 0.5)
  count = k if num is None else num
  top = selection.top_k_masked(top_key, rate, candidate_mask, k, num=num)
  n = candidate_mask.shape[0]
  fallback = jnp.zeros(n, bool).at[jnp.where(top < 0, n, top)].set(True, mode="drop")
  pool = jnp.where(jnp.sum(disagree) >= count, disagree, fallback)
  rows = min(n, DROPQUERY_ROWS * k)
  if rows == n:
    return pickers.kmeans_sampling(cluster_key, embeddings, pool, k, num_clusters=num)
  # The pool's rows first (a uniform draw among them decides which where more than `rows`
  # disagree), then in index order so that ties still go to the lowest index.
  draw = jnp.where(pool, jax.random.uniform(subset_key, (n,)), 2.0)
  gathered = jnp.sort(jax.lax.top_k(-draw, rows)[1]).astype(jnp.int32)
  local = pickers.kmeans_sampling(
    cluster_key, embeddings[gathered], pool[gathered], k, num_clusters=num
  )
  return jnp.where(local >= 0, gathered[jnp.maximum(local, 0)], -1)
