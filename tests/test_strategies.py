import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import strategies
from autoal_jax.types import PoolOutputs


def _outputs(probs):
  probs = jnp.asarray(probs, jnp.float32)
  n = probs.shape[0]
  return PoolOutputs(jnp.log(probs + 1e-9), probs, jnp.zeros((n, 3), jnp.float32), None)


def test_entropy_hand_computed():
  probs = jnp.asarray(
    [[1.0, 0.0, 0.0, 0.0], [0.25] * 4, [0.5, 0.5, 0.0, 0.0], [0.7, 0.1, 0.1, 0.1]]
  )
  expected = [0.0, np.log(4), np.log(2), -(0.7 * np.log(0.7) + 3 * 0.1 * np.log(0.1))]
  np.testing.assert_allclose(strategies.entropy(probs), expected, rtol=1e-6, atol=1e-7)
  with pytest.raises(AssertionError):
    strategies.entropy(probs[0])


def test_top_k_masked_never_picks_outside_the_mask_and_orders_by_score(key):
  scores = jnp.asarray([0.9, 0.1, 0.8, 0.7, 0.95, 0.2], jnp.float32)
  mask = jnp.asarray([False, True, True, True, False, True])
  np.testing.assert_array_equal(strategies.top_k_masked(key, scores, mask, 3), [2, 3, 5])
  assert sorted(strategies.top_k_masked(key, scores, mask, 4).tolist()) == [1, 2, 3, 5]


def test_top_k_masked_breaks_ties_with_the_key():
  scores, mask = jnp.zeros(40, jnp.float32), jnp.ones(40, bool)
  a = strategies.top_k_masked(jax.random.key(0), scores, mask, 5)
  np.testing.assert_array_equal(a, strategies.top_k_masked(jax.random.key(0), scores, mask, 5))
  b = strategies.top_k_masked(jax.random.key(1), scores, mask, 5)
  assert set(a.tolist()) != set(b.tolist())


@pytest.mark.parametrize("name", strategies.names())
def test_every_registered_strategy_keeps_the_pick_contract(name, key):
  probs = jax.nn.softmax(jax.random.normal(key, (64, 5)), -1)
  mask = jax.random.bernoulli(jax.random.key(3), 0.5, (64,))
  k = 10
  pick = jax.jit(lambda key, outputs, mask: strategies.pick(name, key, outputs, mask, k))
  picks = np.asarray(pick(key, _outputs(probs), mask))
  assert picks.shape == (k,) and picks.dtype == np.int32
  assert len(set(picks.tolist())) == k and np.asarray(mask)[picks].all()
  pick(jax.random.key(5), _outputs(probs), mask)
  assert pick._cache_size() == 1  # a second call compiles nothing


def test_unknown_strategy_lists_the_valid_ones():
  with pytest.raises(ValueError, match=r"Unknown strategy 'badge2'.*'entropy'.*'random'"):
    strategies.get("badge2")


def test_random_sampling_is_uniform_over_the_candidates():
  mask = jnp.arange(10) < 5
  counts = np.zeros(10)
  for seed in range(200):
    counts[np.asarray(strategies.random_sampling(jax.random.key(seed), mask, 2))] += 1
  assert counts[5:].sum() == 0 and counts[:5].min() > 50  # 80 expected each
