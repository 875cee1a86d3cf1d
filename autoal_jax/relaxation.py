"""Differentiable relaxations of AutoAL's strategy choice and sample selection.

Pure functions, shapes in the package alphabet (V samples, K strategies):

- `gumbel_softmax`: per-sample strategy weights from SearchNet logits (Jang et al. 2017;
  Maddison et al. 2017), straight-through when ``hard``.
- `soft_select`: the soft top-r selection ``s = sigmoid((m - theta) / tau_s)`` with theta
  the stop-gradient (1 - r) quantile of the mixed score m (Wang et al. 2025, section 3),
  taken midway between order statistics (`selection_threshold`).
- `size_loss`: ``(mean(s) - r)^2``, the paper's L_re keeping the selected count near r|V|.
- `code_select`: the released code's rule (a 5-component Gaussian mixture fitted by EM to
  the sample-softmax of the mixed logits, its (1 - r) percentile, a sigmoid of slope 1e11).
  Its output is exactly 0 or 1, so nothing upstream gets a gradient: it exists to
  reproduce the released code ("autoal-code"), not to learn.

Every function takes a validity mask, because autoal_jax pads the validation half to a
fixed capacity so that rounds never recompile.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

RELAXATIONS = ("gumbel", "softmax", "code")

# The released code's sigmoid slope: s = sigmoid(1e11 (p - theta)) is exactly 0 or 1.
CODE_SLOPE = 1e11


def gumbel_softmax(
  key: jax.Array, logits: jax.Array, tau: float | jax.Array, hard: bool = False
) -> jax.Array:
  """Gumbel-softmax sample over the last axis (Jang, Gu & Poole 2017).

  Args:
    key: PRNG key of the Gumbel noise g = -log(-log u).
    logits: float[..., K].
    tau: temperature > 0 (may be traced, for annealing).
    hard: straight-through: the forward value is one-hot(argmax), the gradient that of
      the soft sample.

  Returns:
    float32[..., K], rows on the simplex.
  """
  noise = jax.random.gumbel(key, logits.shape, jnp.float32)
  soft = jax.nn.softmax((logits.astype(jnp.float32) + noise) / tau, axis=-1)
  if not hard:
    return soft
  one_hot = jax.nn.one_hot(jnp.argmax(soft, -1), logits.shape[-1], dtype=soft.dtype)
  return one_hot + soft - jax.lax.stop_gradient(soft)


def masked_quantile(values: jax.Array, mask: jax.Array, q: float | jax.Array) -> jax.Array:
  """The q quantile of ``values[mask]`` (NumPy's default 'linear' method), fixed shapes.

  Args:
    values: float[V].
    mask: bool[V], at least one True.
    q: in [0, 1].

  Returns:
    float32 scalar.
  """
  chex.assert_rank([values, mask], 1)
  return jnp.nanquantile(jnp.where(mask, values.astype(jnp.float32), jnp.nan), q)


def selection_threshold(values: jax.Array, mask: jax.Array, ratio: float | jax.Array):
  """The (1 - r) quantile of ``values[mask]`` taken midway between the k-th and (k+1)-th
  largest values, k = ceil(r n) clipped to [1, n - 1] (NumPy's 'midpoint' quantile).

  Under the ``picks`` signal most mixed scores tie at 0; a linear-interpolation quantile
  would then sit on the tie, where the sigmoid gives every tied sample 0.5 and the soft
  count drifts far from r n. Midway between the order statistics, a tie falls wholly on
  one side and sum(s) tracks r n.

  k rounds up like the candidates' pick count on V (``ceil(r |V|)``, `search.AutoAL`):
  with round(), a SearchNet whose weights sit on one candidate puts ceil(r n) samples at
  m = 1 and k = round(r n) < ceil(r n) inside that tie, so all of them got s = 0.5 (the
  soft count on V then alternated between ~r n / 2 and ~r n from round to round; measured
  in the compare runs of docs/results.md). A 1e-3 tolerance keeps an integral r n that
  float rounding puts just above an integer from adding one.

  Returns:
    float32 scalar.
  """
  chex.assert_rank([values, mask], 1)
  ordered = -jnp.sort(-jnp.where(mask, values.astype(jnp.float32), -jnp.inf))  # descending
  count = jnp.sum(mask)
  k = jnp.clip(
    jnp.ceil(ratio * count.astype(jnp.float32) - 1e-3).astype(jnp.int32),
    1,
    jnp.maximum(count - 1, 1),
  )
  return 0.5 * (ordered[k - 1] + ordered[jnp.minimum(k, jnp.maximum(count - 1, 0))])


def soft_select(
  scores: jax.Array,
  mask: jax.Array,
  ratio: float | jax.Array,
  tau_s: float | jax.Array,
  theta: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
  """Soft top-r selection: s = sigmoid((m - theta) / tau_s), zero outside the mask.

  Args:
    scores: m, float[V], the mixed score.
    mask: bool[V].
    ratio: r, the fraction to select.
    tau_s: the selection temperature.
    theta: the threshold; default the stop-gradient (1 - r) quantile of m over the mask
      (`selection_threshold`). Passing one holds it fixed (finite-difference checks of the
      hypergradient do).

  Returns:
    (s float32[V], theta float32 scalar).
  """
  if theta is None:
    theta = jax.lax.stop_gradient(selection_threshold(scores, mask, ratio))
  s = jax.nn.sigmoid((scores - theta) / tau_s)
  return jnp.where(mask, s, 0.0), theta


def size_loss(s: jax.Array, mask: jax.Array, ratio: float | jax.Array) -> jax.Array:
  """(mean of s over the mask - r)^2: keeps the soft-selected count near r * |V|."""
  count = jnp.maximum(jnp.sum(mask), 1).astype(jnp.float32)
  return jnp.square(jnp.sum(jnp.where(mask, s, 0.0)) / count - ratio)


def anneal(start: float, end: float, step: jax.Array, num_steps: int) -> jax.Array:
  """Geometric annealing from ``start`` (step 0) to ``end`` (step num_steps - 1)."""
  schedule = optax.exponential_decay(
    init_value=start, transition_steps=max(num_steps - 1, 1), decay_rate=end / start, end_value=end
  )
  with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32 steps
    return jnp.asarray(schedule(jnp.maximum(step, 0)), jnp.float32)


class GaussianMixture1D(NamedTuple):
  """A 1-D Gaussian mixture: weights, means, variances, each float32[M]."""

  weights: jax.Array
  means: jax.Array
  variances: jax.Array


def fit_gaussian_mixture(
  x: jax.Array,
  mask: jax.Array,
  num_components: int = 5,
  num_iters: int = 100,
  reg_covar: float = 1e-6,
) -> GaussianMixture1D:
  """EM for a 1-D Gaussian mixture on ``x[mask]``, as the released code's scikit-learn call.

  Means start at evenly spaced quantiles of the data, variances at the data's variance;
  ``reg_covar`` is added to every variance, as scikit-learn's default does (on softmax
  values of order 1/V it dominates, which the released rule inherits). A fixed number of
  EM steps keeps the cost static.

  Args:
    x: float[V].
    mask: bool[V].
    num_components: M.
    num_iters: EM steps.
    reg_covar: variance floor.

  Returns:
    The fitted `GaussianMixture1D`.
  """
  chex.assert_rank([x, mask], 1)
  x = x.astype(jnp.float32)
  weight = mask.astype(jnp.float32)
  count = jnp.maximum(jnp.sum(weight), 1.0)
  mean = jnp.sum(weight * x) / count
  var = jnp.sum(weight * jnp.square(x - mean)) / count + reg_covar
  qs = (jnp.arange(num_components, dtype=jnp.float32) + 0.5) / num_components
  init = GaussianMixture1D(
    jnp.full(num_components, 1.0 / num_components),
    jax.vmap(lambda q: masked_quantile(x, mask, q))(qs),
    jnp.full(num_components, var),
  )

  def em(_, gmm):
    log_p = (
      jnp.log(gmm.weights)[None, :]
      - 0.5 * jnp.log(2 * jnp.pi * gmm.variances)[None, :]
      - 0.5 * jnp.square(x[:, None] - gmm.means[None, :]) / gmm.variances[None, :]
    )
    resp = jax.nn.softmax(log_p, axis=1) * weight[:, None]  # [V, M]
    nk = jnp.sum(resp, 0) + 10 * jnp.finfo(jnp.float32).eps
    means = jnp.sum(resp * x[:, None], 0) / nk
    variances = jnp.sum(resp * jnp.square(x[:, None] - means[None, :]), 0) / nk + reg_covar
    return GaussianMixture1D(nk / count, means, variances)

  return jax.lax.fori_loop(0, num_iters, em, init)


def sample_gaussian_mixture(key: jax.Array, gmm: GaussianMixture1D, num: int) -> jax.Array:
  """``num`` samples of a `GaussianMixture1D`: float32[num]."""
  component_key, normal_key = jax.random.split(key)
  component = jax.random.categorical(component_key, jnp.log(gmm.weights), shape=(num,))
  noise = jax.random.normal(normal_key, (num,))
  return gmm.means[component] + jnp.sqrt(gmm.variances[component]) * noise


def code_scores(logits: jax.Array, decisions: jax.Array, mask: jax.Array) -> jax.Array:
  """The released code's ranking score: p = softmax over the samples of sum_k A[:, k] o[:, k].

  Args:
    logits: o, float[V, K], SearchNet's raw logits.
    decisions: A, float[V, K].
    mask: bool[V].

  Returns:
    float32[V], zero outside the mask.
  """
  chex.assert_rank([logits, decisions, mask], [2, 2, 1])
  z = jnp.sum(decisions * logits, axis=1)
  return jax.nn.softmax(jnp.where(mask, z, -jnp.inf))


def code_select(
  key: jax.Array,
  logits: jax.Array,
  decisions: jax.Array,
  mask: jax.Array,
  ratio: float | jax.Array,
  num_samples: int = 10_000,
  slope: float = CODE_SLOPE,
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The released AutoAL code's selection rule (AUTOAL.md section 5), for comparison.

  p = `code_scores`; theta = the (1 - r) percentile of ``num_samples`` draws from a
  5-component Gaussian mixture fitted to p; s = sigmoid(slope * (p - theta)). With the
  code's slope of 1e11, s is exactly 0 or 1 in float32 and its gradient exactly 0.

  Returns:
    (s float32[V], p float32[V], theta float32 scalar).
  """
  p = code_scores(logits, decisions, mask)
  theta = code_threshold(key, p, mask, ratio, num_samples)
  return code_soft(p, theta, mask, slope), p, theta


def code_soft(p: jax.Array, theta: jax.Array, mask: jax.Array, slope: float = CODE_SLOPE):
  """The released rule's selection ``sigmoid(slope (p - theta))``, 0 outside the mask."""
  return jnp.where(mask, jax.nn.sigmoid(slope * (p - theta)), 0.0)


def code_threshold(
  key: jax.Array, p: jax.Array, mask: jax.Array, ratio, num_samples: int = 10_000
) -> jax.Array:
  """The released rule's threshold: the (1 - r) percentile of ``num_samples`` draws from
  a 5-component Gaussian mixture fitted to ``p[mask]`` (a stop-gradient scalar)."""
  gmm = fit_gaussian_mixture(jax.lax.stop_gradient(p), mask)
  draws = sample_gaussian_mixture(key, gmm, num_samples)
  return jax.lax.stop_gradient(jnp.quantile(draws, 1.0 - ratio))
