import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import strategies
from autoal_jax.types import PoolOutputs

# Five samples, three classes, hand-picked rows: certain, uniform, two-way tie, skewed, mild.
P = np.array(
  [
    [1.0, 0.0, 0.0],
    [1 / 3, 1 / 3, 1 / 3],
    [0.5, 0.5, 0.0],
    [0.7, 0.2, 0.1],
    [0.6, 0.3, 0.1],
  ],
  np.float32,
)
# Two MC passes over the same five samples.
MC = np.stack(
  [P, np.array([[1, 0, 0], [1 / 3] * 3, [0, 1, 0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]], np.float32)]
)


def _h(p):
  p = np.asarray(p, np.float64)
  return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0))


def _outputs(n=64, c=5, d=6, t=4, seed=0):
  keys = jax.random.split(jax.random.key(seed), 4)
  logits = jax.random.normal(keys[0], (n, c))
  mc = jax.nn.softmax(logits[None] + 0.7 * jax.random.normal(keys[1], (t, n, c)), -1)
  embeddings = jax.random.normal(keys[2], (n, d))
  losses = jax.random.normal(keys[3], (n,))  # a LossNet's predicted losses
  return PoolOutputs(logits, jax.nn.softmax(logits, -1), embeddings, mc, losses)


def test_scores_hand_computed():
  np.testing.assert_allclose(strategies.least_confidence(P), [0, 2 / 3, 0.5, 0.3, 0.4], atol=1e-6)
  np.testing.assert_allclose(strategies.margin(P), [-1, 0, 0, -0.5, -0.3], atol=1e-6)
  np.testing.assert_allclose(strategies.entropy(P), [_h(p) for p in P], rtol=1e-6, atol=1e-7)
  # The released [N, C] form: 1 - max p (the same numbers as least confidence's, by hand).
  np.testing.assert_allclose(strategies.var_ratio(P), [0, 2 / 3, 0.5, 0.3, 0.4], atol=1e-6)


def test_mc_scores_hand_computed():
  # var ratio over MC: modal class counts over T = 2 are 2, 2, 1, 1, 2.
  np.testing.assert_allclose(strategies.var_ratio(MC), [0, 0, 0.5, 0.5, 0], atol=1e-7)
  expected_bald = [
    _h(MC[:, i].mean(0)) - np.mean([_h(MC[t, i]) for t in range(2)]) for i in range(5)
  ]
  np.testing.assert_allclose(strategies.bald(MC), expected_bald, atol=1e-6)
  # Two confident passes that disagree: BALD = H([.5, .5]) - 0 = log 2.
  disagree = np.array([[[1, 0, 0]], [[0, 1, 0]]], np.float32)
  assert float(strategies.bald(disagree)[0]) == pytest.approx(np.log(2), abs=1e-6)
  np.testing.assert_allclose(strategies.mean_std(MC), MC.std(0).mean(-1), atol=1e-7)
  np.testing.assert_allclose(np.asarray(strategies.mean_std(MC))[[0, 1, 4]], 0, atol=1e-7)


def test_scores_reject_bad_shapes_and_too_few_passes():
  with pytest.raises(AssertionError):
    strategies.entropy(P[0])
  with pytest.raises(ValueError, match="T >= 2"):
    strategies.bald(MC[:1])
  with pytest.raises(ValueError, match="T >= 2"):
    strategies.var_ratio(MC[:1])
  with pytest.raises(AssertionError):
    strategies.mean_std(P)
  with pytest.raises(ValueError, match="C >= 2"):
    strategies.margin(np.ones((3, 1), np.float32))


@pytest.mark.parametrize(
  "name", ["least_confidence", "margin", "entropy", "var_ratio", "bald", "mean_std"]
)
def test_scores_are_permutation_equivariant(name):
  outputs = _outputs()
  permutation = np.random.RandomState(0).permutation(64)
  arg = outputs.mc_probs if strategies.get_picker(name).needs.mc else outputs.probs
  fn = {
    "var_ratio": strategies.var_ratio,
    "bald": strategies.bald,
    "mean_std": strategies.mean_std,
  }.get(name, getattr(strategies, name))
  permuted = arg[:, permutation] if arg.ndim == 3 else arg[permutation]
  np.testing.assert_allclose(fn(permuted), np.asarray(fn(arg))[permutation], rtol=1e-6, atol=1e-7)


def test_top_k_masked_orders_by_score_and_never_leaves_the_mask(key):
  scores = jnp.asarray([0.9, 0.1, 0.8, 0.7, 0.95, 0.2], jnp.float32)
  mask = jnp.asarray([False, True, True, True, False, True])
  np.testing.assert_array_equal(strategies.top_k_masked(key, scores, mask, 3), [2, 3, 5])
  # More picks than candidates: -1 in the spare slots, never a masked index.
  np.testing.assert_array_equal(strategies.top_k_masked(key, scores, mask, 6)[4:], [-1, -1])
  nan_scores = scores.at[2].set(jnp.nan)
  np.testing.assert_array_equal(strategies.top_k_masked(key, nan_scores, mask, 4), [3, 5, 1, 2])


def test_top_k_masked_breaks_ties_with_the_key():
  scores, mask = jnp.zeros(40, jnp.float32), jnp.ones(40, bool)
  a = strategies.top_k_masked(jax.random.key(0), scores, mask, 5)
  np.testing.assert_array_equal(a, strategies.top_k_masked(jax.random.key(0), scores, mask, 5))
  b = strategies.top_k_masked(jax.random.key(1), scores, mask, 5)
  assert set(a.tolist()) != set(b.tolist())


@pytest.mark.parametrize("name", strategies.picker_names())
def test_every_registered_strategy_keeps_the_pick_contract(name, key):
  outputs = _outputs()
  mask = jax.random.bernoulli(jax.random.key(3), 0.5, (64,))
  k = 10
  fn = jax.jit(lambda key, outputs, mask: strategies.pick(name, key, outputs, mask, k))
  picks = np.asarray(fn(key, outputs, mask))
  assert picks.shape == (k,) and picks.dtype == np.int32
  assert len(set(picks.tolist())) == k and np.asarray(mask)[picks].all()
  again = np.asarray(fn(key, outputs, mask))
  np.testing.assert_array_equal(picks, again)  # deterministic given the key
  fn(jax.random.key(5), _outputs(seed=1), mask)
  assert fn._cache_size() == 1  # a second call with new values compiles nothing
  # Picking every candidate works and returns each exactly once.
  everything = int(mask.sum())
  all_picks = np.asarray(strategies.pick(name, key, outputs, mask, everything))
  assert sorted(all_picks.tolist()) == np.flatnonzero(np.asarray(mask)).tolist()
  # Under jit k is not checked against the mask: too few candidates give -1, never a
  # sample outside the mask.
  few = jnp.arange(64) >= 60
  short = np.asarray(fn(key, outputs, few))
  assert sorted(short[short >= 0].tolist()) == [60, 61, 62, 63] and (short[4:] == -1).all()


def test_pick_checks_its_inputs_outside_jit(key):
  outputs = _outputs()
  mask = jnp.arange(64) < 5
  with pytest.raises(ValueError, match="k=6 picks asked from 5 candidates"):
    strategies.pick("entropy", key, outputs, mask, 6)
  with pytest.raises(ValueError, match="from 0 candidates"):
    strategies.pick("kcenter_greedy", key, outputs, jnp.zeros(64, bool), 1)
  with pytest.raises(ValueError, match="MC-dropout"):
    strategies.pick("bald", key, outputs._replace(mc_probs=None), mask, 2)
  with pytest.raises(ValueError, match="loss_prediction=True"):
    strategies.pick("loss_prediction", key, outputs._replace(losses=None), mask, 2)
  # The predicted loss is the score: the k highest among the candidates.
  picks = strategies.pick("loss_prediction", key, outputs, mask, 3)
  np.testing.assert_array_equal(picks, np.argsort(-np.asarray(outputs.losses)[:5])[:3])
  with pytest.raises(ValueError, match="non-finite"):
    strategies.pick(
      "entropy", key, outputs._replace(probs=outputs.probs.at[3, 1].set(jnp.nan)), mask, 2
    )
  with pytest.raises(ValueError, match="Unknown strategy 'badge2'.*'badge'"):
    strategies.pick("badge2", key, outputs, mask, 2)


def test_pick_under_jit_with_constant_inputs(key):
  outputs, mask = _outputs(), jnp.arange(64) >= 4  # closed over: concrete inside the trace
  fn = jax.jit(lambda key: strategies.pick("entropy", key, outputs, mask, 5))
  assert np.asarray(mask)[np.asarray(fn(key))].all()
  bad = jax.jit(lambda key: strategies.pick("entropy", key, outputs, mask, 61))
  with pytest.raises(ValueError, match="k=61 picks asked from 60 candidates"):
    bad(key)


def test_random_sampling_is_uniform_over_the_candidates():
  mask = jnp.arange(10) < 5
  counts = np.zeros(10)
  for seed in range(200):
    counts[np.asarray(strategies.random_sampling(jax.random.key(seed), mask, 2))] += 1
  assert counts[5:].sum() == 0 and counts[:5].min() > 50  # 80 expected each


def _brute_force_kcenter(x, labeled, k):
  x = np.asarray(x, np.float64)
  d = ((x[:, None] - x[None]) ** 2).sum(-1)
  best = d[:, labeled].min(1) if labeled.any() else np.full(len(x), np.inf)
  picks = []
  for _ in range(k):
    score = np.where(labeled | np.isin(np.arange(len(x)), picks), -1, best)
    j = int(np.argmax(score))
    picks.append(j)
    best = np.minimum(best, d[:, j])
  return picks


@pytest.mark.parametrize("seed", range(4))
def test_kcenter_greedy_matches_brute_force(seed):
  rng = np.random.RandomState(seed)
  x = rng.randn(60, 5).astype(np.float32)
  labeled = rng.rand(60) < 0.2
  picks = strategies.kcenter_greedy(jnp.asarray(x), jnp.asarray(labeled), 12, chunk=4)
  assert picks.tolist() == _brute_force_kcenter(x, labeled, 12)


def test_min_sq_dist_to_set_is_chunk_invariant():
  rng = np.random.RandomState(0)
  x = jnp.asarray(rng.randn(50, 3), jnp.float32)
  members = jnp.asarray(rng.rand(50) < 0.3)
  brute = (
    ((np.asarray(x)[:, None] - np.asarray(x)[None]) ** 2).sum(-1)[:, np.asarray(members)].min(1)
  )
  for chunk in (1, 7, 64):
    np.testing.assert_allclose(strategies.min_sq_dist_to_set(x, members, chunk), brute, atol=1e-4)
  assert np.isinf(np.asarray(strategies.min_sq_dist_to_set(x, jnp.zeros(50, bool)))).all()


def test_kmeans_picks_are_nearest_to_a_centre(key):
  # Four tight, well separated blobs: k-means with k=4 must take one sample of each.
  rng = np.random.RandomState(0)
  centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32)
  blob = np.repeat(np.arange(4), 15)
  x = centres[blob] + 0.1 * rng.randn(60, 2).astype(np.float32)
  mask = jnp.ones(60, bool)
  picks = np.asarray(strategies.kmeans_sampling(key, jnp.asarray(x), mask, 4))
  assert sorted(blob[picks].tolist()) == [0, 1, 2, 3]
  for p in picks:  # each pick is its blob's member nearest the blob's mean
    members = np.flatnonzero(blob == blob[p])
    mean = x[members].mean(0)
    assert p == members[np.argmin(((x[members] - mean) ** 2).sum(1))]


def test_kmeans_more_clusters_than_distinct_points_still_gives_distinct_picks(key):
  x = jnp.asarray(np.repeat(np.eye(3, dtype=np.float32), 5, axis=0))  # 3 distinct points
  picks = np.asarray(strategies.kmeans_sampling(key, x, jnp.ones(15, bool), 7))
  assert len(set(picks.tolist())) == 7


def test_badge_factorised_distance_equals_the_explicit_one():
  rng = np.random.RandomState(0)
  e = rng.randn(20, 4).astype(np.float32)
  p = jax.nn.softmax(jnp.asarray(rng.randn(20, 3), jnp.float32), -1)
  a = np.asarray(p) - np.eye(3, dtype=np.float32)[np.argmax(np.asarray(p), -1)]
  g = (a[:, :, None] * e[:, None, :]).reshape(20, -1)  # the explicit N x (C * D) embedding
  explicit = ((g[:, None] - g[None]) ** 2).sum(-1)
  g_sq = (a**2).sum(1) * (e**2).sum(1)
  factorised = g_sq[:, None] + g_sq[None] - 2 * (a @ a.T) * (e @ e.T)
  np.testing.assert_allclose(factorised, explicit, rtol=1e-4, atol=1e-5)
  # BADGE's first pick is the largest gradient norm; its seeding equals an explicit one.
  picks = np.asarray(strategies.badge(jax.random.key(0), jnp.asarray(e), p, jnp.ones(20, bool), 5))
  assert picks[0] == np.argmax((g**2).sum(1))
  assert len(set(picks.tolist())) == 5


def test_decisions_matrix(key):
  outputs = _outputs()
  mask = jnp.arange(64) >= 8
  names = strategies.AUTOAL_CANDIDATES
  pickers = strategies.resolve(names)
  a = np.asarray(
    jax.jit(lambda k, o, m: strategies.decisions.decisions(pickers, k, o, m, 6))(key, outputs, mask)
  )
  assert a.shape == (64, 7) and set(np.unique(a)) <= {0.0, 1.0}
  np.testing.assert_array_equal(a.sum(0), 6)
  assert a[:8].sum() == 0
  for j, name in enumerate(names):
    picks = strategies.pick(name, jax.random.fold_in(key, j), outputs, mask, 6)
    assert sorted(np.flatnonzero(a[:, j]).tolist()) == sorted(np.asarray(picks).tolist())


@pytest.mark.parametrize("name", strategies.picker_names())
def test_picks_with_a_traced_count_equal_the_picks_of_that_count(name, key):
  outputs = _outputs()
  # Quantised MC passes: var_ratio_mc then has many ties, which must stay random ties.
  outputs = outputs._replace(mc_probs=jax.nn.one_hot(jnp.argmax(outputs.mc_probs, -1), 5))
  mask = jnp.arange(64) % 3 != 0
  pick_n = jax.jit(strategies.get_picker(name).pick_n, static_argnums=3)
  for n in (1, 7):
    got = np.asarray(pick_n(key, outputs, mask, 10, jnp.int32(n)))
    want = np.asarray(strategies.pick(name, key, outputs, mask, n))
    assert (got[n:] == -1).all()
    assert sorted(got[:n].tolist()) == sorted(want.tolist())
  assert pick_n._cache_size() == 1


def test_decisions_with_ranks_and_a_traced_count(key):
  outputs = _outputs()
  mask = jnp.arange(64) >= 8
  names = strategies.resolve(["entropy", "kmeans"])
  a = np.asarray(
    strategies.decisions.decisions(names, key, outputs, mask, 10, jnp.int32(4), "ranks")
  )
  entropy = np.asarray(strategies.entropy(outputs.probs))[8:]
  # Score strategies: ranks scaled to [0, 1] among the candidates, 0 outside.
  np.testing.assert_allclose(a[8:, 0], np.argsort(np.argsort(entropy)) / 55, atol=1e-6)
  assert a[:8].sum() == 0
  # Set pickers stay 0/1, with the traced count.
  assert set(np.unique(a[:, 1])) <= {0.0, 1.0} and a[:, 1].sum() == 4
  with pytest.raises(ValueError, match="Valid signals"):
    strategies.decisions.decisions(names, key, outputs, mask, 10, signal="scores")


def test_uniform_mix_buys_the_samples_most_candidates_pick(key):
  outputs = _outputs()
  mask = jnp.ones(64, bool)
  # One candidate: the mixture is that candidate's pick set.
  alone = strategies.uniform_mix(key, outputs, mask, 8, strategies.resolve(("entropy",)))
  entropy = strategies.pick("entropy", key, outputs, mask, 8)
  assert set(np.asarray(alone).tolist()) == set(np.asarray(entropy).tolist())
  # Three candidates: every sample picked by all three is bought before any picked by fewer.
  names = strategies.resolve(("entropy", "margin", "least_confidence"))
  votes = np.asarray(
    strategies.decisions.decisions(names, jax.random.split(key)[0], outputs, mask, 8)
  )
  votes = votes.sum(1)
  picks = np.asarray(strategies.uniform_mix(key, outputs, mask, 8, candidates=names))
  assert len(set(picks.tolist())) == 8
  assert votes[picks].min() >= np.sort(votes)[-8]  # the 8 most-voted (ties at random)
  with pytest.raises(ValueError, match="not a single strategy"):
    strategies.check_candidates(("entropy", "uniform-mix"))


def test_albl_port_bandit_update_by_hand():
  albl = strategies.albl_port
  k_arms = 3  # two candidates + random: pmin = 1 / 30, uniform p = 1 / 3
  labeled = jnp.asarray([True, True, True, True, False, False])
  state = albl.init(k_arms, labeled)
  np.testing.assert_allclose(albl.probabilities(state.log_weights), [1 / 3] * 3, rtol=1e-6)
  # Samples 2 and 3 were bought by arm 1 at p = 1/3; 0 and 1 are the initial set.
  state = state._replace(
    importance=state.importance.at[2:4].set(1 / 3), arm=jnp.int32(1), arm_prob=jnp.float32(1 / 3)
  )
  correct = jnp.asarray([True, False, True, True, False, True])  # 5 is unlabeled: ignored
  reward = float(albl.reward(correct, labeled, state.importance))
  assert reward == pytest.approx((1 + 0 + 3 + 3) / 4, rel=1e-6)  # IW-ACC = 1.75
  state = albl.update(state, jnp.float32(reward))
  step = (1 / 30) / 2 * (1.75 + np.sqrt(np.log(3 / 0.1) / 3) / (1 / 3))  # = 0.0824051
  np.testing.assert_allclose(np.exp(state.log_weights), [1, np.exp(step), 1], rtol=1e-6)
  w = np.array([1, np.exp(step), 1])
  expected = 0.9 * w / w.sum() + 1 / 30
  np.testing.assert_allclose(albl.probabilities(state.log_weights), expected, rtol=1e-6)
  np.testing.assert_allclose(expected, [0.3249829, 0.3500343, 0.3249829], atol=1e-7)
  # Before the first draw (arm -1) an update changes nothing.
  fresh = albl.init(k_arms, labeled)
  np.testing.assert_array_equal(albl.update(fresh, jnp.float32(5.0)).log_weights, 0.0)


def test_albl_port_query_keeps_the_pick_contract_and_records_the_arm():
  albl = strategies.albl_port
  outputs = _outputs(n=200)
  labels = jnp.asarray(np.random.RandomState(0).randint(0, 5, 200), jnp.int32)
  labeled = jnp.arange(200) < 20
  candidates = strategies.resolve(("entropy", "kmeans", "bald"))
  query = jax.jit(
    lambda s, key, labeled: albl.query(s, key, outputs, labels, labeled, 10, candidates)
  )
  state = albl.init(4, labeled)
  drawn = set()
  for seed in range(6):  # several queries: several arms, a reward from the second on
    key = jax.random.key(seed)
    new, picks, probs, reward = query(state, key, labeled)
    picks = np.asarray(picks)
    assert len(set(picks.tolist())) == 10 and not np.asarray(labeled)[picks].any()
    arm = int(new.arm)
    # The drawn arm's own picks, with the same key the query hands it.
    name = albl.arms([c.name for c in candidates])[arm]
    pick = jax.jit(lambda key, mask, name=name: strategies.pick(name, key, outputs, mask, 10))
    expected = pick(jax.random.split(key)[1], ~labeled)
    np.testing.assert_array_equal(picks, expected, err_msg=name)
    np.testing.assert_allclose(np.asarray(new.importance)[picks], float(probs[arm]))
    assert float(new.arm_prob) == pytest.approx(float(probs[arm]))
    assert (float(reward) > 0) == (seed > 0)
    drawn.add(arm)
    state, labeled = new, labeled.at[picks].set(True)
  assert len(drawn) >= 2
  assert query._cache_size() == 1
