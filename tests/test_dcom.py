"""DCoM against a NumPy transcription of the released code (avihu111/TypiClust,
deep-al/pycls/al/DCoM.py: new_centroids_deltas, calculate_coverage, select_samples), and as
a strategy: pure, jitted, vmapped, its radii carried across rounds."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import strategies
from autoal_jax.strategies import dcom
from autoal_jax.types import Context, PoolOutputs, Setup


def _minmax(v):
  span = v.max() - v.min()
  return (v - v.min()) / (span if span > 0 else 1.0)


def _greedy(d, margin, labeled, radii, weight, follow):
  """select_samples' loop on every sample, at the mean radius. Where several samples tie
  for the best score (the coverage term counts neighbours: integers), the code takes
  whichever its argsort puts first and this library a random one; so the reference
  checks that ``follow[i]`` (the library's pick) is one of the best and goes on with it.
  Returns the number of samples tied at each step."""
  lab = np.nonzero(labeled)[0]
  avg = np.mean(radii[lab])
  covered = np.any((d[lab] < avg) & (d[lab] < radii[lab][:, None]), axis=0)
  edges = d < avg
  edges[lab, :] = False
  edges[:, covered] = False
  margin = margin.copy()
  margin[lab] = 0
  ties = []
  for i, j in enumerate(follow):
    score = weight * _minmax(margin) + (1 - weight) * _minmax(edges.sum(1).astype(np.float64))
    score[lab] = -np.inf
    score[follow[:i]] = -np.inf
    assert score[j] >= score.max() - 1e-5, (i, j, score[j], score.max())
    ties.append(int(np.sum(score >= score.max() - 1e-5)))
    edges[:, edges[j].copy()] = False
    margin[j] = 0
  return ties


def _reference(x, probs, labeled, labels, radii, follow):
  """One DCoM query as the released code runs it (float64, every sample: no subset),
  following the library's picks through ties (`_greedy`). Returns (radii, competence,
  coverage, ties per pick)."""
  x = x / np.linalg.norm(x, axis=1, keepdims=True)
  d = np.sqrt(np.maximum(((x[:, None] - x[None]) ** 2).sum(-1), 0.0))
  lab = np.nonzero(labeled)[0]
  old = [i for i in lab if radii[i] >= 0]
  new = [i for i in lab if radii[i] < 0]
  radii = radii.astype(np.float64).copy()
  start = round(float(np.mean(radii[old])), 2) if old else dcom.INITIAL_DELTA
  radii[new] = start

  def coverage(r):
    return np.mean(np.any(d[lab] < r[lab][:, None], axis=0))

  threshold = 0.2 * coverage(radii) + 0.4
  pseudo = probs.argmax(1)
  for c in new:  # new_centroids_deltas
    low, high = 0.0, dcom.MAX_DELTA
    mid = (low + high) / 2
    while abs(low - high) > dcom.DELTA_RESOLUTION:
      neighbours = np.nonzero(d[c] < mid)[0]
      purity = np.mean(pseudo[neighbours] == labels[c]) if len(neighbours) else 0.0
      if purity < threshold:
        high = mid
      else:
        low = mid
      mid = (low + high) / 2
    radii[c] = round(mid, 2)
  share = coverage(radii)
  p = 1 + np.exp(-dcom.K_LOGISTIC * (1 - dcom.A_LOGISTIC))
  weight = round(p / (1 + np.exp(-dcom.K_LOGISTIC * (share - dcom.A_LOGISTIC))), 3)
  top = np.sort(probs, axis=1)[:, ::-1]
  margin = _minmax(-(top[:, 0] - top[:, 1]))
  ties = _greedy(d, margin, labeled, radii, weight, list(follow))
  return radii, weight, share, ties


def _case(seed, structured):
  rng = np.random.RandomState(seed)
  n, classes = 240, 3
  y = rng.randint(0, classes, n)
  if structured:  # separated clusters, a model that is mostly right: large pure balls
    centres = 3.0 * np.eye(classes, 6)
    x = centres[y] + 0.4 * rng.randn(n, 6)
    logits = 4.0 * np.eye(classes)[y] + rng.randn(n, classes)
  else:
    x = rng.randn(n, 6)
    logits = 2.0 * rng.randn(n, classes)
  probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  labeled = np.zeros(n, bool)
  labeled[rng.choice(n, 15, replace=False)] = True
  return x.astype(np.float32), probs.astype(np.float32), labeled, y.astype(np.int32)


def _ours(x, probs, labeled, labels, radii, k):
  picks, radii, info = jax.jit(dcom.query, static_argnums=6)(
    jax.random.PRNGKey(0),
    jnp.asarray(radii, jnp.float32),
    jnp.asarray(x),
    jnp.asarray(probs),
    jnp.asarray(labeled),
    jnp.asarray(np.where(labeled, labels, -1)),
    k,
  )
  return np.asarray(picks), np.asarray(radii), info.metrics


@pytest.mark.parametrize("seed,structured", [(0, False), (1, True), (2, True)])
def test_two_queries_match_the_released_code(seed, structured):
  x, probs, labeled, y = _case(seed, structured)
  radii = np.full(len(x), -1.0)
  for _ in range(2):  # the initial set's radii, then the first picks' (the others kept)
    got, got_radii, metrics = _ours(x, probs, labeled, y, radii, 12)
    want_radii, weight, share, ties = _reference(x, probs, labeled, y, radii, got)
    np.testing.assert_allclose(got_radii[labeled], want_radii[labeled], atol=1e-6)
    assert float(metrics["competence"]) == pytest.approx(weight, abs=1e-6)
    assert float(metrics["coverage"]) == pytest.approx(share, abs=1e-6)
    assert len(set(got.tolist())) == 12 and not labeled[got].any()
    labeled = labeled.copy()
    labeled[got] = True
    radii = np.where(labeled, got_radii, -1.0)
    radii[got] = -1.0  # the picks get theirs at the next query
  assert 0.0 <= weight <= 1.0


def test_competence_moves_from_coverage_to_margin():
  assert float(dcom.competence(0.5)) == 0.0
  assert float(dcom.competence(0.8)) == pytest.approx(0.5, abs=1e-3)
  assert float(dcom.competence(1.0)) == 1.0
  assert dcom.search_steps() == 5  # 1.1 halved down to 0.034


def test_coverage_of_several_radii_in_one_pass():
  # Rows of radii share the pass over the distances; each row is its own coverage, exactly
  # the brute force's (chunks smaller than the labeled set, padding included).
  rng = np.random.RandomState(5)
  x = rng.randn(90, 4).astype(np.float32)
  x = x / np.linalg.norm(x, axis=1, keepdims=True)
  labeled = np.zeros(90, bool)
  labeled[rng.choice(90, 11, replace=False)] = True
  radii = np.stack([rng.uniform(0.2, 0.9, 90), rng.uniform(0.0, 0.5, 90)]).astype(np.float32)
  got = dcom.covered_by_balls(jnp.asarray(x), jnp.asarray(labeled), jnp.asarray(radii), chunk=4)
  d = np.sqrt(np.maximum(((x[:, None] - x[None]) ** 2).sum(-1), 0.0))
  lab = np.nonzero(labeled)[0]
  for row in range(2):
    want = np.any(d[lab] < radii[row, lab][:, None], axis=0)
    np.testing.assert_array_equal(np.asarray(got[row]), want)
    one = dcom.covered_by_balls(jnp.asarray(x), jnp.asarray(labeled), jnp.asarray(radii[row]))
    np.testing.assert_array_equal(np.asarray(one), want)


def test_low_competence_covers_the_densest_uncovered_region(key):
  # Nothing labeled near the dense cluster: with the competence at 0 the first pick is
  # in it, whatever the margins say.
  rng = np.random.RandomState(0)
  dense = np.array([1.0, 0.0, 0.0]) + 0.05 * rng.randn(100, 3)
  sparse = rng.randn(60, 3)
  x = np.concatenate([dense, sparse]).astype(np.float32)
  labeled = np.zeros(160, bool)
  labeled[150:] = True
  # The model predicts any of three classes outside the cluster and class 0 in it,
  # confidently (margin alone avoids it); the labeled samples are of class 1: their balls
  # stay small (impure), the pool mostly uncovered.
  probs = np.eye(3, dtype=np.float32)[rng.randint(0, 3, 160)] * 0.4 + 0.2
  probs[:100] = [0.98, 0.01, 0.01]
  picks, radii, info = dcom.query(
    key,
    jnp.full(160, -1.0),
    jnp.asarray(x),
    jnp.asarray(probs),
    jnp.asarray(labeled),
    jnp.asarray(np.where(labeled, 1, -1)),
    1,
  )
  assert float(info.metrics["competence"]) < 0.01
  assert int(picks[0]) < 100


def test_the_greedy_step_mixes_margin_and_coverage_as_the_code_does(key):
  rng = np.random.RandomState(4)
  n = 200
  x = rng.randn(n, 2)
  x = x / np.linalg.norm(x, axis=1, keepdims=True)
  labeled = np.zeros(n, bool)
  labeled[rng.choice(n, 10, replace=False)] = True
  radii = np.where(labeled, rng.uniform(0.1, 0.3, n), -1.0)
  margin = rng.uniform(size=n)
  d = np.sqrt(np.maximum(((x[:, None] - x[None]) ** 2).sum(-1), 0.0))
  radius = np.mean(radii[labeled])
  covered = np.any((d[labeled] < radius) & (d[labeled] < radii[labeled][:, None]), axis=0)
  for weight in (0.0, 0.4, 1.0):
    picks = dcom.greedy_mix(
      key,
      jnp.asarray(x, jnp.float32),
      jnp.asarray(np.where(labeled, 0.0, margin), jnp.float32),
      jnp.asarray(~labeled),
      jnp.asarray(~covered),
      jnp.asarray(~labeled),
      radius,
      weight,
      15,
    )
    picks = np.asarray(picks)
    ties = _greedy(d, margin, labeled, radii, weight, list(picks))
    assert len(set(picks.tolist())) == 15 and not labeled[picks].any()
    if weight > 0:  # continuous scores: one best sample at every step
      assert ties == [1] * 15, ties


def test_dcom_is_a_pure_strategy_that_vmaps_over_seeds():
  x, probs, labeled, y = _case(3, True)
  n = len(x)
  strategy = strategies.build("dcom", Setup(num_pool=n, query_size=8, max_labeled=40))

  def context(mask):
    outputs = PoolOutputs(
      logits=jnp.log(jnp.asarray(probs)), probs=jnp.asarray(probs), embeddings=jnp.asarray(x)
    )
    return Context(outputs, mask, jnp.where(mask, jnp.asarray(y), -1), jnp.asarray(x))

  masks = jnp.stack([jnp.asarray(labeled), jnp.asarray(np.roll(labeled, 7))])
  keys = jax.random.split(jax.random.PRNGKey(1), 2)
  states = jax.vmap(strategy.init)(keys, jax.vmap(context)(masks))
  query = jax.jit(jax.vmap(lambda s, k, m: strategy.query(s, k, context(m), 8)))
  picks, states, _ = query(states, keys, masks)
  for seed in range(2):
    alone, radii, _ = jax.jit(lambda s, k, m: strategy.query(s, k, context(m), 8))(
      jnp.full(n, -1.0), keys[seed], masks[seed]
    )
    np.testing.assert_array_equal(np.asarray(picks[seed]), np.asarray(alone))
    np.testing.assert_allclose(np.asarray(states[seed]), np.asarray(radii))
    mask = np.asarray(masks[seed])
    assert not mask[np.asarray(alone)].any() and len(set(np.asarray(alone).tolist())) == 8
    assert (np.asarray(radii)[mask] >= 0).all() and (np.asarray(radii)[~mask] == -1).all()
