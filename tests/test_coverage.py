"""The coverage strategies against peer implementations: ProbCover, MaxHerding and
DropQuery against scikit-activeml 1.0.1 (a test-only dependency), Uncertainty Herding
against a NumPy transcription of the released code's greedy step and calibration."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax.strategies import coverage, uherding

skactiveml = pytest.importorskip("skactiveml")
from skactiveml.base import SkactivemlClassifier  # noqa: E402
from skactiveml.pool import DropQuery, MaxHerding, ProbCover  # noqa: E402


def _normalised(x):
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def _points(seed, n=90, d=4, num_labeled=6):
  rng = np.random.default_rng(seed)
  x = _normalised(rng.normal(size=(n, d))).astype(np.float32)
  labeled = np.zeros(n, bool)
  labeled[rng.choice(n, num_labeled, replace=False)] = True
  return x, labeled


def _greedy_agrees(strategy, x, labeled, picks):
  """Each pick is a maximiser of the peer's utilities given the labeled set and the picks
  before it (ties are broken at random on both sides, so the check is per step)."""
  known = labeled.copy()
  for pick in picks:
    y = np.where(known, 0.0, np.nan)
    with warnings.catch_warnings():  # ProbCover warns on a one-value grid of radii (1.0.1)
      warnings.simplefilter("ignore", UserWarning)
      _, utilities = strategy.query(x.astype(np.float64), y, batch_size=1, return_utilities=True)
    assert not known[pick]
    np.testing.assert_allclose(utilities[0, pick], np.nanmax(utilities[0]), rtol=1e-5)
    known[pick] = True


@pytest.mark.parametrize("seed", range(2))
def test_probcover_greedy_step_matches_scikit_activeml(seed):
  x, labeled = _points(seed)
  delta = 0.5
  picks = coverage.probcover(jax.random.key(seed), x, ~labeled, 10, 2, delta=delta)
  picks = np.asarray(picks)
  assert len(set(picks.tolist())) == 10
  _greedy_agrees(ProbCover(deltas=[delta], n_classes=2, random_state=0), x, labeled, picks)


def test_probcover_radius_matches_scikit_activeml():
  # Three tight clusters on the sphere: both k-means find them, so the purity curves and
  # the chosen radius agree.
  rng = np.random.default_rng(0)
  centres = _normalised(rng.normal(size=(3, 6)))
  x = _normalised(np.repeat(centres, 40, axis=0) + 0.25 * rng.normal(size=(120, 6)))
  deltas = np.round(np.arange(0.1, 2.01, 0.1), 2)
  peer = ProbCover(deltas=deltas, n_classes=3, random_state=0)
  peer.query(x, np.full(120, np.nan), batch_size=1)
  ours = coverage.probcover_delta(jax.random.key(0), jnp.asarray(x, jnp.float32), 3, deltas)
  assert 0.1 < float(ours) < 2.0  # neither end of the grid: the criterion decided
  np.testing.assert_allclose(float(ours), peer.delta_max_, rtol=1e-6)


@pytest.mark.parametrize("seed", range(2))
def test_maxherding_greedy_step_matches_scikit_activeml(seed):
  x, labeled = _points(seed)
  sigma = 0.7
  picks = np.asarray(coverage.herding(jax.random.key(seed), x, ~labeled, 10, sigma=sigma))
  peer = MaxHerding(metric="rbf", metric_dict={"gamma": 1.0 / sigma**2}, random_state=0)
  _greedy_agrees(peer, x, labeled, picks)
  # With nothing labeled the first pick is the densest point, as the peer's fallback.
  first = int(coverage.herding(jax.random.key(0), x, jnp.ones(90, bool), 1, sigma=sigma)[0])
  _greedy_agrees(peer, x, np.zeros(90, bool), [first])


def test_a_subset_keeps_picks_inside_it_and_the_mask(key):
  x, labeled = _points(0, n=300)
  picks = np.asarray(coverage.herding(key, x, ~labeled, 12, subset=64))
  assert len(set(picks.tolist())) == 12 and not labeled[picks].any()
  index = np.asarray(coverage.subset_indices(jax.random.split(key)[0], ~labeled, 64))
  assert set(picks.tolist()) <= set(index.tolist())


def _uherding_reference(x, weights, labeled, k, h):
  """The released code's greedy step (uherding.py, select_samples), in NumPy: kernel_all
  over labeled + candidates, max_embedding from the labeled rows, U = 0 on labeled."""
  order = np.concatenate([np.flatnonzero(labeled), np.flatnonzero(~labeled)])
  feats = x[order] / np.linalg.norm(x[order], axis=1, keepdims=True)
  dist = np.sqrt(np.maximum(((feats[:, None] - feats[None]) ** 2).sum(-1), 0))
  kernel_all = np.exp(-((dist / h) ** 2))
  num_l = labeled.sum()
  u = weights[order].copy()
  u[:num_l] = 0.0
  max_embedding = kernel_all[:num_l].max(0, keepdims=True)
  inner = list(range(num_l))
  for _ in range(k):
    updated = np.maximum(kernel_all - max_embedding, 0)
    gain = (u[None] * updated).mean(-1)
    gain[inner] = -np.inf
    j = int(np.argmax(gain))
    inner.append(j)
    max_embedding = updated[j][None] + max_embedding
  return order[inner[num_l:]]


@pytest.mark.parametrize("seed", range(2))
def test_uherding_greedy_step_matches_the_released_code(seed):
  x, labeled = _points(seed, n=80, d=5, num_labeled=8)
  weights = np.random.default_rng(seed).uniform(0.1, 1.0, 80).astype(np.float32)
  h = float(uherding.kernel_width(coverage.normalise(jnp.asarray(x)), jnp.asarray(labeled)))
  dist = np.sqrt(((x[labeled][:, None] - x[labeled][None]) ** 2).sum(-1))
  np.testing.assert_allclose(h, dist[dist > 0].min(), rtol=1e-4)
  gathered = uherding.kernel_width(coverage.normalise(jnp.asarray(x)), jnp.asarray(labeled), 8)
  np.testing.assert_allclose(float(gathered), h, rtol=1e-6)  # the labeled rows gathered first
  ours = coverage.herding(jax.random.key(seed), x, ~labeled, 9, jnp.asarray(weights), h)
  np.testing.assert_array_equal(np.asarray(ours), _uherding_reference(x, weights, labeled, 9, h))


@pytest.mark.parametrize("num_labeled", [1, 2, 7, 8])
def test_the_median_kernel_width_is_the_median_nearest_labeled_distance(num_labeled):
  x, labeled = _points(3, n=60, d=4, num_labeled=num_labeled)
  x = np.array(coverage.normalise(jnp.asarray(x)))
  x[np.nonzero(labeled)[0][-1]] = x[np.nonzero(labeled)[0][0]]  # a duplicate: not a pair
  dist = np.sqrt(((x[labeled][:, None] - x[labeled][None]) ** 2).sum(-1))
  dist[dist < 1e-3] = np.inf
  nearest = np.sort(dist.min(1))
  nearest = nearest[np.isfinite(nearest)]
  want = nearest[(len(nearest) - 1) // 2] if len(nearest) else 1.0
  for capacity in (None, 9):
    got = uherding.kernel_width(jnp.asarray(x), jnp.asarray(labeled), capacity, 4, "median")
    np.testing.assert_allclose(float(got), want, rtol=1e-4)
    low = uherding.kernel_width(jnp.asarray(x), jnp.asarray(labeled), capacity, 4, "min")
    np.testing.assert_allclose(float(low), nearest[0] if len(nearest) else 1.0, rtol=1e-4)
    tenth = uherding.kernel_width(jnp.asarray(x), jnp.asarray(labeled), capacity, 4, "q10")
    lower = nearest[(len(nearest) - 1) // 10] if len(nearest) else 1.0
    np.testing.assert_allclose(float(tenth), lower, rtol=1e-4)
    for rank in (1, 2, 3):  # the rank-th smallest, not above the median
      ranked = uherding.kernel_width(
        jnp.asarray(x), jnp.asarray(labeled), capacity, 4, "ranked", rank
      )
      at = min(rank - 1, (len(nearest) - 1) // 2)
      np.testing.assert_allclose(float(ranked), nearest[at] if len(nearest) else 1.0, rtol=1e-4)
  with pytest.raises(ValueError, match="A rank"):
    uherding.kernel_width(jnp.asarray(x), jnp.asarray(labeled), statistic="ranked")
  with pytest.raises(ValueError, match="A rank"):
    uherding.kernel_width(jnp.asarray(x), jnp.asarray(labeled), statistic="median", rank=2)
  with pytest.raises(ValueError, match="Unknown kernel width statistic"):
    uherding.kernel_width(jnp.asarray(x), jnp.asarray(labeled), statistic="max")


def test_the_cover_width_is_the_median_distance_to_the_m_over_k_th_neighbour():
  # Four members on a line at 0, 1, 3 and 6 (two non-members far away): for k = 2 each
  # member's 2nd nearest other member is at 3, 2, 3, 5 (the lower median 3); for k = 4,
  # its nearest, 1, 1, 2, 3 (1); fewer than two members: 1.
  x = jnp.asarray([[0.0, 0], [1, 0], [3, 0], [6, 0], [50, 0], [60, 0]], jnp.float32)
  members = jnp.asarray([True, True, True, True, False, False])
  key = jax.random.key(0)
  assert float(uherding.cover_width(key, x, members, 2)) == pytest.approx(3.0, rel=1e-5)
  assert float(uherding.cover_width(key, x, members, 4)) == pytest.approx(1.0, rel=1e-5)
  # Members drawn at random (sample < their number): still a distance between members.
  assert 1.0 <= float(uherding.cover_width(key, x, members, 1, sample=3)) <= 6.0
  assert float(uherding.cover_width(key, x, members.at[1:].set(False), 2)) == 1.0


def test_the_expected_error_gate_keeps_the_most_uncertain_of_the_expected_count():
  rng = np.random.default_rng(4)
  n, c, k = 200, 5, 6
  logits = rng.normal(0.0, 2.0, (n, c)).astype(np.float32)
  labeled = rng.uniform(size=n) < 0.2
  for temperature in (1.0, 3.0):
    z = logits / temperature
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    errors = (1.0 - p.max(1))[~labeled].sum()
    top2 = np.sort(p, 1)[:, -2:]
    u = 1.0 - (top2[:, 1] - top2[:, 0])
    m = max(k, int(np.round(errors)))
    want = np.zeros(n, bool)
    want[np.flatnonzero(~labeled)[np.argsort(-u[~labeled], kind="stable")[:m]]] = True
    got = uherding.expected_error_gate(jnp.asarray(logits), temperature, jnp.asarray(labeled), k)
    np.testing.assert_array_equal(np.asarray(got), want)
  # A confident model expects fewer errors than k: the gate still holds k samples.
  sure = np.zeros((n, c), np.float32)
  sure[:, 0] = 30.0
  got = uherding.expected_error_gate(jnp.asarray(sure), 1.0, jnp.asarray(labeled), k)
  assert int(np.sum(got)) == k and not np.any(np.asarray(got) & labeled)


def test_labeled_trust_is_the_kernel_of_the_nearest_labeled_distance():
  x, labeled = _points(7, n=50, d=4, num_labeled=5)
  x = np.asarray(coverage.normalise(jnp.asarray(x)))
  d2 = ((x[:, None] - x[labeled][None]) ** 2).sum(-1).min(1)
  got = uherding.labeled_trust(jnp.asarray(x), jnp.asarray(labeled), 0.4, chunk=3)
  np.testing.assert_allclose(np.asarray(got), np.exp(-d2 / 0.16), rtol=1e-4, atol=1e-6)
  assert np.allclose(np.asarray(got)[labeled], 1.0)
  none = uherding.labeled_trust(jnp.asarray(x), jnp.zeros(50, bool), 0.4)
  np.testing.assert_array_equal(np.asarray(none), 0.0)  # no label: nothing is believed


def test_the_trusted_gate_counts_untrusted_samples_as_likely_errors():
  rng = np.random.default_rng(8)
  n, c, k, t = 150, 4, 5, 1.3
  logits = rng.normal(0.0, 3.0, (n, c)).astype(np.float32)
  labeled = rng.uniform(size=n) < 0.2
  trust = rng.uniform(size=n).astype(np.float32)
  args = (jnp.asarray(logits), t, jnp.asarray(labeled), k)
  plain = uherding.expected_error_gate(*args)
  np.testing.assert_array_equal(uherding.expected_error_gate(*args, jnp.ones(n)), plain)
  z = logits / t
  p = np.exp(z - z.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  error = trust * (1.0 - p.max(1)) + (1.0 - trust) * (1.0 - 1.0 / c)
  top2 = np.sort(p, 1)[:, -2:]
  u = trust * (1.0 - (top2[:, 1] - top2[:, 0])) + (1.0 - trust)
  m = max(k, int(np.round(error[~labeled].sum())))
  want = np.zeros(n, bool)
  want[np.flatnonzero(~labeled)[np.argsort(-u[~labeled], kind="stable")[:m]]] = True
  got = np.asarray(uherding.expected_error_gate(*args, jnp.asarray(trust)))
  np.testing.assert_array_equal(got, want)
  # A confident model, believed nowhere: every unlabeled sample is a likely error.
  sure = np.zeros((n, c), np.float32)
  sure[:, 0] = 30.0
  nowhere = uherding.expected_error_gate(jnp.asarray(sure), 1.0, jnp.asarray(labeled), k, 0.0)
  assert int(np.sum(nowhere)) == int(np.round((~labeled).sum() * (1.0 - 1.0 / c)))


def _agreement_reference(x, labeled, labels, width, c):
  xl, yl = x[labeled], labels[labeled]
  d2 = ((xl[:, None] - xl[None]) ** 2).sum(-1)
  np.fill_diagonal(d2, np.inf)
  agree = (yl[d2.argmin(1)] == yl).astype(np.float64) if len(yl) > 1 else np.zeros(len(yl))
  k = np.exp(-((x[:, None] - xl[None]) ** 2).sum(-1) / width**2)
  a = (1.0 + k @ agree) / (1.0 + k.sum(1))
  return np.clip((a - 1.0 / c) / (1.0 - 1.0 / c), 0.0, 1.0)


@pytest.mark.parametrize("num_labeled", [0, 1, 6, 20])
def test_label_agreement_is_the_smoothed_nearest_labeled_agreement_beyond_chance(num_labeled):
  x, labeled = _points(11, n=70, d=3, num_labeled=num_labeled)
  labels = np.random.default_rng(2).integers(0, 3, 70).astype(np.int32)
  want = _agreement_reference(x.astype(np.float64), labeled, labels, 0.5, 3)
  for capacity, chunk in ((None, 1024), (max(num_labeled, 1), 16)):
    got = uherding.label_agreement(
      jnp.asarray(x), jnp.asarray(labeled), jnp.asarray(labels), 0.5, 3, capacity, chunk
    )
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def test_label_agreement_never_holds_the_labeled_rows_pairwise_matrix():
  # 4096 labeled slots: their dense distance matrix alone is 64 MiB; the chunked nearest
  # other labeled row (and the kernel's chunks) hold chunk x capacity at a time.
  n, capacity, chunk = 4096, 4096, 256
  shapes = (
    jax.ShapeDtypeStruct((n, 8), jnp.float32),
    jax.ShapeDtypeStruct((n,), bool),
    jax.ShapeDtypeStruct((n,), jnp.int32),
  )
  agreement = jax.jit(
    lambda x, labeled, labels: uherding.label_agreement(
      x, labeled, labels, 0.5, 10, capacity, chunk
    )
  )
  memory = agreement.lower(*shapes).compile().memory_analysis()
  assert memory.temp_size_in_bytes < capacity * capacity * 4 / 8


def test_label_agreement_tells_random_labels_from_a_boundary():
  # Three tight groups: one whose labels are random (a region of label noise), two pure
  # ones of different classes side by side (a boundary), and a far sample with no label
  # near (no evidence: agreement 1).
  rng = np.random.default_rng(3)
  noise = np.array([5.0, 0.0]) + 0.3 * rng.normal(size=(60, 2))
  left = np.array([0.0, 0.0]) + 0.3 * rng.normal(size=(30, 2))
  right = np.array([1.5, 0.0]) + 0.3 * rng.normal(size=(30, 2))
  x = np.concatenate([noise, left, right, [[0.0, 50.0]]]).astype(np.float32)
  labels = np.concatenate([rng.integers(0, 3, 60), np.zeros(30), np.ones(30), [2]]).astype(np.int32)
  labeled = np.ones(len(x), bool)
  labeled[::2] = False  # half of each group unlabeled; the far sample too
  got = np.asarray(uherding.label_agreement(x, labeled, labels, 0.5, 3))
  assert np.mean(got[:60][~labeled[:60]]) < 0.25
  assert np.mean(got[60:120][~labeled[60:120]]) > 0.75
  assert got[-1] == pytest.approx(1.0)
  # Wholly reducible from half the excess on: twice as much, clipped at 1.
  half = np.asarray(uherding.label_agreement(x, labeled, labels, 0.5, 3, scale=0.5))
  np.testing.assert_allclose(half, np.minimum(2.0 * got, 1.0), rtol=1e-5, atol=1e-6)
  # One raw pass, rescaled at either scale: the same numbers.
  mean = uherding.label_agreement(x, labeled, labels, 0.5, 3, raw=True)
  for scale, want in ((1.0, got), (0.5, half)):
    np.testing.assert_array_equal(np.asarray(uherding.excess_agreement(mean, 3, scale)), want)


def test_the_reducible_gate_counts_and_ranks_only_reducible_uncertainty():
  rng = np.random.default_rng(9)
  n, c, k = 120, 3, 4
  logits = rng.normal(0.0, 2.0, (n, c)).astype(np.float32)
  labeled = rng.uniform(size=n) < 0.2
  reducible = rng.uniform(size=n).astype(np.float32)
  args = (jnp.asarray(logits), 1.0, jnp.asarray(labeled), k)
  plain = uherding.expected_error_gate(*args)
  np.testing.assert_array_equal(uherding.expected_error_gate(*args, None, jnp.ones(n)), plain)
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  top2 = np.sort(p, 1)[:, -2:]
  u = reducible * (1.0 - (top2[:, 1] - top2[:, 0]))
  m = max(k, int(np.round((reducible * (1.0 - p.max(1)))[~labeled].sum())))
  want = np.zeros(n, bool)
  want[np.flatnonzero(~labeled)[np.argsort(-u[~labeled], kind="stable")[:m]]] = True
  got = uherding.expected_error_gate(*args, None, jnp.asarray(reducible))
  np.testing.assert_array_equal(np.asarray(got), want)
  # Sized by a measured error rate instead: the same ranking, rate x the pool's count.
  for rate, share in ((0.3, None), (0.3, reducible), (0.0, None)):
    m = max(k, int(np.round(rate * (np.ones(n) if share is None else share)[~labeled].sum())))
    sized = np.zeros(n, bool)
    order = -(1.0 - (top2[:, 1] - top2[:, 0])) if share is None else -u
    sized[np.flatnonzero(~labeled)[np.argsort(order[~labeled], kind="stable")[:m]]] = True
    factor = None if share is None else jnp.asarray(share)
    got = uherding.expected_error_gate(*args, None, factor, jnp.float32(rate))
    np.testing.assert_array_equal(np.asarray(got), sized)
  # No rate measured (NaN): the calibrated count.
  unmeasured = uherding.expected_error_gate(*args, None, None, jnp.float32(np.nan))
  np.testing.assert_array_equal(np.asarray(unmeasured), np.asarray(plain))


def test_held_out_error_is_the_share_of_wrong_held_out_rows():
  logits = jnp.asarray([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 5.0]])
  labels = jnp.asarray([0, 0, 1, 1])
  got = uherding.held_out_error(logits, labels, jnp.asarray([True, True, True, False]))
  assert float(got) == pytest.approx(2.0 / 3.0)  # rows 1 and 2 wrong, row 3 not held out
  assert float(uherding.held_out_error(logits, labels, jnp.zeros(4, bool))) == 0.0


def test_herding_over_a_gate_covers_and_picks_only_the_gate():
  x, labeled = _points(5, n=80, d=4, num_labeled=6)
  gate = ~labeled & (np.arange(80) % 3 == 0)
  weights = jnp.asarray(np.random.default_rng(5).uniform(0.1, 1.0, 80).astype(np.float32))
  key = jax.random.key(5)
  picks = np.asarray(coverage.herding(key, x, gate, 5, weights, 0.5, labeled=labeled))
  assert np.all(gate[picks]) and len(set(picks.tolist())) == 5
  # The gate's complement among the unlabeled is neither covered nor picked: the same
  # picks as herding on the gate's points alone (with the labeled ones).
  keep = gate | labeled
  alone = np.asarray(
    coverage.herding(key, x[keep], gate[keep], 5, weights[keep], 0.5, labeled=labeled[keep])
  )
  np.testing.assert_array_equal(picks, np.flatnonzero(keep)[alone])
  # Without `labeled` the samples outside the candidates count as labeled (as before).
  full = coverage.herding(key, x, ~labeled, 5, weights, 0.5)
  np.testing.assert_array_equal(
    full, coverage.herding(key, x, ~labeled, 5, weights, 0.5, labeled=labeled)
  )


def test_the_gate_and_herding_over_it_jit_and_vmap_over_seeds():
  # The gated greedy step as a caller runs it: one jitted program vmapped over seeds
  # (logits, labeled sets, keys), equal to separate calls pick for pick.
  rng = np.random.default_rng(6)
  x = jnp.asarray(rng.normal(size=(60, 4)).astype(np.float32))
  logits = jnp.asarray(rng.normal(0.0, 2.0, (3, 60, 5)).astype(np.float32))
  labeled = jnp.asarray(rng.uniform(size=(3, 60)) < 0.15)
  keys = jax.random.split(jax.random.key(6), 3)

  def gated(key, logit, known, trusted):
    trust = uherding.labeled_trust(coverage.normalise(x), known, 0.7) if trusted else None
    gate = uherding.expected_error_gate(logit, 1.5, known, 4, trust)
    u = uherding.margin_uncertainty(logit, 1.5, known)
    u = u if trust is None else uherding.trusted_uncertainty(u, trust)
    return coverage.herding(key, x, gate, 4, u, 0.7, labeled=known), jnp.sum(gate)

  for trusted in (False, True):  # uherding_gated's step, uherding_trusted's
    run = jax.jit(jax.vmap(lambda k, lo, kn: gated(k, lo, kn, trusted)))  # noqa: B023
    picks, sizes = run(keys, logits, labeled)
    for i in range(3):
      one = gated(keys[i], logits[i], labeled[i], trusted)
      np.testing.assert_array_equal(picks[i], one[0])
      assert int(sizes[i]) == int(one[1])
      assert not np.asarray(labeled[i])[np.asarray(picks[i])].any()


def _ece_reference(logits, labels, temperature, bins=15):
  """The released code's ECELoss (pycls/calibration/metrics.py), in NumPy."""
  z = logits / temperature
  p = np.exp(z - z.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  conf, pred = p.max(1), p.argmax(1)
  acc = (pred == labels).astype(float)
  edges = np.linspace(0, 1, bins + 1)
  ece = 0.0
  for lo, hi in zip(edges[:-1], edges[1:], strict=True):
    inside = (conf > lo) & (conf <= hi)
    if inside.any():
      ece += abs(conf[inside].mean() - acc[inside].mean()) * inside.mean()
  return ece


def test_the_temperature_is_the_released_codes_ece_minimiser():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 4, 60)
  logits = rng.normal(size=(60, 4)) * 3 + 6 * np.eye(4)[labels] * (rng.random(60) < 0.6)[:, None]
  mask = np.ones(60, bool)
  mask[50:] = False  # rows outside the held-out part do not count
  for t in (1.0, 2.5, 7.0):
    ece = uherding.expected_calibration_error(
      jnp.asarray(logits, jnp.float32), jnp.asarray(labels), jnp.asarray(mask), t
    )
    np.testing.assert_allclose(float(ece), _ece_reference(logits[:50], labels[:50], t), atol=1e-5)
  errors = [_ece_reference(logits[:50], labels[:50], t) for t in uherding.TEMPERATURES]
  best = uherding.fit_temperature(jnp.asarray(logits, jnp.float32), jnp.asarray(labels), mask)
  assert abs(float(best) - uherding.TEMPERATURES[int(np.argmin(errors))]) < 1e-6
  assert float(best) > 1.0  # overconfident logits: softened


class _Scripted(SkactivemlClassifier):
  """A classifier whose predictions are given: the first call, then one per dropout pass."""

  def __init__(self, predictions=None, classes=None, missing_label=np.nan):
    super().__init__(classes=classes, missing_label=missing_label)
    self.predictions = predictions

  def fit(self, X, y, sample_weight=None):
    return self

  def predict_proba(self, X):
    raise NotImplementedError

  def predict(self, X):
    return self._queue.pop(0)

  def start(self):
    self._queue = [np.asarray(p) for p in self.predictions]
    return self


def test_dropquery_matches_scikit_activeml():
  # Candidates in four tight blobs, two of them flipped by most dropout passes, the other
  # two never: both pick one sample per blob among the flipped ones, the nearest its centre.
  rng = np.random.default_rng(0)
  centres = rng.normal(size=(4, 3)) * 5
  x = np.repeat(centres, 10, axis=0) + 0.1 * rng.normal(size=(40, 3))
  prediction = np.zeros(40, int)
  passes = np.zeros((5, 40), int)
  flipped = np.arange(40) < 20  # blobs 0 and 1
  passes[:, flipped] = 1
  passes[4, :5] = 0  # one pass agrees on five of them: 4 / 5 still > 0.5
  probs = np.eye(3)[prediction]
  mc_probs = np.eye(3)[passes]
  ours = coverage.dropquery(
    jax.random.key(0), jnp.asarray(x, jnp.float32), jnp.asarray(probs, jnp.float32),
    jnp.asarray(mc_probs, jnp.float32), jnp.ones(40, bool), 2,
  )  # fmt: skip
  clf = _Scripted([prediction, *passes], classes=[0, 1, 2]).start()
  peer = DropQuery(n_dropout_samples=5, random_state=0, cluster_algo_dict={"n_init": 10})
  theirs = peer.query(x, np.full(40, np.nan), clf, fit_clf=False, batch_size=2)
  assert sorted(np.asarray(ours).tolist()) == sorted(theirs.tolist())
  assert flipped[np.asarray(ours)].all()


def test_dropquery_clusters_a_bounded_draw_of_the_disagreeing_rows():
  # More rows disagree than its k-means buffer holds (DROPQUERY_ROWS x k): it clusters a
  # uniform draw of them, so two separated blobs still get one pick each, every pick among
  # the disagreeing rows; a partial query (num) fills the first slots only.
  k = 2
  rows = coverage.DROPQUERY_ROWS * k
  n = 10 * rows
  rng = np.random.default_rng(1)
  x = np.concatenate([np.zeros((n // 2, 3)), np.full((n // 2, 3), 8.0)])
  x = x + 0.2 * rng.normal(size=x.shape)
  flipped = rng.random(n) < 0.6  # about 6x the buffer
  probs = np.eye(3)[np.zeros(n, int)]
  mc_probs = np.eye(3)[np.where(flipped, 1, 0)[None].repeat(4, 0)]
  args = (jnp.asarray(x, jnp.float32), jnp.asarray(probs, jnp.float32))
  args += (jnp.asarray(mc_probs, jnp.float32), jnp.ones(n, bool))
  for seed in range(3):
    picks = np.asarray(
      jax.jit(coverage.dropquery, static_argnums=5)(jax.random.key(seed), *args, k)
    )
    assert flipped[picks].all() and sorted(picks < n // 2) == [False, True], picks
  one = coverage.dropquery(jax.random.key(0), *args, k, num=jnp.int32(1))
  assert np.asarray(one)[1] == -1 and flipped[np.asarray(one)[0]]


def test_two_scale_herding_maximises_coverage_under_the_mean_of_two_gaussians():
  # k(d) = (exp(-d^2 / s^2) + exp(-d^2 / w^2)) / 2, by hand at d^2 = 0, 0.25 and 1.
  kernel = coverage.two_scale_rbf(0.5, 1.0)
  got = np.asarray(kernel(jnp.asarray([0.0, 0.25, 1.0])))
  want = 0.5 * (np.exp(-np.array([0.0, 1.0, 4.0])) + np.exp(-np.array([0.0, 0.25, 1.0])))
  np.testing.assert_allclose(got, want, rtol=1e-6)
  x, labeled = _points(7, n=40, d=3, num_labeled=3)
  weights = np.random.default_rng(7).uniform(0.1, 1.0, 40).astype(np.float32)
  key = jax.random.key(7)
  # The same width twice is the one-width kernel.
  np.testing.assert_array_equal(
    coverage.herding(key, x, ~labeled, 4, weights, 0.4, wide=0.4),
    coverage.herding(key, x, ~labeled, 4, weights, 0.4),
  )
  # Each pick maximises the weighted gain sum_n w_n max(k(x_n, x_c) - m_n, 0) under the
  # two-scale kernel, given the labeled points and the picks before it.
  picks = np.asarray(coverage.herding(key, x, ~labeled, 4, weights, 0.3, wide=1.0))
  d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
  k = 0.5 * (np.exp(-d2 / 0.09) + np.exp(-d2))
  w = np.where(labeled, 0.0, weights)
  known = labeled.copy()
  for pick in picks:
    m = np.max(np.where(known[None, :], k, 0.0), axis=1)
    gain = (w[:, None] * np.maximum(k - m[:, None], 0.0)).sum(0)
    gain[known] = -np.inf
    assert gain[pick] >= gain.max() - 1e-5
    known[pick] = True
  # A different kernel than either width alone: the picks differ from the narrow one's.
  assert not np.array_equal(picks, np.asarray(coverage.herding(key, x, ~labeled, 4, weights, 0.3)))


def test_herding_without_unit_norm_measures_the_embedding_as_it_is():
  x, labeled = _points(9, n=40, d=3, num_labeled=3)
  scaled = x * np.random.default_rng(9).uniform(0.5, 3.0, (40, 1)).astype(np.float32)
  weights = np.random.default_rng(9).uniform(0.1, 1.0, 40).astype(np.float32)
  key = jax.random.key(9)
  # Rows of norm 1 already: the same picks either way.
  np.testing.assert_array_equal(
    coverage.herding(key, x, ~labeled, 4, weights, 0.4, unit_norm=False),
    coverage.herding(key, x, ~labeled, 4, weights, 0.4),
  )
  # Rescaled rows: the default normalises the scale away, unit_norm=False does not.
  np.testing.assert_array_equal(
    coverage.herding(key, scaled, ~labeled, 4, weights, 0.4),
    coverage.herding(key, x, ~labeled, 4, weights, 0.4),
  )
  raw = np.asarray(coverage.herding(key, scaled, ~labeled, 4, weights, 0.4, unit_norm=False))
  d2 = ((scaled[:, None] - scaled[None]) ** 2).sum(-1)
  k = np.exp(-d2 / 0.16)
  w = np.where(labeled, 0.0, weights)
  known = labeled.copy()
  for pick in raw:  # each pick a maximiser of the gain in the unnormalised space
    m = np.max(np.where(known[None, :], k, 0.0), axis=1)
    gain = (w[:, None] * np.maximum(k - m[:, None], 0.0)).sum(0)
    gain[known] = -np.inf
    assert gain[pick] >= gain.max() - 1e-5
    known[pick] = True
