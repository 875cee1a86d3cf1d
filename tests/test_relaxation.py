import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autoal_jax import relaxation


def test_gumbel_softmax_rows_are_on_the_simplex_and_hard_is_straight_through(key):
  logits = jnp.asarray([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
  soft = relaxation.gumbel_softmax(key, logits, 0.5)
  np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-6)
  hard = relaxation.gumbel_softmax(key, logits, 0.5, hard=True)
  np.testing.assert_array_equal(hard, jax.nn.one_hot(jnp.argmax(soft, -1), 3))

  def first(fn):
    return jax.grad(lambda o: jnp.sum(fn(o) * jnp.arange(3.0)[None, :]))(logits)

  # The straight-through estimator passes the soft sample's gradient.
  np.testing.assert_allclose(
    first(lambda o: relaxation.gumbel_softmax(key, o, 0.5, hard=True)),
    first(lambda o: relaxation.gumbel_softmax(key, o, 0.5)),
    rtol=1e-6,
  )
  # A low temperature approaches the argmax of logits + noise.
  cold = relaxation.gumbel_softmax(key, logits, 1e-3)
  np.testing.assert_allclose(cold, hard, atol=1e-6)


def test_thresholds_by_hand():
  values = jnp.asarray([0.0, 0.0, 0.0, 1.0, 0.0, 3.0, 2.0, 9.0])
  mask = jnp.asarray([True] * 7 + [False])
  # 7 valid values, r = 2/7: k = 2 -> midway between the 2nd (2.0) and 3rd (1.0) largest.
  assert float(relaxation.selection_threshold(values, mask, 2 / 7)) == pytest.approx(1.5)
  # A tie falls on one side: r = 1/7 -> between 3.0 and 2.0.
  assert float(relaxation.selection_threshold(values, mask, 1 / 7)) == pytest.approx(2.5)
  # k rounds up like the candidates' pick count: r n = 1.3 -> k = 2.
  assert float(relaxation.selection_threshold(values, mask, 1.3 / 7)) == pytest.approx(1.5)
  valid = np.asarray(values)[:7]
  for q in (0.0, 0.3, 0.5, 0.9, 1.0):
    assert float(relaxation.masked_quantile(values, mask, q)) == pytest.approx(
      np.quantile(valid, q)
    )


def test_soft_selection_counts_about_r_n_despite_ties():
  # Under 'picks' most mixed scores tie at 0; 10 of 200 are 1.
  m = jnp.zeros(200).at[jnp.arange(0, 200, 20)].set(1.0)
  mask = jnp.ones(200, bool)
  s, theta = relaxation.soft_select(m, mask, 0.05, 0.05)
  assert float(theta) == pytest.approx(0.5)
  assert float(jnp.sum(s)) == pytest.approx(10.0, abs=0.5)
  assert float(relaxation.size_loss(s, mask, 0.05)) < 1e-5
  # Padding counts for nothing.
  s_pad, _ = relaxation.soft_select(jnp.pad(m, (0, 50)), jnp.pad(mask, (0, 50)), 0.05, 0.05)
  np.testing.assert_allclose(s_pad[:200], s, rtol=1e-6)
  assert float(jnp.sum(s_pad[200:])) == 0.0
  # The threshold is a stop-gradient: moving every score together moves nothing.
  grad = jax.grad(lambda x: jnp.sum(relaxation.soft_select(x, mask, 0.05, 0.05)[0]))(m)
  assert float(jnp.abs(grad).max()) > 0


def test_gaussian_mixture_em_recovers_separated_components(key):
  a, b = jax.random.split(key)
  x = jnp.concatenate([jax.random.normal(a, (600,)) - 5.0, 0.5 * jax.random.normal(b, (400,)) + 3])
  gmm = relaxation.fit_gaussian_mixture(x, jnp.ones(1000, bool), num_components=2)
  order = jnp.argsort(gmm.means)
  np.testing.assert_allclose(gmm.means[order], [-5.0, 3.0], atol=0.15)
  np.testing.assert_allclose(gmm.weights[order], [0.6, 0.4], atol=0.03)
  np.testing.assert_allclose(jnp.sqrt(gmm.variances[order]), [1.0, 0.5], atol=0.1)
  draws = relaxation.sample_gaussian_mixture(key, gmm, 20000)
  assert float(jnp.mean(draws > 0)) == pytest.approx(0.4, abs=0.02)


def test_the_released_rule_is_zero_or_one_with_exactly_zero_gradient(key):
  logits = jax.random.normal(key, (64, 5))
  decisions = (jax.random.uniform(jax.random.fold_in(key, 1), (64, 5)) < 0.2).astype(jnp.float32)
  mask = jnp.arange(64) < 60

  def count(o):
    s, _, _ = relaxation.code_select(key, o, decisions, mask, 0.1)
    return jnp.sum(s * jnp.arange(64.0))

  s, p, _ = relaxation.code_select(key, logits, decisions, mask, 0.1)
  assert set(np.unique(np.asarray(s)).tolist()) <= {0.0, 1.0}
  np.testing.assert_allclose(float(jnp.sum(p)), 1.0, rtol=1e-5)
  assert float(jnp.sum(p[60:])) == 0.0
  grad = jax.grad(count)(logits)
  assert np.all(np.asarray(grad) == 0.0)  # the released code's SearchNet learns nothing


def test_the_selection_threshold_is_a_stop_gradient(key):
  # Distinct scores: theta is the midpoint of two of them, so without the stop-gradient
  # those two samples would get a share of every sample's gradient through theta.
  m_key, c_key = jax.random.split(key)
  m = jax.random.normal(m_key, (50,))
  c = jax.random.normal(c_key, (50,))
  mask = jnp.ones(50, bool)
  s, _ = relaxation.soft_select(m, mask, 0.1, 0.2)
  grad = jax.grad(lambda x: jnp.sum(relaxation.soft_select(x, mask, 0.1, 0.2)[0] * c))(m)
  np.testing.assert_allclose(grad, s * (1 - s) / 0.2 * c, rtol=1e-5, atol=1e-7)
