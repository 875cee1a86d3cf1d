"""Cluster-based pickers: TypiClust (typicality) and Cluster-Margin (margin + diversity).

Both are single strategies of the usual signature (``pick(key, outputs, candidate_mask,
k)``; the candidates are the unlabeled samples, the others count as labeled), jittable
with a static k, fixed shapes, and never an N x N matrix.

- `typiclust` (Hacohen, Dekel & Weinshall, ICML 2022, "Active learning on a budget"):
  k-means over the whole pool into min(|L| + k, 500) clusters; clusters of more than 5
  samples, ordered by fewest labeled members then largest size; from each in turn the most
  typical unlabeled member, typicality = 1 / (mean squared distance to its K nearest
  unlabeled cluster-mates + 1e-5), K = min(20, members // 2). The constants are the
  authors' (``MIN_CLUSTER_SIZE``, ``MAX_NUM_CLUSTERS``, ``K_NN``). The nearest neighbours are
  found within each cluster only (`typicality`: rows sorted by cluster, each block of rows
  compared with its clusters' columns), so the cost is the sum of squared cluster sizes,
  not N^2.
- `cluster_margin` (Citovsky et al., NeurIPS 2021, "Batch active learning at scale"): the
  k_m = 10 k lowest-margin candidates, clustered; clusters visited smallest first,
  round-robin, one uniformly random member per visit, until k are bought. The paper
  clusters the pool once with average-linkage HAC; that needs the N x N distances (80 GB at
  N = 200,000) and a fixed embedding, while ours change every round. The substitute:
  k-means with k clusters (farthest-first initialisation from the lowest-margin sample,
  then Lloyd steps) on the k_m margin candidates' embeddings, every round.

Differences from the authors' code, where it is silent or cannot run: a cluster with a
single unlabeled member left has typicality 1e5 (the authors' code would take a mean over
no neighbour); clusters whose unlabeled members are all bought are skipped, and when the
clusters of more than 5 samples have none left the small ones are visited in the same
order (the authors' code would fail), so that any k up to the number of candidates works.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from autoal_jax.strategies import pickers, scores, selection

_HIGHEST = jax.lax.Precision.HIGHEST

MAX_NUM_CLUSTERS = 500
MIN_CLUSTER_SIZE = 5
NUM_NEIGHBORS = 20
MARGIN_MULTIPLE = 10


def typicality(
  embeddings: jax.Array,
  clusters: jax.Array,
  members: jax.Array,
  num_clusters: int,
  num_neighbors: int = NUM_NEIGHBORS,
  rows: int = 256,
  cols: int = 1024,
) -> jax.Array:
  """TypiClust's typicality of every member within its cluster.

  t_i = 1 / (mean of the squared distances from i to its K_c nearest other members of
  its cluster c + 1e-5), K_c = min(num_neighbors, n_c // 2), n_c the members of c (squared
  distances, as the authors' faiss ``IndexFlatL2``). With K_c = 0 (a single member) the
  mean is 0: t = 1e5.

  The rows are sorted by cluster; each block of ``rows`` sorted rows is compared with the
  column blocks spanning its clusters only, keeping a running top-K: memory O(rows x cols),
  time O(sum_c n_c^2 D) plus one block per row block.

  Args:
    embeddings: float[N, D].
    clusters: int32[N] in [0, num_clusters).
    members: bool[N], the samples that count (neighbours and scored).
    num_clusters: the number of cluster ids (static).
    num_neighbors: K (static).
    rows, cols: block sizes (static).

  Returns:
    float32[N]: the typicality of the members, -inf elsewhere.
  """
  chex.assert_rank([embeddings, clusters, members], [2, 1, 1])
  x = embeddings.astype(jnp.float32)
  n, d = x.shape
  rows, cols = min(rows, n), min(cols, n)
  sort_key = jnp.where(members, clusters, num_clusters)  # non-members after every cluster
  order = jnp.argsort(sort_key, stable=True)
  n_rows = -(-n // rows) * rows
  pad = n_rows - n + cols
  cs = jnp.pad(sort_key[order], (0, pad), constant_values=num_clusters + 1)
  xs = jnp.pad(x[order], ((0, pad), (0, 0)))
  sq = jnp.sum(xs * xs, axis=1)
  start = jnp.searchsorted(cs, jnp.arange(num_clusters + 2), side="left").astype(jnp.int32)
  count = start[1 : num_clusters + 1] - start[:num_clusters]
  k_c = jnp.minimum(num_neighbors, count // 2)

  def block(i):
    r0 = i * rows
    index = r0 + jnp.arange(rows)
    rc = jax.lax.dynamic_slice(cs, (r0,), (rows,))
    xr, sqr = (
      jax.lax.dynamic_slice(xs, (r0, 0), (rows, d)),
      jax.lax.dynamic_slice(sq, (r0,), (rows,)),
    )
    is_member = rc < num_clusters
    first = jnp.minimum(rc[0], num_clusters)
    last = jnp.max(jnp.where(is_member, rc, -1))
    lo = start[first]
    hi = jnp.where(last >= 0, start[jnp.maximum(last, 0) + 1], lo)

    def column_block(j, best):
      c0 = lo + j * cols
      cc = jax.lax.dynamic_slice(cs, (c0,), (cols,))
      xc = jax.lax.dynamic_slice(xs, (c0, 0), (cols, d))
      sqc = jax.lax.dynamic_slice(sq, (c0,), (cols,))
      col = c0 + jnp.arange(cols)
      d2 = sqr[:, None] + sqc[None, :] - 2.0 * jnp.dot(xr, xc.T, precision=_HIGHEST)
      ok = (rc[:, None] == cc[None, :]) & (index[:, None] != col[None, :]) & (col < hi)[None, :]
      merged = jnp.concatenate([best, jnp.where(ok, jnp.maximum(d2, 0.0), jnp.inf)], axis=1)
      return -jax.lax.top_k(-merged, num_neighbors)[0]

    best = jnp.full((rows, num_neighbors), jnp.inf, jnp.float32)
    best = jax.lax.fori_loop(0, (hi - lo + cols - 1) // cols, column_block, best)
    k_row = jnp.where(is_member, k_c[jnp.clip(rc, 0, num_clusters - 1)], 0)
    used = jnp.arange(num_neighbors)[None, :] < k_row[:, None]
    mean = jnp.sum(jnp.where(used, best, 0.0), axis=1) / jnp.maximum(k_row, 1).astype(jnp.float32)
    return jnp.where(is_member, 1.0 / (mean + 1e-5), -jnp.inf)

  t_sorted = jax.lax.map(block, jnp.arange(n_rows // rows)).reshape(-1)[:n]
  return jnp.zeros(n, jnp.float32).at[order].set(t_sorted)


def _cluster_rank(existing: jax.Array, size: jax.Array) -> jax.Array:
  """Each cluster's position when sorted by fewest labeled members, then largest size,
  then id (the authors' ``sort_values(['existing_count', 'neg_cluster_size'])``)."""
  ids = jnp.arange(size.shape[0])
  perm = jnp.lexsort((ids, -size, existing))
  return jnp.zeros_like(ids).at[perm].set(ids)


def typiclust_select(
  embeddings: jax.Array,
  clusters: jax.Array,
  candidate_mask: jax.Array,
  k: int,
  num_clusters: int,
  num: jax.Array | None = None,
  min_cluster_size: int = MIN_CLUSTER_SIZE,
  num_neighbors: int = NUM_NEIGHBORS,
) -> jax.Array:
  """TypiClust's picks given the clustering of the pool.

  Passes over the clusters in `_cluster_rank` order (sizes and labeled counts of the whole
  pool, fixed for the query), taking the most typical remaining candidate of each cluster
  of more than ``min_cluster_size`` samples that has one; a pass recomputes the typicality
  without the samples bought so far (as the authors' loop does when it comes back to a
  cluster). Ties in typicality go to the lowest index.

  Args:
    embeddings: float[N, D].
    clusters: int32[N] in [0, num_clusters), the cluster of every pool sample.
    candidate_mask: bool[N], the unlabeled samples.
    k: picks (static).
    num_clusters: the number of cluster ids (static).
    num: a traced count n <= k of picks (default k); slots from n on are -1.
    min_cluster_size: clusters of at most this many samples are visited only when the
      others have no candidate left.
    num_neighbors: K of `typicality`.

  Returns:
    int32[k], distinct candidates in pick order; -1 in the slots left over when fewer
    candidates remain (possible only under jit).
  """
  chex.assert_rank([embeddings, clusters, candidate_mask], [2, 1, 1])
  selection.check_k(k, candidate_mask.shape[0])
  n = candidate_mask.shape[0]
  total = jnp.asarray(k if num is None else jnp.minimum(num, k), jnp.int32)
  ones = jnp.ones(n, jnp.int32)
  size = jax.ops.segment_sum(ones, clusters, num_segments=num_clusters)
  existing = jax.ops.segment_sum(
    (~candidate_mask).astype(jnp.int32), clusters, num_segments=num_clusters
  )
  rank = _cluster_rank(existing, size)
  big = size > min_cluster_size
  index = jnp.arange(n, dtype=jnp.int32)
  slots = jnp.arange(num_clusters)

  def go_on(carry):
    picked, _, count = carry
    return (count < total) & jnp.any(candidate_mask & ~picked)

  def one_pass(carry):
    picked, picks, count = carry
    member = candidate_mask & ~picked
    t = typicality(embeddings, clusters, member, num_clusters, num_neighbors)
    top = jax.ops.segment_max(jnp.where(member, t, -jnp.inf), clusters, num_segments=num_clusters)
    is_top = member & (t == top[clusters])
    best = jax.ops.segment_min(jnp.where(is_top, index, n), clusters, num_segments=num_clusters)
    has = best < n
    visit = jnp.where(jnp.any(has & big), has & big, has)
    ordered = jnp.argsort(jnp.where(visit, rank, num_clusters + rank))
    take = jnp.minimum(jnp.sum(visit), total - count)
    chosen = jnp.where(slots < take, best[ordered], n)
    picks = picks.at[jnp.where(slots < take, count + slots, k)].set(chosen, mode="drop")
    picked = picked.at[chosen].set(True, mode="drop")
    return picked, picks, count + take

  init = (jnp.zeros(n, bool), jnp.full(k, -1, jnp.int32), jnp.int32(0))
  return jax.lax.while_loop(go_on, one_pass, init)[1]


def typiclust(
  key: jax.Array,
  embeddings: jax.Array,
  candidate_mask: jax.Array,
  k: int,
  num: jax.Array | None = None,
  max_clusters: int = MAX_NUM_CLUSTERS,
  num_iters: int = 10,
):
  """TypiClust (Hacohen et al. 2022): the most typical samples of the uncovered clusters.

  k-means (k-means++ seeding from ``key``, ``num_iters`` Lloyd steps) over every pool
  sample into min(|L| + k, max_clusters, N) clusters, |L| = the non-candidates, then
  `typiclust_select`.

  Args:
    key: PRNG key (the k-means seeding).
    embeddings: float[N, D].
    candidate_mask: bool[N], the unlabeled samples.
    k: picks (static).
    num: a traced count n <= k (default k): |L| + n clusters, n picks, slots from n on -1.
    max_clusters: the cap on the number of clusters (static; the authors' 500).
    num_iters: Lloyd steps.

  Returns:
    int32[k] distinct candidates (-1 in slots left over under jit).
  """
  pickers._check(embeddings, candidate_mask, k)
  x = embeddings.astype(jnp.float32)
  n = x.shape[0]
  cap = min(max_clusters, n)
  wanted = k if num is None else num
  labeled = n - jnp.sum(candidate_mask, dtype=jnp.int32)
  count = jnp.clip(labeled + wanted, 1, cap)
  sq = pickers._sq_norms(x)
  everyone = jnp.ones(n, bool)
  seeds = pickers.kmeans_plus_plus(key, x, sq, everyone, cap)
  centres = x[jnp.where(seeds < 0, seeds[0], seeds)]
  active = jnp.arange(cap) < count
  clusters, _ = pickers.lloyd(
    x, sq, centres, everyone, num_iters, pickers._default_chunk(cap), active
  )
  return typiclust_select(x, clusters, candidate_mask, k, cap, num)


def farthest_first_kmeans(x, member_mask, num_clusters: int, count, num_iters: int = 10):
  """k-means with a deterministic start: farthest-first centres from the first member.

  Args:
    x: float32[M, D].
    member_mask: bool[M], the rows to cluster (the others get cluster ids but move nothing).
    num_clusters: centres (static).
    count: a traced number <= num_clusters of centres in use.
    num_iters: Lloyd steps.

  Returns:
    int32[M], the cluster of every row.
  """
  sq = pickers._sq_norms(x)
  first = jnp.argmax(member_mask).astype(jnp.int32)

  def add(i, carry):
    best, chosen = carry
    j = jnp.argmax(jnp.where(member_mask, best, -1.0)).astype(jnp.int32)
    return jnp.minimum(best, pickers._sq_dist_to(x, sq, x[j])), chosen.at[i].set(j)

  init = (pickers._sq_dist_to(x, sq, x[first]), jnp.full(num_clusters, first, jnp.int32))
  chosen = jax.lax.fori_loop(1, num_clusters, add, init)[1]
  active = jnp.arange(num_clusters) < count
  rows = pickers._default_chunk(num_clusters)
  return pickers.lloyd(x, sq, x[chosen], member_mask, num_iters, rows, active)[0]


def cluster_margin(
  key: jax.Array,
  embeddings: jax.Array,
  probs: jax.Array,
  candidate_mask: jax.Array,
  k: int,
  num: jax.Array | None = None,
  margin_multiple: int = MARGIN_MULTIPLE,
  num_iters: int = 10,
):
  """Cluster-Margin (Citovsky et al. 2021) with k-means in place of the pool's HAC.

  The k_m = margin_multiple k lowest-margin candidates (ties at random), clustered into k
  clusters (`farthest_first_kmeans`); clusters ordered by their number of margin
  candidates, smallest first (ties: cluster id, i.e. the order the centres were placed);
  round-robin over them, each visit buying a uniformly random member not bought yet.

  Args:
    key: PRNG key (margin ties and the members' order).
    embeddings: float[N, D].
    probs: float[N, C].
    candidate_mask: bool[N].
    k: picks (static).
    num: a traced count n <= k (default k): k_m = margin_multiple n, n clusters, n picks.
    margin_multiple: k_m / k (static).
    num_iters: Lloyd steps.

  Returns:
    int32[k] distinct candidates (-1 in slots left over under jit).
  """
  pickers._check(embeddings, candidate_mask, k)
  chex.assert_rank(probs, 2)
  n = candidate_mask.shape[0]
  k_m = min(margin_multiple * k, n)
  wanted = jnp.asarray(k if num is None else jnp.minimum(num, k), jnp.int32)
  tie_key, order_key = jax.random.split(key)
  num_m = None if num is None else jnp.minimum(margin_multiple * wanted, k_m)
  chosen = selection.top_k_masked(tie_key, scores.margin(probs), candidate_mask, k_m, num=num_m)
  valid = chosen >= 0
  safe = jnp.where(valid, chosen, 0)
  x = embeddings.astype(jnp.float32)[safe]
  count = jnp.minimum(wanted, jnp.sum(valid, dtype=jnp.int32))
  clusters = farthest_first_kmeans(x, valid, k, count, num_iters)
  size = jax.ops.segment_sum(valid.astype(jnp.int32), clusters, num_segments=k)
  cluster_pos = jnp.zeros(k, jnp.int32).at[jnp.lexsort((jnp.arange(k), size))].set(jnp.arange(k))
  u = jax.random.uniform(order_key, (n,))[safe]  # keyed by pool index: same for every k_m
  pos = jnp.where(valid, cluster_pos[clusters], k)
  by_cluster = jnp.lexsort((u, pos))  # members grouped by cluster position, random within
  group_start = jnp.searchsorted(pos[by_cluster], pos[by_cluster], side="left")
  within = jnp.zeros(k_m, jnp.int32).at[by_cluster].set(jnp.arange(k_m) - group_start)
  order = jnp.lexsort((pos, jnp.where(valid, within, k_m)))[:k]  # pass by pass
  slot = jnp.arange(k)
  return jnp.where(valid[order] & (slot < wanted), chosen[order], -1).astype(jnp.int32)
