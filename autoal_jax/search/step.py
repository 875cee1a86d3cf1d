"""The search's state, its bi-level step and the query's mixed score (pure functions)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp

from autoal_jax import data as data_lib
from autoal_jax import losses, models, passes, relaxation, strategies
from autoal_jax import train as train_lib
from autoal_jax.search.config import SearchConfig, StepMetrics
from autoal_jax.search.losses import (
  alignment_objective,
  alignment_value,
  fit_objective,
  global_and_local,
  hard_samples_objective,
  loss_net_objective,
  per_sample_ce,
)
from autoal_jax.train import TrainState


class SearchState(NamedTuple):
  """What the search carries across rounds: SearchNet and LossNet, warm-started, and
  (``objective = alignment``; zeros otherwise) the evidence for each column.

  Attributes:
    search, loss: SearchNet's and LossNet's `TrainState`.
    evidence: float32[K'], each column's decayed sum of out-of-fold z-scores
      (`driver.guardrail_decision`).
    evidence_var: float32 scalar, the variance of one such sum where all columns are
      equal (``sum_t decay^(2t)``); 0 before the first round.
    imbalanced: bool scalar, True when the labeled set's class counts look imbalanced in
      this round (`driver.class_balance_p` under ``low_budget_balance``; with
      ``balance_counts = initial`` the initial set's, set at `AutoAL.init`): the
      low-budget leader does not buy.
    leader: the state of a low-budget leader that is a strategy (`STRATEGY_LEADERS`;
      its ``init``'s at `AutoAL.init`, then its query's after each round it buys); ()
      otherwise.
  """

  search: TrainState
  loss: TrainState
  evidence: jax.Array
  evidence_var: jax.Array
  imbalanced: jax.Array
  leader: Any = ()


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
    ratio: float32 scalar, the fraction of V a selection takes: r = b / N
      (``hard_samples``) or b / |L| (``alignment``).
    The fields of ``objective = alignment`` (None otherwise, `gradient_parts`):
    train: bool[V_max], the rows SearchNet is trained on (its fold; None: all of V).
    alignment: float32[V_max], a_i = <g_H, G_i>.
    phi: float32[V_max, D], FitNet's embeddings, scaled.
    residual: float32[V_max, C], p_i - onehot(y_i).
    log_prior: float32[K], the prior SearchNet's global logits are kept near: the
      state's evidence divided by its standard deviation.
  """

  index: jax.Array
  mask: jax.Array
  decisions: jax.Array
  ratio: jax.Array
  train: jax.Array | None = None
  alignment: jax.Array | None = None
  phi: jax.Array | None = None
  residual: jax.Array | None = None
  log_prior: jax.Array | None = None


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


def fold_bounds(n):
  """Where `folds` cut a V of n samples (an int, or a traced int32): (end of SearchNet's
  fold, end of the guardrail's); H is the rest."""
  return n // 2, n // 2 + (n - n // 2) // 2


def folds(v_mask: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """V's three folds for ``objective = alignment``: SearchNet's rows (the first half of V's
  slots, which are in random order), the guardrail's (the third quarter) and H (the last).

  bool[V_max] -> three disjoint bool[V_max] whose union is the mask.
  """
  chex.assert_rank(v_mask, 1)
  search_end, guard_end = fold_bounds(jnp.sum(v_mask, dtype=jnp.int32))
  slot = jnp.arange(v_mask.shape[0], dtype=jnp.int32)
  return (
    v_mask & (slot < search_end),
    v_mask & (slot >= search_end) & (slot < guard_end),
    v_mask & (slot >= guard_end),
  )


def gradient_parts(outputs, labels: jax.Array, mask: jax.Array, held: jax.Array):
  """The alignment objective's inputs from FitNet's outputs on V.

  With ``G_i = phi_i r_i^T`` (r_i = p_i - onehot(y_i)) and ``g_H`` the mean of G over the
  held-out rows, returns ``a_i = <g_H, G_i>`` and the factors of ``<G_i, G_j>``, all divided
  by ``mean_i ||G_i||^2`` over V (scale-free: the redundancy weight means the same on any
  model).

  Args:
    outputs: `PoolOutputs` of V (probs [V_max, C], embeddings [V_max, D]).
    labels: int32[V_max].
    mask: bool[V_max], V's real rows.
    held: bool[V_max], H's rows.

  Returns:
    (a float32[V_max], phi float32[V_max, D] scaled, r float32[V_max, C]); zero off the mask.
  """
  chex.assert_rank([labels, mask, held], 1)
  phi = jnp.where(mask[:, None], outputs.embeddings, 0.0)
  residual = outputs.probs - jax.nn.one_hot(labels, outputs.probs.shape[1])
  residual = jnp.where(mask[:, None], residual, 0.0)
  norms = jnp.sum(phi * phi, -1) * jnp.sum(residual * residual, -1)
  count = jnp.maximum(jnp.sum(mask), 1).astype(jnp.float32)
  scale = jnp.maximum(jnp.sum(norms) / count, 1e-12)
  held_count = jnp.maximum(jnp.sum(held), 1).astype(jnp.float32)
  g_held = (phi * held[:, None].astype(jnp.float32)).T @ residual / held_count  # [D, C]
  alignment = jnp.einsum("id,dc,ic->i", phi, g_held, residual) / scale
  return alignment, phi / jnp.sqrt(scale), residual


def guardrail_values(
  state: SearchState,
  images: jax.Array,
  data: SearchData,
  rows: jax.Array,
  num: jax.Array,
  pooled_rows: jax.Array,
  mean,
  std,
  chunk: int,
  config: SearchConfig,
):
  """Out-of-fold values (`alignment_value`) of the mixture's and each candidate's picks.

  On the guardrail's rows of V, the searched mixture (`query_scores`: SearchNet in
  inference mode) and each candidate (its column of ``data.decisions``) pick ``num``;
  each pick set is valued with the same a, phi, r as the search, and gets the standard
  error of a mean of that many a_i drawn from the rows. The candidates are also valued
  on ``pooled_rows`` (SearchNet's fold and the guardrail's: a candidate's picks never
  depend on SearchNet, so both folds are out of sample for it), with their picks in
  both folds: the evidence across rounds uses these, with about three times the picks.

  Returns:
    (mixture value, its SE, float32[K] candidate values and SEs on ``rows``,
    float32[K] candidate values and SEs on ``pooled_rows``).
  """
  chex.assert_rank([rows, pooled_rows], 1)
  mixed, _ = query_scores(
    state, images[data.index], data.decisions, rows, num, mean, std, chunk, config
  )

  def spread(weight):
    # The spread of a over the rows: a pick set's mean has about this SE over
    # sqrt(count) (a set's own spread is no estimate for one or two picks, or alike ones).
    count = jnp.maximum(jnp.sum(weight), 2.0)
    centre = jnp.sum(weight * data.alignment) / count
    return jnp.sqrt(jnp.sum(weight * (data.alignment - centre) ** 2) / (count - 1.0))

  def value(picked, weight):
    j = alignment_value(picked, data.alignment, data.phi, data.residual, weight, config.gamma)
    return j, spread(weight) / jnp.sqrt(jnp.maximum(jnp.sum(picked * weight), 1.0))

  weight = rows.astype(jnp.float32)
  pooled = pooled_rows.astype(jnp.float32)

  def on_rows(scores):
    return value(strategies.signal_column(scores, rows, num, "picks"), weight)

  mix, mix_se = on_rows(mixed)
  values, ses = jax.vmap(on_rows, in_axes=1)(data.decisions)
  pooled_values, pooled_ses = jax.vmap(lambda column: value(column, pooled), in_axes=1)(
    data.decisions
  )
  return mix, mix_se, values, ses, pooled_values, pooled_ses


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


class Batch(NamedTuple):
  """One bi-level step's batch of V and what its updates share (`make_batch`).

  Attributes:
    x: float32[B, H, W, Ch], the normalised images.
    y: int32[B], their labels.
    decisions: float32[B, K], the candidates' decisions on them.
    weight: float32[B], 1 for real samples, 0 for padding (V smaller than B).
    valid: bool[B], the same as a mask.
    position: int32[B], the rows of V (for the objective's per-row inputs).
    tau: float32, the Gumbel temperature of this step.
    gumbel_key, dropout_key: the step's keys.
    theta: None, or a fixed selection threshold (finite-difference tests).
  """

  x: jax.Array
  y: jax.Array
  decisions: jax.Array
  weight: jax.Array
  valid: jax.Array
  position: jax.Array
  tau: jax.Array
  gumbel_key: jax.Array
  dropout_key: jax.Array
  theta: jax.Array | None = None


def make_batch(key, data: SearchData, images, labels, step, mean, std, config, theta=None):
  """Step ``step``'s batch: ``batch_size`` rows of V (of SearchNet's fold) drawn without
  replacement from ``fold_in(key, step)``, and that step's keys and temperature."""
  batch_key, gumbel_key, dropout_key = jax.random.split(jax.random.fold_in(key, step), 3)
  rows = data.mask if data.train is None else data.train
  noise = jnp.where(rows, jax.random.uniform(batch_key, data.mask.shape), -1.0)
  top, position = jax.lax.top_k(noise, min(config.batch_size, data.mask.shape[0]))
  index = data.index[position]
  return Batch(
    x=data_lib.normalize(images[index], mean, std),
    y=labels[index],
    decisions=data.decisions[position],
    weight=(top >= 0.0).astype(jnp.float32),
    valid=top >= 0.0,
    position=position,
    tau=relaxation.anneal(config.tau, config.tau_final, step, config.round_steps),
    gumbel_key=gumbel_key,
    dropout_key=dropout_key,
    theta=theta,
  )


_NAN = float("nan")


def _counts(s, batch: Batch, data: SearchData):
  """(sum(s), r times the batch's valid samples): the size metrics."""
  return jnp.sum(s), data.ratio * jnp.sum(batch.weight)


def columns(loss_state: TrainState, maps, batch: Batch, data: SearchData, config) -> jax.Array:
  """The batch's A: the candidates' decisions, plus LossNet's column (its top r of the
  batch, or its ranks) with ``use_loss_prediction``: float32[B, K']."""
  if not config.use_loss_prediction:
    return batch.decisions
  predicted = loss_state.apply_fn({"params": loss_state.params}, jax.lax.stop_gradient(maps))
  num = jnp.ceil(data.ratio * jnp.sum(batch.weight))
  column = strategies.signal_column(predicted, batch.valid, num, config.candidate_signal)
  return jnp.concatenate([batch.decisions, jax.lax.stop_gradient(column)[:, None]], axis=1)


def selection(state: BilevelState, search_params, train: bool, batch: Batch, data, config):
  """SearchNet (with ``search_params``) on the batch -> (soft selection s[B], its
  feature maps, its BatchNorm statistics, its logits[B, K']) (`select`)."""
  (logits, maps), search_stats = train_lib.apply_model(
    state.search, search_params, batch.x, train, batch.dropout_key
  )
  decisions = columns(state.loss, maps, batch, data, config)
  s, _ = select(
    batch.gumbel_key, logits, decisions, batch.valid, data.ratio, batch.tau, config, batch.theta
  )
  return s, maps, search_stats, logits


def fit_update(state: BilevelState, batch: Batch, data: SearchData, config: SearchConfig):
  """FitNet's step: ``L_F = mean(sg(s) CE_F) + lambda_F L_size(s)`` (`fit_objective`)
  on the selection of SearchNet in inference mode. Returns (state, `StepMetrics`)."""
  s, *_ = selection(state, state.search.params, False, batch, data, config)
  s = jax.lax.stop_gradient(s)

  def loss_fn(params):
    ce, stats = per_sample_ce(state.fit, params, batch.x, batch.y, True, batch.dropout_key)
    loss = fit_objective(s, ce, batch.weight, batch.valid, data.ratio, config.lambda_fit)
    return loss, stats

  (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.fit.params)
  metrics = StepMetrics(loss, _NAN, _NAN, *_counts(s, batch, data))
  return state._replace(fit=train_lib.apply_updates(state.fit, grads, stats)), metrics


def search_update(
  state: BilevelState,
  batch: Batch,
  data: SearchData,
  config: SearchConfig,
  objective=hard_samples_objective,
):
  """SearchNet's step on the paper's objective (`hard_samples_objective`, or the
  ``objective(s, ce, weight, valid, ratio, lambda_search)`` given): the samples FitNet
  finds hard. ``config.order = 2``: CE after one differentiable FitNet step on the
  selection (DARTS), so that SearchNet's gradient flows through it; else a stop-gradient.
  Returns (state, `StepMetrics`)."""

  def loss_fn(params):
    s, _, stats, _ = selection(state, params, True, batch, data, config)
    fit_params = state.fit.params
    if config.order == 2:
      # DARTS: one differentiable FitNet step on the selection, then CE at its result.
      def inner(p):
        ce, _ = per_sample_ce(state.fit, p, batch.x, batch.y, False)
        return losses.weighted_mean(s * ce, batch.weight)

      grads = jax.grad(inner)(fit_params)
      fit_params = jax.tree.map(lambda p, g: p - config.unroll_learning_rate * g, fit_params, grads)
      ce, _ = per_sample_ce(state.fit, fit_params, batch.x, batch.y, False)
    else:
      ce = jax.lax.stop_gradient(per_sample_ce(state.fit, fit_params, batch.x, batch.y, False)[0])
    loss = objective(s, ce, batch.weight, batch.valid, data.ratio, config.lambda_search)
    return loss, (stats, s)

  (loss, (stats, s)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.search.params)
  metrics = StepMetrics(_NAN, loss, _NAN, *_counts(s, batch, data))
  return state._replace(search=train_lib.apply_updates(state.search, grads, stats)), metrics


def alignment_update(state: BilevelState, batch: Batch, data: SearchData, config: SearchConfig):
  """SearchNet's step on ``objective = alignment`` (`alignment_objective`, with the
  per-sample correction and the prior of `global_and_local`); FitNet stays as its
  warm-up left it. Returns (state, `StepMetrics`)."""

  def loss_fn(params):
    s, _, stats, logits = selection(state, params, True, batch, data, config)
    loss = alignment_objective(
      s,
      data.alignment[batch.position],
      data.phi[batch.position],
      data.residual[batch.position],
      batch.weight,
      batch.valid,
      data.ratio,
      config.gamma,
      config.lambda_search,
    )
    correction, kl = global_and_local(logits, head_bias(params), data.log_prior, batch.weight)
    loss = loss + config.lambda_delta * correction + config.lambda_prior * kl
    return loss, (stats, s)

  (loss, (stats, s)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.search.params)
  metrics = StepMetrics(_NAN, loss, _NAN, *_counts(s, batch, data))
  return state._replace(search=train_lib.apply_updates(state.search, grads, stats)), metrics


def loss_update(state: BilevelState, batch: Batch, data: SearchData, config: SearchConfig):
  """LossNet's step: LL4AL's ranking loss of its predictions (from SearchNet's feature
  maps) against FitNet's losses (`loss_net_objective`). Returns (state, `StepMetrics`)."""
  (_, maps), _ = train_lib.apply_model(state.search, state.search.params, batch.x, False)
  maps = jax.lax.stop_gradient(maps)
  ce = jax.lax.stop_gradient(per_sample_ce(state.fit, state.fit.params, batch.x, batch.y, False)[0])

  def loss_fn(params):
    predicted = state.loss.apply_fn({"params": params}, maps)
    return loss_net_objective(predicted, ce, batch.weight, config.loss_margin)

  (_, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.loss.params)
  metrics = StepMetrics(_NAN, _NAN, accuracy, _NAN, _NAN)
  loss = train_lib.apply_updates(state.loss, grads, state.loss.batch_stats)
  return state._replace(loss=loss), metrics


def default_updates(config: SearchConfig) -> tuple:
  """The updates a round alternates (step i runs ``updates[i % len]``): FitNet's and
  SearchNet's (``hard_samples``) or SearchNet's alone (``alignment``: FitNet stays as its
  warm-up left it), then LossNet's with ``use_loss_prediction``. Each is
  ``update(state, batch, data, config) -> (state, StepMetrics)``."""
  if config.objective == "alignment":
    updates = (alignment_update,)
  else:
    updates = (fit_update, search_update)
  return updates + ((loss_update,) if config.use_loss_prediction else ())


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
  updates: tuple | None = None,
) -> tuple[BilevelState, StepMetrics]:
  """One bi-level update on a batch of V: ``updates[step % len(updates)]``.

  Args:
    state: the three networks.
    key: the round's search key; the step uses ``fold_in(key, step)`` (`make_batch`).
    data: `SearchData` of the round.
    images: uint8[N, H, W, Ch] or float32[N, *F], the pool.
    labels: int32[N].
    step: int32 scalar, the step index.
    mean, std: normalisation statistics.
    config: `SearchConfig`.
    branch: None: `lax.switch` on ``step % len(updates)`` (one program for every step,
      the form a `lax.scan` needs); an int: that update only, chosen at trace time.
    theta: fixes the selection threshold (finite-difference tests); default per batch.
    updates: the updates to alternate (`default_updates(config)` where None): named
      functions ``update(state, batch, data, config) -> (state, StepMetrics)``, so that
      one can be swapped (docs/search.md).

  Returns:
    (new state, `StepMetrics`, NaN for those this update does not measure).
  """
  batch = make_batch(key, data, images, labels, step, mean, std, config, theta)
  updates = default_updates(config) if updates is None else tuple(updates)
  bound = [functools.partial(update, batch=batch, data=data, config=config) for update in updates]
  if branch is not None:
    return bound[branch](state)
  return jax.lax.switch(step % len(bound), bound, state)


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
  updates: tuple | None = None,
) -> tuple[BilevelState, jax.Array]:
  """``num_steps`` consecutive `bilevel_step`s as one `lax.scan` (`StepMetrics` of [S])."""

  def body(st, step):
    return bilevel_step(st, key, data, images, labels, step, mean, std, config, updates=updates)

  steps = first_step + jnp.arange(num_steps, dtype=jnp.int32)
  return jax.lax.scan(body, state, steps)


def num_branches(config: SearchConfig) -> int:
  return len(default_updates(config))


def head_bias(params: dict) -> jax.Array:
  """SearchNet's head bias [K']: with ``o = alpha + delta``, the global strategy logits."""
  ((_, backbone),) = params.items()
  return backbone["head"]["logits"]["bias"]


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
    images: uint8[N, H, W, Ch] or float32[N, *F].
    decisions: float32[N, K], the candidates' decisions on the pool.
    mask: bool[N], the unlabeled samples.
    num: int32 scalar, the picks of this query (for LossNet's ``picks`` column).
    mean, std: normalisation statistics.
    chunk: images per chunk.
    config: `SearchConfig`.

  Returns:
    (m float32[N], w float32[N, K']).
  """
  chex.assert_rank([images, decisions, mask], [data_lib.INPUT_RANKS, 2, 1])

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


def _torch_linear_head(key: jax.Array, params: dict) -> dict:
  """SearchNet's params with its K-way head drawn as PyTorch's ``nn.Linear`` draws it
  (kernel and bias uniform in +-1 / sqrt(fan_in)): the released code's SearchNet head,
  which its selection rule never trains (`relaxation.code_soft`)."""
  ((name, backbone),) = params.items()
  backbone = dict(backbone)
  head = dict(backbone["head"])
  kernel = head["logits"]["kernel"]
  bound = 1.0 / math.sqrt(kernel.shape[0])
  kernel_key, bias_key = jax.random.split(key)
  head["logits"] = {
    "kernel": jax.random.uniform(kernel_key, kernel.shape, kernel.dtype, -bound, bound),
    "bias": jax.random.uniform(bias_key, head["logits"]["bias"].shape, kernel.dtype, -bound, bound),
  }
  backbone["head"] = head
  return {name: backbone}


def init_search_state(
  key: jax.Array, config: SearchConfig, image_shape: Sequence[int]
) -> SearchState:
  """Fresh SearchNet and LossNet. SearchNet's head starts at zero (uniform weights w),
  except under the released code's rule (``relaxation='code'``), whose head starts random
  as the code's does and stays so (its rule gives it no gradient): its picks are then the
  candidate-picked samples with the largest sums of fixed random logits."""
  search_key, loss_key = jax.random.split(key)
  backbone = models.search_backbone(config.backbone, image_shape)
  searchnet = models.SearchNet(config.num_columns, backbone, config.backbone_kwargs)
  x = jnp.zeros((1, *image_shape), jnp.float32)
  variables = searchnet.init(search_key, x)
  if config.relaxation == "code":
    params = _torch_linear_head(jax.random.fold_in(search_key, 1), variables["params"])
  else:
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
  evidence = jnp.zeros(config.num_columns, jnp.float32)
  return SearchState(search, loss, evidence, jnp.float32(0.0), jnp.zeros((), jnp.bool_))
