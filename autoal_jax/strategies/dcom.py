"""DCoM, Dynamic Coverage & Margin mix (Mishal & Weinshall 2024, arXiv 2407.01804; code in
avihu111/TypiClust, ``deep-al/pycls/al/DCoM.py`` and ``tools/train_al.py``): ProbCover's
greedy coverage and margin sampling, mixed by a competence score that grows with how much
of the pool the labeled samples' pure balls cover.

Per query, as the released code does it (features L2-normalised, Euclidean distances):

1. **Radii.** Every labeled sample l has its own radius delta_l. A sample labeled since
   the last query (the whole initial set at the first) starts at the mean radius of the
   others, rounded to 0.01 (``INITIAL_DELTA`` when there are none); then, with the
   threshold t = 0.2 c + 0.4 (c: the coverage below), a binary search on [0,
   ``MAX_DELTA``] down to ``DELTA_RESOLUTION`` sets delta_l where its ball stays pure:
   the share of the points within delta_l (itself included) that the task model predicts
   as l's label is at least t (`new_radii`; the code's ``new_centroids_deltas``).
2. **Competence.** c = the share of the pool within some labeled sample's own radius;
   the competence is s = p / (1 + exp(-k (c - a))), p = 1 + exp(-k (1 - a)) (so s(1) =
   1), with k = 50 and a = 0.8 (the code's defaults): about 0 until 70% of the pool is
   covered, about 1 above 90%.
3. **Greedy step.** The graph x -> y where |x - y| < the mean radius, without the edges
   from labeled samples or into covered points (within min(delta_l, the mean radius) of
   a labeled l: the code looks for them among the graph's edges); each pick is the
   candidate with the largest s minmax(margin) + (1 - s) minmax(out-degree), margin =
   1 - (p1 - p2) min-max scaled over the pool (0 on labeled and picked samples); its
   neighbours are then covered (`greedy_mix`; the code's ``select_samples``).

The radii are the strategy's state across rounds (float32[N], -1 where there is none).
Fixed shapes and bounded memory as in `coverage`: the greedy step works on a random
subset of S = max(``subset``, 4k) candidates (all samples when the pool is smaller), the
labeled samples entering through the covered mask; the radii's search and the coverage
are chunked passes over the pool (two of them: the search's purity threshold needs the
coverage before the search, the competence and the greedy step share one after it). Where
the code differs only in what it cannot reach here: ties of the greedy score go to a
uniformly random candidate (the code's argsort takes some one of them, and could take a
labeled sample when every score is 0, which its own assertion then rejects); its binary
search's early exit on a purity exactly equal to the threshold (a float equality) is left
out.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp

from autoal_jax.strategies import base, coverage, pickers
from autoal_jax.types import Context, Needs, QueryInfo, Setup, Strategy

_HIGHEST = jax.lax.Precision.HIGHEST

MAX_DELTA = 1.1  # the code's MAX_DELTA (L2-normalised features: distances in [0, 2])
DELTA_RESOLUTION = 0.05  # the binary search stops once its interval is this narrow
INITIAL_DELTA = 0.6  # train_al.py's --initial_delta: the radius before any was searched
K_LOGISTIC = 50.0  # the competence's steepness (train_al.py's --k_logistic)
A_LOGISTIC = 0.8  # its centre (--a_logistic)
CHUNK = 64  # labeled samples per block of the radii's search and of the coverage


def search_steps(max_delta: float = MAX_DELTA, resolution: float = DELTA_RESOLUTION) -> int:
  """The binary search's iterations: halvings of [0, max_delta] until <= resolution."""
  return max(0, math.ceil(math.log2(max_delta / resolution))) if max_delta > resolution else 0


def competence(coverage_share, k: float = K_LOGISTIC, a: float = A_LOGISTIC):
  """s = p / (1 + exp(-k (c - a))), p = 1 + exp(-k (1 - a)), rounded to 0.001 as the
  code does. float32 scalar."""
  p = 1.0 + math.exp(-k * (1.0 - a))
  score = p / (1.0 + jnp.exp(-k * (jnp.asarray(coverage_share, jnp.float32) - a)))
  return jnp.round(score * 1000.0) / 1000.0


def purity_threshold(coverage_share):
  """The purity a new radius must keep: 0.2 c + 0.4 (the code's ``calc_threshold``)."""
  return 0.2 * coverage_share + 0.4


def _members(mask: jax.Array, chunk: int):
  """The indices of ``mask``'s samples first (in order), padded to a multiple of chunk,
  and their count."""
  n = mask.shape[0]
  members = jnp.argsort(jnp.logical_not(mask), stable=True).astype(jnp.int32)
  return jnp.pad(members, (0, -n % chunk)), jnp.sum(mask, dtype=jnp.int32)


def _distances(a: jax.Array, b: jax.Array) -> jax.Array:
  """Euclidean distances float32[A, B] between the rows of a and b."""
  d2 = (
    jnp.sum(a * a, -1)[:, None]
    + jnp.sum(b * b, -1)[None, :]
    - 2.0 * jnp.dot(a, b.T, precision=_HIGHEST)
  )
  return jnp.sqrt(jnp.maximum(d2, 0.0))


def covered_by_balls(x: jax.Array, labeled: jax.Array, radii: jax.Array, chunk: int = CHUNK):
  """bool[..., N]: the points within some labeled sample's own radius (|x_n - x_l| <
  r_l), for each row of ``radii`` (float32[..., N]: several sets of radii share one pass
  over the distances), chunked over the labeled samples: O(N |L| D) time, O(N chunk R)
  memory for R rows."""
  padded, count = _members(labeled, chunk)
  batch = radii.shape[:-1]

  def body(c, covered):
    index = jax.lax.dynamic_slice(padded, (c * chunk,), (chunk,))
    live = c * chunk + jnp.arange(chunk, dtype=jnp.int32) < count
    dist = _distances(x, x[index])  # [N, chunk]
    bound = jnp.where(live, radii[..., index], -1.0)  # [..., chunk]
    return covered | jnp.any(dist[(None,) * len(batch)] < bound[..., None, :], axis=-1)

  init = jnp.zeros((*batch, x.shape[0]), bool)
  return jax.lax.fori_loop(0, (count + chunk - 1) // chunk, body, init)


def new_radii(
  x: jax.Array,
  new: jax.Array,
  labels: jax.Array,
  pseudo: jax.Array,
  threshold,
  max_delta: float = MAX_DELTA,
  resolution: float = DELTA_RESOLUTION,
  chunk: int = CHUNK,
) -> jax.Array:
  """The binary search of each new labeled sample's radius (the code's
  ``new_centroids_deltas``): on [0, max_delta], a radius whose ball's purity (the share of
  the points within it, the sample itself included, predicted as its label; 0 for an
  empty ball) is under ``threshold`` halves the interval downwards, else upwards; the
  radius is the last midpoint, rounded to 0.01.

  Args:
    x: float32[N, D], the L2-normalised features.
    new: bool[N], the samples to search a radius for.
    labels: int32[N], their labels (read on ``new`` only).
    pseudo: int32[N], the task model's predicted class of every sample.
    threshold: the purity to keep (a scalar).

  Returns:
    float32[N], the radii on ``new``, 0 elsewhere.
  """
  padded, count = _members(new, chunk)
  steps = search_steps(max_delta, resolution)

  def body(c, radii):
    index = jax.lax.dynamic_slice(padded, (c * chunk,), (chunk,))
    live = c * chunk + jnp.arange(chunk, dtype=jnp.int32) < count
    dist = _distances(x[index], x)  # [chunk, N]
    same = pseudo[None, :] == labels[index][:, None]

    def purity(radius):
      inside = dist < radius[:, None]
      size = jnp.sum(inside, axis=1, dtype=jnp.float32)
      pure = jnp.sum(inside & same, axis=1, dtype=jnp.float32)
      return jnp.where(size > 0, pure / jnp.maximum(size, 1.0), 0.0)

    def halve(_, bounds):
      low, high = bounds
      mid = (low + high) / 2.0
      ok = purity(mid) >= threshold
      return jnp.where(ok, mid, low), jnp.where(ok, high, mid)

    zeros = jnp.zeros(chunk, jnp.float32)
    low, high = jax.lax.fori_loop(0, steps, halve, (zeros, zeros + max_delta))
    radius = jnp.round((low + high) / 2.0 * 100.0) / 100.0
    # The padding slots repeat sample 0: they write nowhere (index N, dropped).
    return radii.at[jnp.where(live, index, x.shape[0])].set(radius, mode="drop")

  init = jnp.zeros(x.shape[0], jnp.float32)
  return jax.lax.fori_loop(0, (count + chunk - 1) // chunk, body, init)


def _minmax(v: jax.Array) -> jax.Array:
  """sklearn's MinMaxScaler of one column: (v - min) / (max - min); v - min where the
  range is 0."""
  low, high = jnp.min(v), jnp.max(v)
  span = high - low
  return (v - low) / jnp.where(span > 0, span, 1.0)


def greedy_mix(
  key: jax.Array,
  points: jax.Array,
  margin: jax.Array,
  source: jax.Array,
  uncovered: jax.Array,
  pickable: jax.Array,
  radius,
  score_weight,
  k: int,
  rows: int = 256,
) -> jax.Array:
  """DCoM's greedy step on S points (the code's ``select_samples`` loop).

  Args:
    key: PRNG key (ties).
    points: float32[S, D], L2-normalised.
    margin: float32[S], 1 - (p1 - p2) min-max scaled, 0 on labeled samples.
    source: bool[S], the points whose out-edges count (the unlabeled ones).
    uncovered: bool[S], the points no labeled sample's ball covers.
    pickable: bool[S], the candidates.
    radius: the graph's radius (the mean of the labeled samples' radii).
    score_weight: the competence s.
    k: picks (static).
    rows: rows per block of the graph's construction (static).

  Returns:
    int32[k], indices into the S points in pick order; -1 in slots left when fewer than
    k are pickable.
  """
  chex.assert_rank([points, margin, source, uncovered, pickable], [2, 1, 1, 1, 1])
  s = points.shape[0]
  edges = coverage._pairwise(
    points, lambda d2, _: (jnp.sqrt(d2) < radius).astype(jnp.float32), rows
  )
  edges = edges * source[:, None].astype(jnp.float32)

  def body(i, carry):
    margin, uncovered, taken, picks = carry
    degree = edges @ uncovered.astype(jnp.float32)
    score = score_weight * _minmax(margin) + (1.0 - score_weight) * _minmax(degree)
    g = jnp.where(pickable & ~taken, score, -jnp.inf)
    best = jnp.max(g)
    tie_break = jax.random.uniform(jax.random.fold_in(key, i), (s,))
    j = jnp.argmax(jnp.where(g == best, tie_break, -1.0)).astype(jnp.int32)
    ok = best > -jnp.inf
    uncovered = jnp.where(ok, uncovered & (edges[j] == 0), uncovered)
    margin = jnp.where(ok, margin.at[j].set(0.0), margin)
    return margin, uncovered, taken.at[j].set(taken[j] | ok), picks.at[i].set(jnp.where(ok, j, -1))

  init = (margin.astype(jnp.float32), uncovered, jnp.zeros(s, bool), jnp.full(k, -1, jnp.int32))
  return jax.lax.fori_loop(0, k, body, init)[3]


def query(
  key: jax.Array,
  radii: jax.Array,
  embeddings: jax.Array,
  probs: jax.Array,
  labeled: jax.Array,
  labels: jax.Array,
  k: int,
  subset: int = coverage.DEFAULT_SUBSET,
):
  """One DCoM query.

  Args:
    key: PRNG key (the subset, ties).
    radii: float32[N], the labeled samples' radii so far (-1: none yet).
    embeddings: float[N, D], the distance space.
    probs: float32[N, C], the task model's probabilities.
    labeled: bool[N].
    labels: int32[N], the labels of the labeled samples.
    k: picks (static).
    subset: S (the module's docstring).

  Returns:
    (int32[k] picks, float32[N] the radii after this query's search, QueryInfo).
  """
  pickers._check(embeddings, ~labeled, k)
  x = coverage.normalise(embeddings)
  old = labeled & (radii >= 0)
  new = labeled & ~old
  old_mean = jnp.sum(jnp.where(old, radii, 0.0)) / jnp.maximum(jnp.sum(old, dtype=jnp.float32), 1.0)
  start = jnp.where(jnp.any(old), jnp.round(old_mean * 100.0) / 100.0, INITIAL_DELTA)
  radii = jnp.where(old, radii, jnp.where(new, start, -1.0))
  threshold = purity_threshold(jnp.mean(covered_by_balls(x, labeled, radii), dtype=jnp.float32))
  pseudo = jnp.argmax(probs, axis=-1).astype(jnp.int32)
  searched = new_radii(x, new, jnp.where(labeled, labels, 0), pseudo, threshold)
  radii = jnp.where(new, searched, radii)
  radius = jnp.sum(jnp.where(labeled, radii, 0.0)) / jnp.maximum(
    jnp.sum(labeled, dtype=jnp.float32), 1.0
  )
  radius = jnp.where(jnp.any(labeled), radius, INITIAL_DELTA)
  # The competence's coverage (own radii) and the greedy step's covered points in one pass:
  # the code finds the latter on the graph's edges (shorter than the mean radius), so a
  # labeled sample covers within min(its radius, the mean) there.
  own, covered = covered_by_balls(x, labeled, jnp.stack([radii, jnp.minimum(radii, radius)]))
  share = jnp.mean(own, dtype=jnp.float32)
  weight = competence(share)

  top2 = jax.lax.top_k(probs.astype(jnp.float32), 2)[0]
  margin = jnp.where(labeled, 0.0, _minmax(top2[:, 1] - top2[:, 0]))
  subset_key, tie_key = jax.random.split(key)
  index = coverage.subset_indices(subset_key, ~labeled, max(subset, 4 * k))
  live = ~labeled[index]
  picks = greedy_mix(
    tie_key, x[index], margin[index], live, ~covered[index], live, radius, weight, k
  )
  picks = jnp.where(picks >= 0, index[jnp.maximum(picks, 0)], -1)
  metrics = {"competence": weight, "coverage": share, "radius": radius, "threshold": threshold}
  return picks, radii, QueryInfo(metrics=metrics)


def strategy(setup: Setup) -> Strategy:
  """The ``dcom`` strategy: its state is the labeled samples' radii."""
  n = setup.num_pool

  def init(key, context: Context):
    del key, context
    return jnp.full(n, -1.0, jnp.float32)

  def query_fn(radii, key, context: Context, k: int):
    outputs = context.outputs
    picks, radii, info = query(
      key, radii, base.distance_space(outputs), outputs.probs, context.labeled, context.labels, k
    )
    return picks, radii, info

  return Strategy("dcom", init, query_fn, Needs(), DOC)


DOC = "ProbCover's coverage and margin mixed by a coverage competence (Mishal & Weinshall 2024)"
