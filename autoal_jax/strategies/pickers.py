"""Set-level pickers on embeddings: k-center greedy (core-set), k-means and BADGE.

Each picker takes the whole pool and a mask and returns k distinct int32 indices inside
the mask. All are jittable with a static k, keep fixed shapes and never hold a pool x
pool matrix: pairwise squared distances are taken in chunks of rows or centres,
``||x||^2 + ||c||^2 - 2 x.c``, clipped at 0 (float rounding can make it slightly
negative). Memory stays O(N * (D + chunk)).

Ties are broken deterministically: `jnp.argmax` / `jnp.argmin` take the lowest index;
random choices (k-means++ sampling) come from the key.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from autoal_jax.strategies import selection

_HIGHEST = jax.lax.Precision.HIGHEST  # distances, not features: keep float32 accuracy on TPU


def _default_chunk(n: int, budget: int = 1 << 24) -> int:
  """Columns per chunk so that an [n, chunk] float32 block stays near 64 MB."""
  return int(max(8, min(4096, budget // max(n, 1))))


def _sq_norms(x: jax.Array) -> jax.Array:
  return jnp.sum(x * x, axis=-1)


def _sq_dist_to(x: jax.Array, sq: jax.Array, c: jax.Array) -> jax.Array:
  """Squared distances of every row of x [N, D] to one point c [D] -> [N]."""
  return jnp.maximum(sq + jnp.sum(c * c) - 2.0 * jnp.dot(x, c, precision=_HIGHEST), 0.0)


def _check(embeddings, mask, k):
  chex.assert_rank([embeddings, mask], [2, 1])
  chex.assert_equal_shape_prefix([embeddings, mask], 1)
  selection.check_k(k, mask.shape[0])


def min_sq_dist_from(queries: jax.Array, x: jax.Array, set_mask: jax.Array, chunk: int):
  """Squared distance of each query row to its nearest member of a set of x's rows,
  chunked over the set (its members gathered in order): O(M |set| D) time, O(M chunk)
  memory. queries float[M, D], x float[N, D], set_mask bool[N] -> float32[M]; +inf
  everywhere when the set is empty."""
  x = x.astype(jnp.float32)
  queries = queries.astype(jnp.float32)
  n = x.shape[0]
  chunk = max(1, min(chunk, n))
  q_sq, x_sq = _sq_norms(queries), _sq_norms(x)
  members = jnp.argsort(jnp.logical_not(set_mask), stable=True).astype(jnp.int32)  # set first
  count = jnp.sum(set_mask, dtype=jnp.int32)
  padded = jnp.pad(members, (0, -n % chunk))

  def body(c, best):
    index = jax.lax.dynamic_slice(padded, (c * chunk,), (chunk,))
    live = c * chunk + jnp.arange(chunk, dtype=jnp.int32) < count
    d2 = (
      q_sq[:, None] + x_sq[index][None, :] - 2.0 * jnp.dot(queries, x[index].T, precision=_HIGHEST)
    )
    d2 = jnp.where(live[None, :], d2, jnp.inf)
    return jnp.minimum(best, jnp.min(d2, axis=1))

  init = jnp.full(queries.shape[0], jnp.inf, jnp.float32)
  best = jax.lax.fori_loop(0, (count + chunk - 1) // chunk, body, init)
  return jnp.maximum(best, 0.0)


def min_sq_dist_to_set(embeddings: jax.Array, set_mask: jax.Array, chunk: int | None = None):
  """Squared distance of every sample to its nearest member of a set, chunked over the set.

  Args:
    embeddings: float[N, D].
    set_mask: bool[N], the set (e.g. the labeled samples).
    chunk: set members per chunk (static); default keeps [N, chunk] near 64 MB.

  Returns:
    float32[N]; +inf everywhere when the set is empty.
  """
  chex.assert_rank([embeddings, set_mask], [2, 1])
  chunk = chunk or _default_chunk(embeddings.shape[0])
  return min_sq_dist_from(embeddings, embeddings, set_mask, chunk)


def kcenter_greedy(
  embeddings: jax.Array, labeled_mask: jax.Array, k: int, chunk: int | None = None
):
  """Farthest-first traversal from the labeled set: the core-set picker.

  Sener & Savarese 2018 (the greedy 2-approximation of k-center). Each step picks the
  unlabeled sample farthest from the labeled set and the picks so far; only the vector of
  distances to the nearest centre is kept (O(N) memory, never N x N).

  Args:
    embeddings: float[N, D].
    labeled_mask: bool[N]; the candidates are the unlabeled samples.
    k: the number of picks (static), at most the number of unlabeled samples.
    chunk: labeled samples per chunk when measuring the initial distances.

  Returns:
    int32[k], distinct unlabeled indices in pick order. Ties go to the lowest index; with
    an empty labeled set every distance is +inf and the first pick is the first candidate.
    If fewer than k samples are unlabeled the missing picks are -1 (see `registry.pick`).
  """
  _check(embeddings, labeled_mask, k)
  x = embeddings.astype(jnp.float32)
  sq = _sq_norms(x)
  candidates = jnp.logical_not(labeled_mask)
  best = min_sq_dist_to_set(x, labeled_mask, chunk)

  def body(i, carry):
    best, taken, picks = carry
    score = jnp.where(candidates & ~taken, best, -1.0)
    j = jnp.argmax(score).astype(jnp.int32)
    ok = score[j] >= 0.0
    best = jnp.minimum(best, _sq_dist_to(x, sq, x[j]))
    return best, taken.at[j].set(taken[j] | ok), picks.at[i].set(jnp.where(ok, j, -1))

  init = (best, jnp.zeros_like(candidates), jnp.full(k, -1, jnp.int32))
  return jax.lax.fori_loop(0, k, body, init)[2]


def _d2_seeding(key, first, dist_to, candidates, k):
  """k-means++ seeding (Arthur & Vassilvitskii 2007) from a given first centre.

  Each next centre is a free candidate drawn with probability proportional to its squared
  distance to the nearest centre so far; if every free candidate sits on a centre
  (duplicates), uniformly among them. Returns int32[k]; -1 in the slots left over when
  fewer than k samples are candidates (possible only under jit, where k is not checked).
  """
  taken = jnp.zeros_like(candidates).at[first].set(True)
  chosen = jnp.zeros(k, jnp.int32).at[0].set(first)

  def body(i, carry):
    best, taken, chosen = carry
    free = candidates & ~taken
    positive = free & (best > 0)
    weighted = jnp.where(positive, jnp.log(jnp.where(positive, best, 1.0)), -jnp.inf)
    logits = jnp.where(jnp.any(positive), weighted, jnp.where(free, 0.0, -jnp.inf))
    j = jax.random.categorical(jax.random.fold_in(key, i), logits).astype(jnp.int32)
    ok = jnp.any(free)
    best = jnp.where(ok, jnp.minimum(best, dist_to(j)), best)
    return best, taken.at[j].set(taken[j] | ok), chosen.at[i].set(jnp.where(ok, j, -1))

  return jax.lax.fori_loop(1, k, body, (dist_to(first), taken, chosen))[2]


def _assign(x, sq, centres, rows: int, active=None):
  """Nearest centre of every row, in chunks of rows: (int32[N], float32[N] squared dist).

  ``active`` (bool[k], optional) leaves the other centres out.
  """
  n = x.shape[0]
  c_sq = _sq_norms(centres)
  if active is not None:
    c_sq = jnp.where(active, c_sq, jnp.inf)
  padded = jnp.pad(x, ((0, -n % rows), (0, 0)))
  padded_sq = jnp.pad(sq, (0, -n % rows))

  def one(args):
    xb, sqb = args
    d2 = sqb[:, None] + c_sq[None, :] - 2.0 * jnp.dot(xb, centres.T, precision=_HIGHEST)
    return jnp.argmin(d2, axis=1).astype(jnp.int32), jnp.maximum(jnp.min(d2, axis=1), 0.0)

  num = padded.shape[0] // rows
  a, d = jax.lax.map(one, (padded.reshape(num, rows, -1), padded_sq.reshape(num, rows)))
  return a.reshape(-1)[:n], d.reshape(-1)[:n]


def lloyd(x, sq, centres, member_mask, num_iters: int, rows: int, active=None):
  """``num_iters`` Lloyd steps over the members from the given centres (an empty cluster
  keeps its centre), then every row's nearest centre.

  Args:
    x: float32[N, D]; sq: its squared row norms [N].
    centres: float32[k, D], the starting centres.
    member_mask: bool[N], the rows that move the centres (the others are only assigned).
    num_iters: Lloyd steps (static).
    rows: rows per chunk of the assignment (static).
    active: bool[k], the centres in use (None: all).

  Returns:
    (int32[N] the nearest active centre of every row, float32[N] its squared distance).
  """
  k = centres.shape[0]
  weights = member_mask.astype(jnp.float32)

  def step(_, centres):
    a, _ = _assign(x, sq, centres, rows, active)
    sums = jax.ops.segment_sum(x * weights[:, None], a, num_segments=k)
    counts = jax.ops.segment_sum(weights, a, num_segments=k)
    return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1.0)[:, None], centres)

  centres = jax.lax.fori_loop(0, num_iters, step, centres)
  return _assign(x, sq, centres, rows, active)


def kmeans_plus_plus(key, x, sq, candidate_mask, k: int):
  """k-means++ seeding over the candidates: int32[k] seed indices (-1: none left)."""
  first_key, seeding_key = jax.random.split(key)
  first = jax.random.categorical(first_key, jnp.where(candidate_mask, 0.0, -jnp.inf))
  return _d2_seeding(
    seeding_key, first.astype(jnp.int32), lambda j: _sq_dist_to(x, sq, x[j]), candidate_mask, k
  )


TIE_RTOL, TIE_ATOL = 1e-5, 1e-7  # `kmeans_sampling`: squared distances this close tie


def kmeans_sampling(
  key: jax.Array,
  embeddings: jax.Array,
  candidate_mask: jax.Array,
  k: int,
  num_iters: int = 10,
  rows: int | None = None,
  num_clusters: jax.Array | None = None,
):
  """k-means over the candidates; per cluster the member nearest its centre.

  k-means++ seeding, then ``num_iters`` Lloyd steps (fixed, so the shape and cost are
  static; an empty cluster keeps its centre). The picks are one per cluster, so they are
  distinct. If a cluster ends up with no member, its slot takes the free candidate
  farthest from its centre (the worst-served sample), in order of distance.

  Args:
    key: PRNG key for the seeding.
    embeddings: float[N, D].
    candidate_mask: bool[N], at least k candidates.
    k: the number of clusters and picks (static).
    num_iters: Lloyd steps.
    rows: pool rows per chunk of the assignment (static); default keeps [rows, k] small.
    num_clusters: a traced count n <= k (default k): k-means with n clusters computed in
      shapes of k, so that one compiled program serves every n; slots from n on are -1.
      The seeding draws its centres in order, so its first n equal an n-centre seeding.

  Returns:
    int32[k], distinct indices inside the mask; ties go to the lowest index. Under jit
    with fewer than k candidates the slots left over are -1.
  """
  _check(embeddings, candidate_mask, k)
  x = embeddings.astype(jnp.float32)
  n = x.shape[0]
  rows = rows or _default_chunk(k)
  sq = _sq_norms(x)
  seeds = kmeans_plus_plus(key, x, sq, candidate_mask, k)
  centres = x[jnp.where(seeds < 0, seeds[0], seeds)]  # a missing seed repeats the first
  active = None if num_clusters is None else jnp.arange(k) < num_clusters
  a, d = lloyd(x, sq, centres, candidate_mask, num_iters, rows, active)
  d = jnp.where(candidate_mask, d, jnp.inf)
  nearest = jax.ops.segment_min(d, a, num_segments=k)
  index = jnp.arange(n, dtype=jnp.int32)
  # Ties within float rounding (a two-member cluster's members are equidistant from its
  # centre, their computed distances a few ulps apart, which way depends on the compiled
  # shapes and the CPU) go to the lowest index too.
  is_best = candidate_mask & (d <= nearest[a] * (1.0 + TIE_RTOL) + TIE_ATOL)
  best = jax.ops.segment_min(jnp.where(is_best, index, n), a, num_segments=k)
  if active is not None:
    best = jnp.where(active, best, -1)
  empty = best >= n
  taken = jnp.zeros(n, bool).at[jnp.where(empty, n, best)].set(True, mode="drop")
  spare = jnp.where(candidate_mask & ~taken, d, -jnp.inf)
  spare_top, fill = jax.lax.top_k(spare, k)
  slot = jnp.clip(jnp.cumsum(empty) - 1, 0, k - 1)
  fill = jnp.where(spare_top[slot] > -jnp.inf, fill[slot], -1)  # none left: -1
  return jnp.where(empty, fill, best).astype(jnp.int32)


def badge(
  key: jax.Array, embeddings: jax.Array, probs: jax.Array, candidate_mask: jax.Array, k: int
):
  """BADGE: k-means++ seeding on gradient embeddings (Ash et al. 2020).

  The gradient embedding of sample i is ``g_i = a_i (x) e_i`` with ``a_i = p_i -
  onehot(argmax p_i)`` (the last layer's loss gradient under the predicted label). It is
  never formed: ``||g_i - g_j||^2 = |a_i|^2 |e_i|^2 + |a_j|^2 |e_j|^2 - 2 <a_i,a_j><e_i,e_j>``,
  so each step costs O(N (C + D)) and memory stays O(N (C + D)), not O(N C D). As in the
  authors' code, the first centre is the candidate with the largest gradient norm (ties:
  lowest index); the next ones are drawn with probability proportional to D^2.

  Args:
    key: PRNG key for the D^2 sampling.
    embeddings: float[N, D].
    probs: float[N, C].
    candidate_mask: bool[N], at least k candidates.
    k: the number of picks (static).

  Returns:
    int32[k], distinct indices inside the mask, in seeding order (-1 in the slots left
    over when, under jit, fewer than k samples are candidates).
  """
  _check(embeddings, candidate_mask, k)
  chex.assert_rank(probs, 2)
  chex.assert_equal_shape_prefix([embeddings, probs], 1)
  e = embeddings.astype(jnp.float32)
  a = probs.astype(jnp.float32) - jax.nn.one_hot(jnp.argmax(probs, -1), probs.shape[1])
  g_sq = _sq_norms(a) * _sq_norms(e)

  def dist_to(j):
    inner = jnp.dot(a, a[j], precision=_HIGHEST) * jnp.dot(e, e[j], precision=_HIGHEST)
    return jnp.maximum(g_sq + g_sq[j] - 2.0 * inner, 0.0)

  first = jnp.argmax(jnp.where(candidate_mask, g_sq, -jnp.inf)).astype(jnp.int32)
  return _d2_seeding(key, first, dist_to, candidate_mask, k)
