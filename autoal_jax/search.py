"""AutoAL's differentiable strategy search (Wang, Zhan & Huang, ICML 2025).

The method is `../shared/AUTOAL.md` sections 3-5. Per round, on the labeled set:

1. `split_labeled`: a fresh seeded permutation splits it into a train half T and a
   validation half V, padded to a fixed capacity (masks), so shapes never change.
2. FitNet (the task model's architecture, fresh) is warmed up on T.
3. The K candidates' decisions A[V, K] are computed ONCE, with the warmed-up FitNet, on V
   as if V were unlabeled (each picks n = ceil(r |V|), r = b / N). FitNet never saw V, so
   there is no leak (the released code used the task model, which was trained on V).
4. `bilevel_step`, alternating by ``step % 3`` (`lax.switch`): a FitNet update
   ``L_F = mean(sg(s) CE_F) + lambda_F L_size``, a SearchNet update
   ``L_S = -mean(s sg(CE_F)) + lambda_S L_size`` and a LossNet update (LL4AL's pairwise
   ranking loss, margin 1). s is the soft selection of the mixed score
   ``m = sum_k w_k A_k``, ``w = gumbel_softmax(SearchNet(x))`` (`autoal_jax.relaxation`).
   ``order = 2`` lets SearchNet's gradient flow through one unrolled FitNet step (DARTS,
   Liu et al. 2019): the same function, with the inner step kept instead of a
   stop-gradient on CE_F.
5. `query_scores`: on the unlabeled pool, A[U, K] from the task model with n = b, w =
   softmax(SearchNet(x)) without noise, m = sum_k w_k A_k; the top b of m are bought.

SearchNet and LossNet are warm-started across rounds (`SearchState`); FitNet is fresh.
With ``use_loss_prediction`` LossNet's predicted loss is one more column of A (a signal
like the others: 0/1 top picks or scaled ranks), so K' = K + 1 logits.

`AutoAL` runs all of this for the active-learning loop, jitting each piece once.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from autoal_jax import data as data_lib
from autoal_jax import models, relaxation, sharding, strategies
from autoal_jax import train as train_lib
from autoal_jax.train import TrainConfig, TrainState
from autoal_jax.types import Context, DatasetInfo, PoolOutputs, QueryInfo

# The paper's seven with the MC-dropout variation ratio (see `strategies.DEFAULT_CANDIDATES`).
DEFAULT_CANDIDATES = strategies.DEFAULT_CANDIDATES

METRICS = ("fit_loss", "search_loss", "rank_accuracy", "soft_count", "target_count")


class SearchConfig(NamedTuple):
  """Every switch of the search (hashable: a static jit argument).

  Attributes:
    candidates: the K candidate strategy names (any registered non-search strategies).
    relaxation: ``gumbel`` (default), ``softmax`` (no noise) or ``code`` (the released
      rule: SearchNet gets no gradient; see `relaxation.code_select`).
    hard: straight-through one-hot Gumbel samples.
    candidate_signal: ``picks`` (0/1 decisions, the paper) or ``ranks`` (score strategies
      give their rank scaled to [0, 1]; set pickers stay 0/1).
    use_loss_prediction: LossNet's predicted loss as column K + 1 (and LossNet updates).
    order: 1 (alternating first-order) or 2 (through one unrolled FitNet step).
    tau, tau_final: Gumbel-softmax temperature, annealed geometrically over a round's steps.
    tau_s: the soft-selection temperature.
    lambda_fit, lambda_search: weights of the size loss in L_F and L_S.
    steps: bi-level steps per round (the code: 400).
    batch_size: V samples per bi-level step (at most the capacity of V).
    warmup: the FitNet warm-up on T (the code: 200 Adam steps), a `TrainConfig`.
    fit, search_net, loss_net: optimisers of the bi-level updates (`TrainConfig`'s
      optimizer, learning_rate, weight_decay, momentum; constant rates).
    unroll_learning_rate: the inner SGD step of ``order = 2``. The second-order term is
      linear in it: on tests/test_search.py's task it changed SearchNet's gradient by 0.14%
      at 1e-3 (order 2 was order 1), by 13% at 0.1 (cosine 0.999), by 76% at 1.0. An SGD
      step of 0.1 moves FitNet about as far as one Adam step of 1e-3 does on its gradients.
    loss_margin: the margin of LossNet's pairwise ranking loss (LL4AL: 1).
    backbone: SearchNet's backbone (a task-model name).
    backbone_kwargs: its extra attributes, as (name, value) pairs.
    loss_hidden: LossNet's units per feature map.
    steps_per_call: bi-level steps per jitted call (a `lax.scan` over a `lax.switch`);
      0 picks 1 on CPU (host dispatch of the branch: XLA:CPU runs conditionals and loops
      of convolutions several times slower) and 16 on GPU/TPU.
  """

  candidates: tuple = DEFAULT_CANDIDATES
  relaxation: str = "gumbel"
  hard: bool = False
  candidate_signal: str = "picks"
  use_loss_prediction: bool = True
  order: int = 1
  tau: float = 1.0
  tau_final: float = 1.0
  tau_s: float = 0.1
  lambda_fit: float = 1.0
  lambda_search: float = 1.0
  steps: int = 150
  batch_size: int = 64
  warmup: TrainConfig = TrainConfig(epochs=1, min_steps=100, schedule="constant")
  fit: TrainConfig = TrainConfig(learning_rate=1e-3, schedule="constant")
  search_net: TrainConfig = TrainConfig(learning_rate=1e-3, schedule="constant")
  loss_net: TrainConfig = TrainConfig(learning_rate=1e-3, schedule="constant")
  unroll_learning_rate: float = 0.1
  loss_margin: float = 1.0
  backbone: str = "small_cnn"
  backbone_kwargs: tuple = ()
  loss_hidden: int = 128
  steps_per_call: int = 0

  @property
  def num_columns(self) -> int:
    """K', the columns of A and SearchNet's outputs: K, plus one with loss prediction."""
    return len(self.candidates) + int(self.use_loss_prediction)

  @property
  def column_names(self) -> tuple:
    return tuple(self.candidates) + (("loss_prediction",) if self.use_loss_prediction else ())


def check_config(config: SearchConfig) -> None:
  """Raises ValueError for a config that cannot run (before any compute)."""
  if config.relaxation not in relaxation.RELAXATIONS:
    raise ValueError(
      f"Unknown relaxation {config.relaxation!r}. Valid: {list(relaxation.RELAXATIONS)}"
    )
  if config.candidate_signal not in strategies.SIGNALS:
    raise ValueError(
      f"Unknown candidate_signal {config.candidate_signal!r}. Valid: {list(strategies.SIGNALS)}"
    )
  if config.order not in (1, 2):
    raise ValueError(f"order must be 1 or 2, got {config.order}")
  strategies.check_candidates(config.candidates)
  if strategies.candidates_needs(config.candidates).loss:
    raise ValueError(
      "the search's FitNet has no LossNet: use use_loss_prediction for a loss-prediction "
      f"column instead of a loss candidate in {config.candidates}"
    )
  for name, value in (("tau", config.tau), ("tau_final", config.tau_final)):
    if not value > 0:
      raise ValueError(f"{name} must be > 0, got {value}")
  if not config.tau_s > 0:
    raise ValueError(f"tau_s must be > 0, got {config.tau_s}")
  if config.steps < 1 or config.batch_size < 2:
    raise ValueError(
      f"steps >= 1 and batch_size >= 2 needed, got {config.steps}, {config.batch_size}"
    )
  if config.backbone not in models.MODELS:
    raise ValueError(f"Unknown backbone {config.backbone!r}. Valid: {sorted(models.MODELS)}")
  for net in (config.warmup, config.fit, config.search_net, config.loss_net):
    train_lib.make_optimizer(net)


def needs_mc(config: SearchConfig) -> bool:
  """Whether any candidate needs MC-dropout passes."""
  return strategies.candidates_needs(config.candidates).mc


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


# LL4AL's pairwise ranking loss, shared with the task model's loss prediction.
ranking_loss = train_lib.ranking_loss


def _ce(state: TrainState, params, x, y, train: bool, key=None):
  (logits, _), batch_stats = train_lib.apply_model(state, params, x, train, key)
  return optax.softmax_cross_entropy_with_integer_labels(logits, y), batch_stats


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
    (new state, float32[5] metrics `METRICS`, NaN for those this update does not measure).
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

  def size(s):
    return relaxation.size_loss(s, valid, ratio)

  def fit_update(st: BilevelState):
    s, _, _ = selection(st.search.params, False, st)
    s = jax.lax.stop_gradient(s)

    def loss_fn(params):
      ce, stats = _ce(st.fit, params, x, y, True, dropout_key)
      return train_lib.weighted_mean(s * ce, weight) + config.lambda_fit * size(s), stats

    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(st.fit.params)
    metrics = jnp.stack([loss, nan, nan, jnp.sum(s), target])
    return st._replace(fit=train_lib.apply_updates(st.fit, grads, stats)), metrics

  def search_update(st: BilevelState):
    def loss_fn(params):
      s, _, stats = selection(params, True, st)
      fit_params = st.fit.params
      if config.order == 2:
        # DARTS: one differentiable FitNet step on the selection, then CE at its result.
        def inner(p):
          ce, _ = _ce(st.fit, p, x, y, False)
          return train_lib.weighted_mean(s * ce, weight)

        grads = jax.grad(inner)(fit_params)
        fit_params = jax.tree.map(
          lambda p, g: p - config.unroll_learning_rate * g, fit_params, grads
        )
        ce, _ = _ce(st.fit, fit_params, x, y, False)
      else:
        ce = jax.lax.stop_gradient(_ce(st.fit, fit_params, x, y, False)[0])
      return -train_lib.weighted_mean(s * ce, weight) + config.lambda_search * size(s), (stats, s)

    (loss, (stats, s)), grads = jax.value_and_grad(loss_fn, has_aux=True)(st.search.params)
    metrics = jnp.stack([nan, loss, nan, jnp.sum(s), target])
    return st._replace(search=train_lib.apply_updates(st.search, grads, stats)), metrics

  def loss_update(st: BilevelState):
    (_, maps), _ = train_lib.apply_model(st.search, st.search.params, x, False)
    maps = jax.lax.stop_gradient(maps)
    ce = jax.lax.stop_gradient(_ce(st.fit, st.fit.params, x, y, False)[0])

    def loss_fn(params):
      predicted = st.loss.apply_fn({"params": params}, maps)
      return ranking_loss(predicted, ce, weight, config.loss_margin)

    (_, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(st.loss.params)
    metrics = jnp.stack([nan, nan, accuracy, nan, nan])
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
  """``num_steps`` consecutive `bilevel_step`s as one `lax.scan` (metrics [S, 5])."""

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

  logits, *predicted = train_lib._chunked(forward, images, chunk)
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


class AutoAL:
  """AutoAL's search and query for the active-learning loop, each piece jitted once.

  Built once per experiment (like `Trainer`); holds compiled functions, never a run's
  state: `init` returns a `SearchState`, `search` advances it by one round's bi-level
  updates, `query` picks. All shapes are fixed by the pool size, the capacity of V and
  the query size, so rounds after the first compile nothing.

  Args:
    model: the task model; FitNet is a fresh copy of its architecture every round.
    info: the dataset's `DatasetInfo`.
    config: `SearchConfig`.
    num_pool: N.
    query_size: b (r = b / N).
    capacity: V_max, at least half the largest labeled set a search will see.
    num_mc: T, MC-dropout passes for the candidates that need them.
    eval_chunk: images per chunk of the forward passes.
    mesh: FitNet's training and passes are data parallel over it (`train.Trainer`); the
      bi-level step runs replicated. None: all devices.
    init_variables: FitNet's starting variables (the task model's pretrained weights,
      `train.Trainer`); None: a fresh initialisation every round.
  """

  def __init__(
    self,
    model,
    info: DatasetInfo,
    config: SearchConfig,
    num_pool: int,
    query_size: int,
    capacity: int,
    num_mc: int,
    eval_chunk: int = 1024,
    mesh=None,
    init_variables=None,
  ):
    check_config(config)
    if needs_mc(config) and num_mc < 2:
      raise ValueError(f"the candidates {config.candidates} need num_mc >= 2, got {num_mc}")
    if not 1 <= query_size < num_pool:
      raise ValueError(f"query_size must be in [1, {num_pool}), got {query_size}")
    self.config, self.info = config, info
    self.num_mc = num_mc if needs_mc(config) else 0
    self.capacity = capacity
    self.ratio = query_size / num_pool
    self.query_size = query_size
    self.v_picks = max(1, min(capacity, math.ceil(self.ratio * capacity)))
    self.fit_trainer = train_lib.Trainer(
      model, info, config.warmup, mesh=mesh, init_variables=init_variables
    )
    stats = dict(mean=tuple(info.mean), std=tuple(info.std))
    if config.steps_per_call:
      self.steps_per_call = config.steps_per_call
    else:
      self.steps_per_call = 1 if jax.default_backend() == "cpu" else 16
    self._init = jax.jit(
      functools.partial(init_search_state, config=config, image_shape=info.image_shape)
    )
    self._split = jax.jit(split_labeled, static_argnums=2)
    self._gather = jax.jit(lambda images, index: images[index])
    signal = config.candidate_signal
    self._v_decisions = jax.jit(
      functools.partial(
        strategies.decisions.decisions, config.candidates, k=self.v_picks, signal=signal
      )
    )
    self._pool_decisions = jax.jit(
      functools.partial(
        strategies.decisions.decisions, config.candidates, k=query_size, signal=signal
      )
    )
    self._fit_tx = train_lib.make_optimizer(config.fit)
    self._fit_opt_init = jax.jit(self._fit_tx.init)
    step = functools.partial(bilevel_step, **stats, config=config)
    self._branch_steps = [
      jax.jit(functools.partial(step, branch=b)) for b in range(num_branches(config))
    ]
    self._scan_steps = jax.jit(
      functools.partial(bilevel_steps, **stats, config=config, num_steps=self.steps_per_call)
    )
    self._query_scores = jax.jit(
      functools.partial(query_scores, **stats, chunk=eval_chunk, config=config)
    )
    self._soft_count = jax.jit(
      functools.partial(soft_count, **stats, chunk=eval_chunk, config=config)
    )
    self._top = jax.jit(strategies.top_k_masked, static_argnums=3)

  def init(self, key: jax.Array) -> SearchState:
    """Fresh SearchNet and LossNet (uniform strategy weights)."""
    return self._init(key)

  def search(
    self,
    state: SearchState,
    key: jax.Array,
    images: jax.Array,
    labels: jax.Array,
    labeled: jax.Array,
    num_labeled: int,
  ) -> tuple[SearchState, dict]:
    """One round's search: split, FitNet warm-up, decisions on V, bi-level updates.

    Args:
      state: `SearchState` (warm-started from the previous round).
      key: the round's search key.
      images: uint8[N, H, W, Ch], the pool on device.
      labels: int32[N].
      labeled: bool[N].
      num_labeled: the size of the labeled set (>= 2).

    Returns:
      (new `SearchState`, host metrics: the means of `METRICS` over the round's steps,
      ``soft_count_v`` / ``target_count_v`` on the whole of V after the search).
    """
    num_v = num_labeled // 2
    if num_v < 1:
      raise ValueError(f"the search needs at least 2 labeled samples, got {num_labeled}")
    if num_v > self.capacity:
      raise ValueError(f"|V| = {num_v} exceeds the search capacity {self.capacity}")
    split_key, warmup_key, mc_key, decision_key, step_key = jax.random.split(key, 5)
    count_key = jax.random.fold_in(step_key, self.config.steps)  # no step uses this one
    train_mask, v_index, v_mask = self._split(split_key, labeled, self.capacity)
    fit = self.fit_trainer.fit(warmup_key, images, labels, train_mask, num_labeled - num_v)
    v_outputs = self.fit_trainer.pool_outputs(
      fit, mc_key, self._gather(images, v_index), num_mc=self.num_mc
    )
    strategies.check_probs(v_outputs.probs, "FitNet probabilities on V")
    num_picks = jnp.asarray(min(self.v_picks, math.ceil(self.ratio * num_v)), jnp.int32)
    decisions = self._v_decisions(decision_key, v_outputs, v_mask, num_picks=num_picks)
    data = SearchData(v_index, v_mask, decisions, jnp.asarray(self.ratio, jnp.float32))
    fit = fit.replace(tx=self._fit_tx, opt_state=self._fit_opt_init(fit.params))
    bilevel = BilevelState(fit, state.search, state.loss)
    metrics = []
    step = 0
    branches = len(self._branch_steps)
    while step < self.config.steps:
      if self.steps_per_call == 1 or self.config.steps - step < self.steps_per_call:
        at = jnp.asarray(step, jnp.int32)
        bilevel, m = self._branch_steps[step % branches](
          bilevel, step_key, data, images, labels, at
        )
        metrics.append(m[None])
        step += 1
      else:
        at = jnp.asarray(step, jnp.int32)
        bilevel, m = self._scan_steps(bilevel, step_key, data, images, labels, at)
        metrics.append(m)
        step += self.steps_per_call
    state = SearchState(bilevel.search, bilevel.loss)
    values = np.asarray(jnp.concatenate(metrics))
    with warnings.catch_warnings():
      warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (no LossNet)
      means = np.nanmean(values, axis=0)
    log = {name: float(v) for name, v in zip(METRICS, means, strict=True)}
    log["soft_count_v"] = float(self._soft_count(state, count_key, images, data))
    log["target_count_v"] = self.ratio * num_v
    log["size_v"] = num_v
    return state, log

  def query(
    self,
    state: SearchState,
    key: jax.Array,
    images: jax.Array,
    outputs: PoolOutputs,
    candidate_mask: jax.Array,
    k: int,
  ) -> tuple[jax.Array, np.ndarray]:
    """Picks k <= b unlabeled samples by the searched mixture of the candidates.

    Args:
      state: `SearchState` after this round's `search`.
      key: PRNG key (candidate randomness and tie-breaking).
      images: uint8[N, H, W, Ch].
      outputs: the task model's `PoolOutputs` (with T MC passes if a candidate needs them).
      candidate_mask: bool[N], the unlabeled samples.
      k: picks, 1 <= k <= b (the last round may be partial; one program serves both).

    Returns:
      (int32[k] picks, float64[K'] the mean strategy weight over the picks).
    """
    if not 1 <= k <= self.query_size:
      raise ValueError(f"k must be in [1, {self.query_size}], got {k}")
    decision_key, tie_key = jax.random.split(key)
    num = jnp.asarray(k, jnp.int32)
    decisions = self._pool_decisions(decision_key, outputs, candidate_mask, num_picks=num)
    mixed, weights = self._query_scores(state, images, decisions, candidate_mask, num)
    # The top k of the b slots (one program for every k), ties at the k-th score at random.
    chosen = self._top(tie_key, mixed, candidate_mask, self.query_size, num)[:k]
    return chosen, np.asarray(jnp.mean(weights[chosen], axis=0), np.float64)


def strategy(setup: strategies.Setup, name: str = "autoal", **overrides) -> strategies.Strategy:
  """AutoAL's search as a `strategies.Strategy` over ``setup.candidates``.

  ``init`` draws SearchNet and LossNet; ``query`` runs the round's search on the labeled
  set (`AutoAL.search`), then picks with the searched mixture (`AutoAL.query`).

  Args:
    setup: the experiment's `strategies.Setup` (its ``search`` config, default
      `SearchConfig()`, with the setup's candidates).
    name: the registry name.
    **overrides: `SearchConfig` fields this strategy changes (``autoal-code``: the
      released code's relaxation).
  """
  config = (setup.search or SearchConfig())._replace(candidates=tuple(setup.candidates))
  config = config._replace(**overrides)
  if setup.model is None or setup.info is None:
    raise ValueError("AutoAL's search needs the task model and the dataset info in its Setup")
  searcher = AutoAL(
    setup.model,
    setup.info,
    config,
    num_pool=setup.num_pool,
    query_size=setup.query_size,
    capacity=max(1, math.ceil(setup.max_labeled / 2)),
    num_mc=setup.num_mc,
    eval_chunk=setup.eval_chunk,
    mesh=setup.mesh,
    init_variables=setup.init_variables,
  )

  def init(key: jax.Array, context: Context) -> SearchState:
    del context
    return searcher.init(key)

  def query(state: SearchState, key: jax.Array, context: Context, k: int):
    search_key, pick_key = jax.random.split(key)
    # The first half of this split drew the networks before the (init, query) interface;
    # it is skipped so that results stay those of earlier versions.
    _, search_key = jax.random.split(search_key)
    num_labeled = int(sharding.to_host(jnp.sum(context.labeled)))
    start = time.perf_counter()
    state, metrics = searcher.search(
      state, search_key, context.images, context.labels, context.labeled, num_labeled
    )
    jax.block_until_ready(state)
    seconds = time.perf_counter() - start
    chosen, weights = searcher.query(
      state, pick_key, context.images, context.outputs, ~context.labeled, k
    )
    info = QueryInfo(weights=weights, metrics=metrics, search_seconds=seconds)
    return chosen, state, info

  needs = strategies.candidates_needs(config.candidates)
  doc = _DOCS[name]
  return strategies.Strategy(
    name, init, query, needs, doc, config.column_names, tuple(config.candidates)
  )


_DOCS = {
  "autoal": "AutoAL: a searched per-sample mixture of candidates (Wang et al. 2025)",
  "autoal-code": "AutoAL with the released code's selection rule (SearchNet gets zero gradient)",
}
strategies.register("autoal", strategy, _DOCS["autoal"])
strategies.register(
  "autoal-code",
  functools.partial(strategy, name="autoal-code", relaxation="code"),
  _DOCS["autoal-code"],
)
