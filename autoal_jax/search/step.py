"""The search's state, its bi-level step and the query's mixed score (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from autoal_jax import data as data_lib
from autoal_jax import losses, models, passes, relaxation, strategies
from autoal_jax import train as train_lib
from autoal_jax.search.config import SearchConfig, StepMetrics
from autoal_jax.search.losses import (
  fit_objective,
  hard_samples_objective,
  loss_net_objective,
  per_sample_ce,
)
from autoal_jax.train import TrainState


class SearchState(NamedTuple):
  """What the search carries across rounds: SearchNet and LossNet, warm-started."""

  search: TrainState
  loss: TrainState


class BilevelState(NamedTuple):
  """The three networks during one round's bi-level updates."""

  fit: TrainState
  search: TrainState
  loss: TrainState


class SearchData(NamedTuple):
  """One round's fixed-shape view of the validation half V (capacity V_max).

  Attributes:
    index: int32[V_max], pool indices of V (padding repeats a valid index).
    mask: bool[V_max], True for the real members of V.
    decisions: float32[V_max, K], the candidates' decisions on V.
    ratio: float32 scalar, r = b / N.
  """

  index: jax.Array
  mask: jax.Array
  decisions: jax.Array
  ratio: jax.Array


def split_labeled(key: jax.Array, labeled: jax.Array, capacity: int):
  """A random split of the labeled set into halves T and V, V padded to ``capacity``.

  |V| = floor(n / 2), |T| = n - |V|.

  Args:
    key: PRNG key of the permutation.
    labeled: bool[N].
    capacity: V_max >= |V| (static).

  Returns:
    (train_mask bool[N], v_index int32[V_max], v_mask bool[V_max]).
  """
  chex.assert_rank(labeled, 1)
  order = train_lib.epoch_order(key, labeled)  # labeled first, in random order
  n = jnp.sum(labeled, dtype=jnp.int32)
  num_v = n // 2
  num_t = n - num_v
  position = jnp.arange(labeled.shape[0], dtype=jnp.int32)
  train_mask = jnp.zeros_like(labeled).at[order].set(position < num_t)
  slot = jnp.arange(capacity, dtype=jnp.int32)
  v_mask = slot < num_v
  v_index = order[jnp.where(v_mask, num_t + slot, num_t)]
  return train_mask, v_index.astype(jnp.int32), v_mask


def select(
  key: jax.Array,
  logits: jax.Array,
  decisions: jax.Array,
  mask: jax.Array,
  ratio: jax.Array,
  tau: jax.Array,
  config: SearchConfig,
  theta: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
  """SearchNet logits and decisions -> (soft selection s[V], strategy weights w[V, K']).

  ``gumbel``/``softmax``: w = gumbel_softmax(o, tau) or softmax(o), m = sum_k w_k A_k,
  s = `relaxation.soft_select` (``theta`` fixes its threshold). ``code``: s =
  `relaxation.code_select` (weights reported as softmax(o)).
  """
  chex.assert_rank([logits, decisions, mask], [2, 2, 1])
  chex.assert_equal_shape([logits, decisions])
  if config.relaxation == "code":
    s, _, _ = relaxation.code_select(key, logits, decisions, mask, ratio)
    return s, jax.nn.softmax(logits, -1)
  if config.relaxation == "gumbel":
    weights = relaxation.gumbel_softmax(key, logits, tau, config.hard)
  else:
    weights = jax.nn.softmax(logits, -1)
  mixed = jnp.sum(weights * decisions, axis=1)
  s, _ = relaxation.soft_select(mixed, mask, ratio, config.tau_s, theta)
  return s, weights


def bilevel_step(
  state: BilevelState,
  key: jax.Array,
  data: SearchData,
  images: jax.Array,
  labels: jax.Array,
  step: jax.Array,
  mean,
  std,
  config: SearchConfig,
  branch: int | None = None,
  theta: jax.Array | None = None,
) -> tuple[BilevelState, jax.Array]:
  """One bi-level update on a batch of V: FitNet, SearchNet or LossNet by ``step % 3``.

  Args:
    state: the three networks.
    key: the round's search key; the step uses ``fold_in(key, step)``.
    data: `SearchData` of the round.
    images: uint8[N, H, W, Ch], the pool.
    labels: int32[N].
    step: int32 scalar, the step index.
    mean, std: normalisation statistics.
    config: `SearchConfig`.
    branch: None: `lax.switch` on ``step % num_branches`` (one program for every step, the
      form a `lax.scan` needs); an int: that update only, chosen at trace time.
    theta: fixes the selection threshold (finite-difference tests); default per batch.

  Returns:
    (new state, `StepMetrics`, NaN for those this update does not measure).
  """
  batch_key, gumbel_key, dropout_key = jax.random.split(jax.random.fold_in(key, step), 3)
  noise = jnp.where(data.mask, jax.random.uniform(batch_key, data.mask.shape), -1.0)
  top, position = jax.lax.top_k(noise, min(config.batch_size, data.mask.shape[0]))
  weight = (top >= 0.0).astype(jnp.float32)
  valid = top >= 0.0
  index = data.index[position]
  x = data_lib.normalize(images[index], mean, std)
  y = labels[index]
  decisions = data.decisions[position]
  tau = relaxation.anneal(config.tau, config.tau_final, step, config.steps)
  ratio = data.ratio
  count = jnp.sum(weight)
  target = ratio * count
  nan = jnp.float32(jnp.nan)

  def columns(loss_state, maps):
    if not config.use_loss_prediction:
      return decisions
    predicted = loss_state.apply_fn({"params": loss_state.params}, jax.lax.stop_gradient(maps))
    num = jnp.ceil(ratio * count)
    column = strategies.signal_column(predicted, valid, num, config.candidate_signal)
    return jnp.concatenate([decisions, jax.lax.stop_gradient(column)[:, None]], axis=1)

  def selection(search_params, search_train, st):
    (logits, maps), search_stats = train_lib.apply_model(
      st.search, search_params, x, search_train, dropout_key
    )
    s, _ = select(gumbel_key, logits, columns(st.loss, maps), valid, ratio, tau, config, theta)
    return s, maps, search_stats

  def fit_update(st: BilevelState):
    s, _, _ = selection(st.search.params, False, st)
    s = jax.lax.stop_gradient(s)

    def loss_fn(params):
      ce, stats = per_sample_ce(st.fit, params, x, y, True, dropout_key)
      return fit_objective(s, ce, weight, valid, ratio, config.lambda_fit), stats

    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(st.fit.params)
    metrics = StepMetrics(loss, nan, nan, jnp.sum(s), target)
    return st._replace(fit=train_lib.apply_updates(st.fit, grads, stats)), metrics

  def search_update(st: BilevelState):
    def loss_fn(params):
      s, _, stats = selection(params, True, st)
      fit_params = st.fit.params
      if config.order == 2:
        # DARTS: one differentiable FitNet step on the selection, then CE at its result.
        def inner(p):
          ce, _ = per_sample_ce(st.fit, p, x, y, False)
          return losses.weighted_mean(s * ce, weight)

        grads = jax.grad(inner)(fit_params)
        fit_params = jax.tree.map(
          lambda p, g: p - config.unroll_learning_rate * g, fit_params, grads
        )
        ce, _ = per_sample_ce(st.fit, fit_params, x, y, False)
      else:
        ce = jax.lax.stop_gradient(per_sample_ce(st.fit, fit_params, x, y, False)[0])
      loss = hard_samples_objective(s, ce, weight, valid, ratio, config.lambda_search)
      return loss, (stats, s)

    (loss, (stats, s)), grads = jax.value_and_grad(loss_fn, has_aux=True)(st.search.params)
    metrics = StepMetrics(nan, loss, nan, jnp.sum(s), target)
    return st._replace(search=train_lib.apply_updates(st.search, grads, stats)), metrics

  def loss_update(st: BilevelState):
    (_, maps), _ = train_lib.apply_model(st.search, st.search.params, x, False)
    maps = jax.lax.stop_gradient(maps)
    ce = jax.lax.stop_gradient(per_sample_ce(st.fit, st.fit.params, x, y, False)[0])

    def loss_fn(params):
      predicted = st.loss.apply_fn({"params": params}, maps)
      return loss_net_objective(predicted, ce, weight, config.loss_margin)

    (_, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(st.loss.params)
    metrics = StepMetrics(nan, nan, accuracy, nan, nan)
    return st._replace(loss=train_lib.apply_updates(st.loss, grads, st.loss.batch_stats)), metrics

  updates = [fit_update, search_update] + ([loss_update] if config.use_loss_prediction else [])
  if branch is not None:
    return updates[branch](state)
  return jax.lax.switch(step % len(updates), updates, state)


def bilevel_steps(
  state: BilevelState,
  key: jax.Array,
  data: SearchData,
  images: jax.Array,
  labels: jax.Array,
  first_step: jax.Array,
  mean,
  std,
  config: SearchConfig,
  num_steps: int,
) -> tuple[BilevelState, jax.Array]:
  """``num_steps`` consecutive `bilevel_step`s as one `lax.scan` (`StepMetrics` of [S])."""

  def body(st, step):
    return bilevel_step(st, key, data, images, labels, step, mean, std, config)

  steps = first_step + jnp.arange(num_steps, dtype=jnp.int32)
  return jax.lax.scan(body, state, steps)


def num_branches(config: SearchConfig) -> int:
  return 3 if config.use_loss_prediction else 2


def query_scores(
  state: SearchState,
  images: jax.Array,
  decisions: jax.Array,
  mask: jax.Array,
  num: jax.Array,
  mean,
  std,
  chunk: int,
  config: SearchConfig,
) -> tuple[jax.Array, jax.Array]:
  """The query's mixed score on the pool (AUTOAL.md section 4), in chunks.

  SearchNet in inference mode, no Gumbel noise: w = softmax(o), m = sum_k w_k A_k with
  LossNet's column (its top ``num`` or its ranks) added when configured. ``code``: m is
  the released code's sample-softmax of sum_k A_k o_k.

  Args:
    state: `SearchState` after the round's search.
    images: uint8[N, H, W, Ch].
    decisions: float32[N, K], the candidates' decisions on the pool.
    mask: bool[N], the unlabeled samples.
    num: int32 scalar, the picks of this query (for LossNet's ``picks`` column).
    mean, std: normalisation statistics.
    chunk: images per chunk.
    config: `SearchConfig`.

  Returns:
    (m float32[N], w float32[N, K']).
  """
  chex.assert_rank([images, decisions, mask], [4, 2, 1])

  def forward(_, x):
    x = data_lib.normalize(x, mean, std)
    (logits, maps), _ = train_lib.apply_model(state.search, state.search.params, x, False)
    if not config.use_loss_prediction:
      return (logits,)
    return logits, state.loss.apply_fn({"params": state.loss.params}, maps)

  logits, *predicted = passes.chunked(forward, images, chunk)
  if config.use_loss_prediction:
    column = strategies.signal_column(predicted[0], mask, num, config.candidate_signal)
    decisions = jnp.concatenate([decisions, column[:, None]], axis=1)
  weights = jax.nn.softmax(logits, -1)
  if config.relaxation == "code":
    return relaxation.code_scores(logits, decisions, mask), weights
  return jnp.sum(weights * decisions, axis=1), weights


def soft_count(
  state: SearchState,
  key: jax.Array,
  images: jax.Array,
  data: SearchData,
  mean,
  std,
  chunk: int,
  config: SearchConfig,
) -> jax.Array:
  """sum(s) over the whole of V after the search (noise-free weights): compare r |V|.

  ``key`` draws the ``code`` relaxation's Gaussian-mixture samples (unused otherwise).
  """
  count = jnp.sum(data.mask).astype(jnp.float32)
  m, _ = query_scores(
    state,
    images[data.index],
    data.decisions,
    data.mask,
    jnp.ceil(data.ratio * count).astype(jnp.int32),
    mean,
    std,
    chunk,
    config,
  )
  if config.relaxation == "code":  # m is the code's p
    theta = relaxation.code_threshold(key, m, data.mask, data.ratio)
    s = relaxation.code_soft(m, theta, data.mask)
  else:
    s, _ = relaxation.soft_select(m, data.mask, data.ratio, config.tau_s)
  return jnp.sum(s)


def _zero_head(params: dict) -> dict:
  """SearchNet's params with its K-way head set to zero (the backbone is its one child)."""
  ((name, backbone),) = params.items()
  backbone = dict(backbone)
  backbone["head"] = jax.tree.map(jnp.zeros_like, backbone["head"])
  return {name: backbone}


def init_search_state(
  key: jax.Array, config: SearchConfig, image_shape: Sequence[int]
) -> SearchState:
  """Fresh SearchNet and LossNet. SearchNet's head starts at zero: uniform weights w."""
  search_key, loss_key = jax.random.split(key)
  searchnet = models.SearchNet(config.num_columns, config.backbone, config.backbone_kwargs)
  x = jnp.zeros((1, *image_shape), jnp.float32)
  variables = searchnet.init(search_key, x)
  params = _zero_head(variables["params"])
  search = TrainState.create(
    apply_fn=searchnet.apply,
    params=params,
    tx=train_lib.make_optimizer(config.search_net),
    batch_stats=variables.get("batch_stats", {}),
  )
  _, maps = searchnet.apply(variables, x)
  lossnet = models.LossNet(config.loss_hidden)
  loss = TrainState.create(
    apply_fn=lossnet.apply,
    params=lossnet.init(loss_key, maps)["params"],
    tx=train_lib.make_optimizer(config.loss_net),
    batch_stats={},
  )
  return SearchState(search, loss)
