"""TypiClust, Cluster-Margin, ALBL (libact's reward) and TAILOR: hand-computed values,
NumPy references of the authors' algorithms on random inputs, planted-arm bandit tests and
the bad inputs of the baselines issue."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import strategies
from autoal_jax.strategies import albl, clustering, tailor
from autoal_jax.types import PoolOutputs

# --------------------------------------------------------------------------- TypiClust


def test_typicality_by_hand():
  # One cluster {0, 1, 3, 10} on a line: K = min(20, 4 // 2) = 2 nearest, squared distances.
  # 0: (1 + 9) / 2 = 5; 1: (1 + 4) / 2 = 2.5; 3: (4 + 9) / 2 = 6.5; 10: (49 + 81) / 2 = 65.
  # A second cluster {100, 102} (K = 1) must not see the first; 7 is not a member.
  x = jnp.asarray([[0.0], [1.0], [3.0], [10.0], [100.0], [102.0], [7.0]], jnp.float32)
  clusters = jnp.asarray([0, 0, 0, 0, 1, 1, 0], jnp.int32)
  members = jnp.asarray([True] * 6 + [False])
  want = 1 / (np.array([5.0, 2.5, 6.5, 65.0, 4.0, 4.0]) + 1e-5)
  for rows, cols in ((256, 1024), (2, 3), (1, 1)):  # block sizes change nothing
    t = np.asarray(clustering.typicality(x, clusters, members, 2, rows=rows, cols=cols))
    np.testing.assert_allclose(t[:6], want, rtol=1e-5)
    assert t[6] == -np.inf
  # A single member: no neighbour, mean 0, typicality 1e5.
  alone = clustering.typicality(x, clusters, jnp.arange(7) == 4, 2)
  assert float(alone[4]) == pytest.approx(1e5)


def _reference_typicality(feats, num_neighbors):
  """The authors' ``calculate_typicality``: mean squared distance to the K nearest (self
  dropped); K = 0 (one sample) gives 1e5 here, as ours."""
  d2 = ((feats[:, None] - feats[None]) ** 2).sum(-1)
  if num_neighbors == 0:
    return np.full(len(feats), 1e5)
  nearest = np.sort(d2, axis=1)[:, 1 : num_neighbors + 1]
  return 1 / (nearest.mean(1) + 1e-5)


def _reference_typiclust(feats, clusters, labeled, budget, num_clusters):
  """The authors' ``TypiClust.select_samples`` given the clusters, with our documented
  fallback (skip clusters with no candidate left; small ones when the big ones are out)."""
  labels = clusters.copy()
  sizes = np.bincount(clusters, minlength=num_clusters)
  existing = np.bincount(clusters[labeled], minlength=num_clusters)
  ids = np.arange(num_clusters)
  order = sorted(ids, key=lambda c: (existing[c], -sizes[c], c))
  labels[labeled] = -1
  selected = []
  while len(selected) < budget:
    left = [c for c in order if (labels == c).any()]
    visit = [c for c in left if sizes[c] > clustering.MIN_CLUSTER_SIZE] or left
    for c in visit[: budget - len(selected)]:
      indices = np.flatnonzero(labels == c)
      typ = _reference_typicality(feats[indices], min(20, len(indices) // 2))
      selected.append(indices[np.argmax(typ)])
    for i in selected:
      labels[i] = -1
  return selected


@pytest.mark.parametrize("seed", range(3))
def test_typiclust_select_matches_the_authors_loop(seed):
  rng = np.random.RandomState(seed)
  n, num_clusters = 150, 9
  x = rng.randn(n, 4).astype(np.float32)
  clusters = rng.randint(0, num_clusters, n)
  clusters[rng.rand(n) < 0.3] = 0  # one large cluster, several passes over the others
  labeled = rng.rand(n) < 0.15
  for budget in (4, 12, 30):  # fewer, more, many more picks than clusters
    got = clustering.typiclust_select(
      jnp.asarray(x), jnp.asarray(clusters, jnp.int32), jnp.asarray(~labeled), budget, num_clusters
    )
    want = _reference_typiclust(x, clusters, labeled, budget, num_clusters)
    assert np.asarray(got).tolist() == [int(i) for i in want], budget


def test_typiclust_takes_the_most_typical_sample_of_each_uncovered_blob(key):
  # Six tight blobs of 12; blobs 0-2 hold a labeled sample. |L| + k = 3 + 3 = 6 clusters
  # (the blobs, with k-means++ almost surely); the picks: the most typical of blobs 3, 4, 5.
  rng = np.random.RandomState(0)
  centres = np.array([[0, 0], [20, 0], [0, 20], [20, 20], [40, 0], [0, 40]], np.float32)
  blob = np.repeat(np.arange(6), 12)
  x = centres[blob] + 0.1 * rng.randn(72, 2).astype(np.float32)
  labeled = np.zeros(72, bool)
  labeled[[1, 13, 25]] = True
  picks = np.asarray(strategies.typiclust(key, jnp.asarray(x), jnp.asarray(~labeled), 3))
  assert sorted(blob[picks].tolist()) == [3, 4, 5]
  for b in (3, 4, 5):
    members = np.flatnonzero(blob == b)
    assert members[np.argmax(_reference_typicality(x[members], 6))] in picks


# ---------------------------------------------------------------------- Cluster-Margin


def test_cluster_margin_by_hand():
  # Margins: samples 0-3 are the four most uncertain (k = 2, k_m = 2 x 2 = 4); 0, 1, 2 sit
  # together, 3 far away: two clusters, {3} (size 1) visited first, then one of {0, 1, 2}.
  probs = np.tile(np.array([[0.9, 0.1]], np.float32), (8, 1))
  probs[:4] = [[0.5, 0.5], [0.52, 0.48], [0.54, 0.46], [0.56, 0.44]]
  x = np.zeros((8, 2), np.float32)
  x[:3] = [[0, 0], [0.1, 0], [0, 0.1]]
  x[3] = [50, 50]
  x[4:] = [[10, 0], [0, 10], [-10, 0], [0, -10]]
  seconds = set()
  for seed in range(12):
    picks = clustering.cluster_margin(
      jax.random.key(seed),
      jnp.asarray(x),
      jnp.asarray(probs),
      jnp.ones(8, bool),
      2,
      margin_multiple=2,
    )
    picks = np.asarray(picks).tolist()
    assert picks[0] == 3 and picks[1] in (0, 1, 2)
    seconds.add(picks[1])
  assert seconds == {0, 1, 2}  # a uniformly random member, not a fixed one


def _reference_cluster_margin(x, probs, mask, k, u, margin_multiple=10, num_iters=10):
  """Cluster-Margin with our substitute clustering, written plainly in NumPy."""
  s = np.sort(probs, axis=1)
  margin = s[:, -1] - s[:, -2]
  cand = np.flatnonzero(mask)
  k_m = min(margin_multiple * k, len(mask))
  chosen = cand[np.argsort(margin[cand], kind="stable")[:k_m]]
  xm = x[chosen].astype(np.float64)
  centres = [0]
  best = ((xm - xm[0]) ** 2).sum(1)
  for _ in range(1, k):
    j = int(np.argmax(best))
    centres.append(j)
    best = np.minimum(best, ((xm - xm[j]) ** 2).sum(1))
  c = xm[centres]
  for _ in range(num_iters + 1):
    assign = ((xm[:, None] - c[None]) ** 2).sum(-1).argmin(1)
    for i in range(k):
      if (assign == i).any():
        c[i] = xm[assign == i].mean(0)
  sizes = np.bincount(assign, minlength=k)
  order = sorted([i for i in range(k) if sizes[i] > 0], key=lambda i: (sizes[i], i))
  queues = [list(chosen[assign == i][np.argsort(u[chosen[assign == i]])]) for i in order]
  picks = []
  while len(picks) < k:
    for q in queues:
      if q and len(picks) < k:
        picks.append(q.pop(0))
  return picks


@pytest.mark.parametrize("seed", range(3))
def test_cluster_margin_matches_a_numpy_reference(seed):
  rng = np.random.RandomState(seed)
  n, k = 300, 6
  x = (rng.randn(n, 3) + 4 * rng.randint(0, 3, (n, 1))).astype(np.float32)
  probs = np.asarray(jax.nn.softmax(jnp.asarray(rng.randn(n, 4) * 2, jnp.float32)))
  mask = rng.rand(n) < 0.8
  key = jax.random.key(seed)
  got = clustering.cluster_margin(key, jnp.asarray(x), jnp.asarray(probs), jnp.asarray(mask), k)
  u = np.asarray(jax.random.uniform(jax.random.split(key)[1], (n,)))
  assert np.asarray(got).tolist() == [
    int(i) for i in _reference_cluster_margin(x, probs, mask, k, u)
  ]


def test_cluster_margin_with_fewer_margin_candidates_than_clusters(key):
  # 5 candidates, k = 5: k_m = 5 points in 5 clusters, every candidate bought once.
  x = jnp.asarray(np.random.RandomState(0).randn(20, 3), jnp.float32)
  probs = jax.nn.softmax(x[:, :2], -1)
  mask = jnp.arange(20) < 5
  picks = np.asarray(strategies.pick("cluster_margin", key, PoolOutputs(x, probs, x), mask, 5))
  assert sorted(picks.tolist()) == [0, 1, 2, 3, 4]


# ------------------------------------------------------------------------------ ALBL


def test_albl_reward_and_update_by_hand():
  # Pool of 6, R = 4 queries, 3 arms: pmin = min(sqrt(log 3 / 12), 1 / 6) = 1 / 6.
  state = albl.init(3, 6, 4)
  assert float(albl.min_prob(3, state.horizon)) == pytest.approx(1 / 6)
  # Queried: 2 and 3 at q = 0.5 (W = 2), 4 at q = 0.25 (W = 4); 0 and 1 initial (W = 0).
  weight = jnp.asarray([0, 0, 2, 2, 4, 0], jnp.float32)
  correct = jnp.asarray([True, False, True, False, True, True])
  value = float(albl.reward(correct, weight, state.horizon))
  assert value == pytest.approx((2 + 4) / (6 * 4))  # = 0.25
  probs = np.array([0.5, 0.3, 0.2], np.float32)
  state = state._replace(weight=weight, probs=jnp.asarray(probs), arm=jnp.int32(1))
  new = albl.update(state, jnp.float32(value))
  rhat = np.array([0, value / 0.3, 0])
  bonus = math.sqrt(math.log(3 / 0.1) / (3 * 4)) / probs
  np.testing.assert_allclose(new.log_weights, (1 / 6) / 2 * (rhat + bonus), rtol=1e-5)
  w = np.exp(np.asarray(new.log_weights))
  np.testing.assert_allclose(
    albl.probabilities(new.log_weights, jnp.float32(1 / 6)), 0.5 * w / w.sum() + 1 / 6, rtol=1e-5
  )
  # Before the first draw nothing moves.
  fresh = albl.init(3, 6, 4)
  np.testing.assert_array_equal(albl.update(fresh, jnp.float32(1.0)).log_weights, 0.0)
  # pmin is libact's sqrt(log A / (A R)) when that is below 1 / (2 A).
  assert float(albl.min_prob(3, jnp.float32(400))) == pytest.approx(math.sqrt(math.log(3) / 1200))


def test_albl_bought_probability_by_hand():
  # Arms 0, 1 propose [0, 1] and [1, 2]; the random arm (p 0.2) buys 2 of 4 free samples.
  lists = jnp.asarray([[0, 1], [1, 2]], jnp.int32)
  probs = jnp.asarray([0.5, 0.3, 0.2], jnp.float32)
  q = albl.bought_probability(lists, probs, jnp.asarray([1, 2], jnp.int32), jnp.int32(4))
  np.testing.assert_allclose(q, [0.5 + 0.3 + 0.1, 0.3 + 0.1], rtol=1e-6)


def _outputs(n=120, c=4, seed=0):
  keys = jax.random.split(jax.random.key(seed), 2)
  logits = jax.random.normal(keys[0], (n, c)) * 2
  emb = jax.random.normal(keys[1], (n, 5))
  return PoolOutputs(logits, jax.nn.softmax(logits, -1), emb)


def test_albl_query_buys_the_drawn_arms_picks_with_their_weights(key):
  outputs = _outputs()
  labels = jnp.asarray(np.random.RandomState(0).randint(0, 4, 120), jnp.int32)
  labeled = jnp.arange(120) < 12
  candidates = strategies.resolve(("entropy", "kmeans"))
  query = jax.jit(lambda s, key, mask: albl.query(s, key, outputs, labels, mask, 8, candidates))
  state = albl.init(3, 120, 5)
  # The arms' own picks jitted too: k-means compiled otherwise can round differently.
  pick_lists = jax.jit(lambda key, mask: strategies.pick_lists(candidates, key, outputs, mask, 8))
  drawn = set()
  for seed in range(6):
    key = jax.random.key(seed)
    new, picks, probs, value = query(state, key, labeled)
    picks = np.asarray(picks)
    assert len(set(picks.tolist())) == 8 and not np.asarray(labeled)[picks].any()
    arm = int(new.arm)
    _, pick_key, random_key = jax.random.split(key, 3)
    lists = pick_lists(pick_key, ~labeled)
    every = np.concatenate([lists, strategies.random_sampling(random_key, ~labeled, 8)[None]])
    np.testing.assert_array_equal(picks, every[arm])
    q = albl.bought_probability(lists, probs, jnp.asarray(picks), jnp.sum(~labeled))
    np.testing.assert_allclose(np.asarray(new.weight)[picks], 1 / np.asarray(q), rtol=1e-6)
    assert (float(value) > 0) == (seed > 0)
    drawn.add(arm)
    state, labeled = new, labeled.at[picks].set(True)
  assert len(drawn) >= 2 and query._cache_size() == 1


def _planted_pool(n, seed):
  """Even samples: least confidence ranks them first (p = .4/.3/.3); odd: margin does
  (p = .5/.5/0). Returns base probabilities and the even mask."""
  even = np.arange(n) % 2 == 0
  probs = np.where(even[:, None], [0.4, 0.3, 0.3], [0.5, 0.5, 0.0]).astype(np.float32)
  emb = np.random.RandomState(seed).normal(size=(n, 4)).astype(np.float32)
  return probs, emb, even


def test_albl_moves_towards_a_planted_better_arm():
  # Least confidence buys even samples; margin and random buy odd ones, which "poison" the
  # next model: it is then wrong on every queried sample (reward 0), right after a clean
  # batch. Over 60 queries the bandit must favour least confidence in every seed.
  n, k, rounds = 600, 5, 60
  candidates = strategies.resolve(("least_confidence", "margin"))
  query = jax.jit(lambda s, key, o, lab, mask: albl.query(s, key, o, lab, mask, k, candidates))
  finals = []
  for seed in range(6):
    base, emb, even = _planted_pool(n, seed)
    labeled = np.zeros(n, bool)
    labeled[np.random.RandomState(seed).choice(n, 20, replace=False)] = True
    state, poisoned = albl.init(3, n, rounds), False
    for r in range(rounds):
      probs = base.copy()
      probs[labeled] = [0, 1, 0] if poisoned else [1, 0, 0]  # every label is 0
      outputs = PoolOutputs(jnp.asarray(probs), jnp.asarray(probs), jnp.asarray(emb))
      known = jnp.where(jnp.asarray(labeled), 0, -1).astype(jnp.int32)
      state, picks, p, _ = query(state, jax.random.key(100 * seed + r), outputs, known, labeled)
      labeled[np.asarray(picks)] = True
      poisoned = not even[np.asarray(picks)].all()
    finals.append(np.asarray(p))
  finals = np.asarray(finals)
  assert (finals[:, 0] > finals[:, 1]).all() and (finals[:, 0] > finals[:, 2]).all()
  assert finals[:, 0].min() > 0.38, finals  # from 1 / 3


# ---------------------------------------------------------------------------- TAILOR


def test_tailor_class_weights_by_hand():
  labels = jnp.asarray([0, 0, 0, 1, -1, -1], jnp.int32)
  labeled = labels >= 0
  # Counts (3, 1, 0) of 4: class 0 holds more than half -> -1/3; 1 -> 1; unseen 2 -> 1.
  np.testing.assert_allclose(tailor.class_weights(labels, labeled, 3), [-1 / 3, 1, 1], rtol=1e-6)
  # One class only: it is worth -1 / |L|, every other class 1.
  only = jnp.asarray([2, 2, 2, 2, -1, -1], jnp.int32)
  np.testing.assert_allclose(tailor.class_weights(only, only >= 0, 3), [1, 1, -1 / 4], rtol=1e-6)


def test_tailor_update_by_hand():
  state = tailor.init(2, 3, 3)
  state = state._replace(
    picks=jnp.asarray([5, 6, -1], jnp.int32),
    arms=jnp.asarray([0, 1, 0], jnp.int32),
    value=jnp.asarray([-1 / 3, 1, 1], jnp.float32),
  )
  labels = jnp.full(8, -1, jnp.int32).at[5].set(2).at[6].set(0)
  new, last = tailor.update(state, labels)
  np.testing.assert_allclose(new.alpha, [[0.9, 0.9, 1.9], [1.9, 0.9, 0.9]], rtol=1e-6)
  assert float(last) == pytest.approx((1 - 1 / 3) / 2)
  # Before the first batch: unchanged, no reward.
  fresh, none = tailor.update(tailor.init(2, 3, 3), labels)
  np.testing.assert_array_equal(fresh.alpha, 1.0)
  assert np.isnan(float(none))


def test_tailor_fill_takes_each_arms_next_free_pick(key):
  rng = np.random.RandomState(0)
  lists = jnp.asarray([rng.permutation(12)[:6] for _ in range(3)], jnp.int32)
  alpha = jnp.asarray(rng.rand(3, 4) * 3, jnp.float32)
  value = jnp.asarray([1.0, -0.5, 0.25, 1.0], jnp.float32)
  picks, arms = tailor.fill(key, lists, alpha, value, 12)
  picks, arms = np.asarray(picks), np.asarray(arms)
  assert len(set(picks.tolist())) == 6
  for j in range(6):
    mine = [i for i in np.asarray(lists)[arms[j]] if i not in picks[:j]]
    assert picks[j] == mine[0]
  # Lists that run out (-1, only under jit) leave -1, never a repeated pick.
  short = jnp.asarray([[0, -1, -1], [0, 1, -1]], jnp.int32)
  picks, _ = tailor.fill(key, short, jnp.ones((2, 4)), value, 12)
  assert sorted(np.asarray(picks).tolist()) == [-1, 0, 1]


def test_tailor_moves_to_the_arm_that_finds_the_rare_class():
  # Even samples are class 1 (rare: 3 of 200 labeled), odd ones class 0; least confidence
  # buys even samples, margin odd ones. The class-diversity reward must move the slots to
  # least confidence within a few batches.
  n, k = 1000, 10
  candidates = strategies.resolve(("least_confidence", "margin"))
  query = jax.jit(lambda s, key, o, lab, mask: tailor.query(s, key, o, lab, mask, k, candidates))
  shares = []
  for seed in range(4):
    base, emb, even = _planted_pool(n, seed)
    truth = jnp.asarray(even.astype(np.int32))
    labeled = ~even & (np.arange(n) < 400)
    labeled[[0, 2, 4]] = True
    outputs = PoolOutputs(jnp.asarray(base), jnp.asarray(base), jnp.asarray(emb))
    state = tailor.init(2, 2, k)
    for r in range(6):
      known = jnp.where(jnp.asarray(labeled), truth, -1)
      state, picks, share, _ = query(state, jax.random.key(10 * seed + r), outputs, known, labeled)
      labeled[np.asarray(picks)] = True
    shares.append(float(share[0]))
  assert min(shares) >= 0.8, shares


# ---------------------------------------------------------------- the four as strategies


def test_tailor_without_the_number_of_classes_is_refused():
  with pytest.raises(ValueError, match="tailor needs the number of classes"):
    strategies.build("tailor", strategies.Setup(num_pool=10, query_size=2))


def test_albl_matches_a_numpy_transcription_of_libacts_exp4p_over_several_queries():
  rng = np.random.RandomState(1)
  n, k, num_queries, delta = 90, 6, 5, 0.1
  candidates = strategies.resolve(("margin", "kmeans"))
  arms = len(candidates) + 1
  horizon = 7.0
  labels = rng.randint(0, 3, n)
  labeled = np.zeros(n, bool)
  labeled[:10] = True
  query = jax.jit(
    lambda s, key, o, lab, mask: albl.query(s, key, o, lab, mask, k, candidates, delta)
  )
  state = albl.init(arms, n, horizon)
  log_w, weight, probs, last_arm = np.zeros(arms), np.zeros(n), np.full(arms, 1 / arms), -1
  pmin = min(math.sqrt(math.log(arms) / (arms * horizon)), 0.5 / arms)
  for t in range(num_queries):
    logits = rng.randn(n, 3).astype(np.float32) * 2
    outputs = PoolOutputs(jnp.asarray(logits), jax.nn.softmax(jnp.asarray(logits), -1),
                          jnp.asarray(rng.randn(n, 4), jnp.float32))  # fmt: skip
    known = jnp.asarray(np.where(labeled, labels, -1), jnp.int32)
    key = jax.random.key(t)
    state, picks, got_probs, value = query(state, key, outputs, known, jnp.asarray(labeled))
    # NumPy: reward the last arm (libact's IW-ACC over the queried samples), Exp4.P update.
    correct = np.asarray(outputs.probs).argmax(1) == np.where(labeled, labels, -1)
    reward = (weight * correct).sum() / (n * horizon) if last_arm >= 0 else 0.0
    if last_arm >= 0:
      rhat = np.where(np.arange(arms) == last_arm, reward / probs, 0.0)
      bonus = math.sqrt(math.log(arms / delta) / (arms * horizon)) / probs
      log_w = log_w + pmin / 2 * (rhat + bonus)
    w = np.exp(log_w - log_w.max())
    probs = (1 - arms * pmin) * w / w.sum() + pmin
    np.testing.assert_allclose(got_probs, probs, rtol=1e-5)
    assert float(value) == pytest.approx(reward, rel=1e-5, abs=1e-9)
    # The draw and the arms' lists come from the key; q and W from plain NumPy.
    last_arm = int(state.arm)
    _, pick_key, _ = jax.random.split(key, 3)
    lists = np.asarray(strategies.pick_lists(candidates, pick_key, outputs, ~labeled, k))
    picks = np.asarray(picks)
    free = (~labeled).sum()
    for i in picks:
      q = sum(probs[a] for a in range(arms - 1) if i in lists[a]) + probs[-1] * k / free
      weight[i] = 1 / q
    np.testing.assert_allclose(np.asarray(state.weight), weight, rtol=1e-5)
    labeled[picks] = True


def test_tailor_fill_matches_a_numpy_transcription_of_the_authors_loop(key):
  rng = np.random.RandomState(2)
  lists = np.stack([rng.permutation(30)[:8] for _ in range(3)]).astype(np.int32)
  alpha = (rng.rand(3, 5) * 4).astype(np.float32)
  value = tailor.class_weights(
    jnp.asarray(rng.randint(0, 5, 30), jnp.int32), jnp.asarray(rng.rand(30) < 0.5), 5
  )
  picks, arms = tailor.fill(key, jnp.asarray(lists), jnp.asarray(alpha), value, 30)
  # The authors' loop with the same Dirichlet draws: argmax of theta @ v, the arm's next
  # sample not bought yet.
  taken, want_picks, want_arms = set(), [], []
  for j in range(8):
    theta = np.asarray(jax.random.dirichlet(jax.random.fold_in(key, j), jnp.asarray(alpha) + 1))
    arm = int(np.argmax(theta @ np.asarray(value)))
    want_arms.append(arm)
    want_picks.append(next(int(i) for i in lists[arm] if i not in taken))
    taken.add(want_picks[-1])
  assert np.asarray(picks).tolist() == want_picks and np.asarray(arms).tolist() == want_arms
