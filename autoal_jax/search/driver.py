"""`AutoAL`: one round's search and query as named pure functions, composed two ways.

- `AutoAL.round_query` is the whole round (split, FitNet warm-up, decisions on V, the
  bi-level updates under `lax.scan`, the guardrail and the evidence, the vote, the query)
  as one traceable function: the strategies' ``query``, which a caller jits and may vmap
  over seeds.
- `AutoAL.search`, `vote` and `query` run the same functions from the host, each jitted
  once, with the FitNet warm-up and the bi-level updates dispatched one step per call:
  faster on CPU (`train.dispatch_per_step`), and how the loop runs AutoAL there
  (`Strategy.host_query`). Both give the same picks (tests/test_search.py).

The pieces: `split` (T and V), `prepare` (V's decisions and the objective's inputs),
`step.bilevel_steps` (the updates), `finish` (the round's metrics, the class-balance
flag, the guardrail and the evidence), `vote_of` (what buys: the mixture, the leader,
the vote, the low-budget leader) and `query_program` (the picks). Decisions are
`decide`'s jnp functions.
"""

from __future__ import annotations

import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from autoal_jax import models, sharding, strategies
from autoal_jax import train as train_lib
from autoal_jax.search import decide
from autoal_jax.search.config import (
  METRICS,
  STRATEGY_LEADERS,
  SearchConfig,
  check_config,
  needs_mc,
)
from autoal_jax.search.step import (
  BilevelState,
  SearchData,
  SearchState,
  bilevel_step,
  bilevel_steps,
  default_updates,
  fold_bounds,
  folds,
  gradient_parts,
  guardrail_values,
  init_search_state,
  query_scores,
  soft_count,
  split_labeled,
)
from autoal_jax.types import Context, DatasetInfo, PoolOutputs, QueryInfo

# Re-exported: the decisions' jnp functions (`decide`).
class_balance_p = decide.class_balance_p
guardrail_decision = decide.guardrail_decision
standing = decide.standing
rotation = decide.rotation
leader = decide.leader


def ceil_ratio(numerator, count, denominator):
  """ceil(numerator * count / denominator) in integers (int32; exact where a float ratio
  times a count could land one ulp above an integer)."""
  product = jnp.asarray(numerator, jnp.int32) * jnp.asarray(count, jnp.int32)
  denominator = jnp.asarray(denominator, jnp.int32)
  return (product + denominator - 1) // denominator


class AutoAL:
  """AutoAL's search and query for the active-learning loop.

  Built once per experiment (like `Trainer`); holds the configuration and the pure
  functions of a round, never a run's state and no cache: `init` returns a
  `SearchState`; `round_query` is a whole round as one traceable function; `search`,
  `vote` and `query` are the same round driven from the host, one jitted call per piece
  and per step. All shapes are fixed by the pool size, the capacity of V and the query
  size, so rounds after the first compile nothing.

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
    updates: the bi-level updates to alternate (`step.default_updates(config)` where
      None; docs/search.md swaps one).
    low_leader: the `strategies.Strategy` of ``config.low_budget_leader`` where that is
      one of `STRATEGY_LEADERS` (not a picker: ``uherding_gated``, built for the
      experiment's `Setup` by `strategy`); its own query buys when the low-budget rule
      says so. None: built here for this search's pool and budget, its calibration copy
      of the task model trained with the default `train.TrainConfig`.
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
    updates: tuple | None = None,
    low_leader: strategies.Strategy | None = None,
  ):
    check_config(config)
    if needs_mc(config) and num_mc < 2:
      raise ValueError(f"the candidates {config.candidates} need num_mc >= 2, got {num_mc}")
    if not 1 <= query_size < num_pool:
      raise ValueError(f"query_size must be in [1, {num_pool}), got {query_size}")
    # SearchNet's backbone follows the input ('auto'), and one that cannot take it is
    # refused here, before any training (a 1-D signal under the small CNN's pooling).
    config = config._replace(backbone=models.search_backbone(config.backbone, info.image_shape))
    models.check_input(
      # (the head's width does not change what the backbone takes)
      models.SearchNet(max(config.num_columns, 2), config.backbone, config.backbone_kwargs),
      info.image_shape,
      "AutoAL's SearchNet",
      "set search.backbone to 'auto' or 'mlp' (--config.search.backbone=mlp), which take "
      "inputs of any shape",
    )
    self.config, self.info = config, info
    self.num_pool = num_pool
    self.num_mc = num_mc if needs_mc(config) else 0
    self.capacity = capacity
    self.query_size = query_size
    self.eval_chunk = eval_chunk
    self.alignment = config.objective == "alignment"
    if self.alignment:  # picks of a quarter of V (a fold) at b / |L| <= 0.5 of it
      self.v_picks = max(1, math.ceil(capacity / 4))
    else:
      self.v_picks = max(1, min(capacity, math.ceil(query_size / num_pool * capacity)))
    self.fit_trainer = train_lib.Trainer(
      model, info, config.warmup, mesh=mesh, init_variables=init_variables
    )
    self.stats = dict(mean=tuple(info.mean), std=tuple(info.std))
    self.updates = default_updates(config) if updates is None else tuple(updates)
    if config.steps_per_call:
      self.steps_per_call = config.steps_per_call
    else:
      self.steps_per_call = 1 if train_lib.dispatch_per_step() else 16
    self._fit_tx = train_lib.make_optimizer(config.fit)
    # The columns a query reports weights for: K', and the low-budget leader where it is
    # not a candidate (it buys alone below `low_budget_per_class`; the evidence never weighs it).
    low = config.low_budget_leader
    self._low = None
    self.columns = config.column_names
    if self.alignment and config.low_budget_per_class > 0:
      self.columns += () if low in config.candidates else (low,)
      self._low = self.columns.index(low)
    # The leaders' columns, in order (those among the candidates).
    self._leaders = [self.columns.index(n) for n in config.leaders if n in config.candidates]
    # Who may buy alone (`query_program`): the standing leaders with fallback = leader,
    # the low-budget leader.
    alone = list(self._leaders) if config.fallback == "leader" else []
    self._alone = tuple(sorted(set(alone + ([self._low] if self._low is not None else []))))
    # A low-budget leader that is a strategy, not a picker: its own query buys.
    self._low_leader = None
    if self._low is not None and low in STRATEGY_LEADERS:
      if low_leader is None:
        # A search built without the experiment's Setup: the leader's own, for this
        # search's pool and budget (its calibration copy of the task model trains with
        # the default `train.TrainConfig`; `strategy` passes the task model's).
        setup = strategies.Setup(
          num_pool=num_pool, query_size=query_size, num_mc=num_mc, max_labeled=2 * capacity,
          model=model, info=info, search=config, eval_chunk=eval_chunk, mesh=mesh,
          init_variables=init_variables,
        )  # fmt: skip
        low_leader = strategies.build(low, setup)
      if low_leader.name != low:
        raise ValueError(f"low_leader is {low_leader.name!r}, the config's leader {low!r}")
      self._low_leader = low_leader
    self._pickers = strategies.registry.resolve(config.candidates)
    self._column_pickers = tuple(
      None if n in STRATEGY_LEADERS else strategies.get_picker(n) for n in self.columns
    )
    # Host-driven pieces, each jitted once.
    # Replicated on FitNet's mesh, where the search's outputs live (as the loop places a
    # run's state): a search on init's state and one on a search's output then compile
    # the same programs (jit keys on the inputs' shardings).
    self._init = jax.jit(
      functools.partial(init_search_state, config=config, image_shape=info.image_shape),
      out_shardings=sharding.replicated(self.fit_trainer.mesh),
    )
    self._split = jax.jit(self.split)
    self._prepare = jax.jit(self.prepare)
    step = functools.partial(bilevel_step, **self.stats, config=config, updates=self.updates)
    self._branch_steps = [
      jax.jit(functools.partial(step, branch=b)) for b in range(len(self.updates))
    ]
    self._scan_steps = jax.jit(
      functools.partial(
        bilevel_steps,
        **self.stats,
        config=config,
        num_steps=self.steps_per_call,
        updates=self.updates,
      )
    )
    self._finish = jax.jit(self.finish)
    self._vote_of = jax.jit(self.vote_of)
    self._query = jax.jit(self.query_program)

  def init(self, key: jax.Array, context: Context | None = None) -> SearchState:
    """Fresh SearchNet and LossNet (uniform strategy weights); with ``balance_counts =
    initial``, the balance test of the initial labeled set (``context``'s, needed then);
    a strategy leader's ``init`` with ``key`` itself (the key a run of the leader alone
    gets: its state is that run's; ``context`` needed unless the leader carries none)."""
    state = self._init(key)
    if self._low_leader is not None:
      if context is None and self._low_leader.init is not strategies.base.no_state:
        raise ValueError(
          f"{self._low_leader.name!r} draws its state from the initial set: pass its Context"
        )
      state = state._replace(leader=self._low_leader.init(key, context))
    if self.config.balance_counts == "initial":
      if context is None:
        raise ValueError("balance_counts='initial' tests the initial labeled set: pass its Context")
      balance = self.labeled_balance(context.labels, context.labeled)
      state = state._replace(imbalanced=balance < self.config.low_budget_balance)
    return state

  def labeled_balance(self, labels: jax.Array, labeled: jax.Array) -> jax.Array:
    """`decide.class_balance_p` of the labeled samples' class counts (float32 scalar)."""
    num_classes = self.info.num_classes
    counts = jnp.bincount(jnp.where(labeled, labels, num_classes), length=num_classes + 1)
    return decide.class_balance_p(counts[:num_classes])

  # ---------------------------------------------------------------- the pure pieces

  def min_labeled(self) -> int:
    """The smallest labeled set a search can split (V needs a row per fold)."""
    return 6 if self.alignment else 2

  def split(self, key: jax.Array, labeled: jax.Array):
    """The round's keys and the split of the labeled set into T and V (`split_labeled`).

    Returns:
      (keys: warm-up, MC passes, decisions, bi-level steps, soft count; train_mask
      bool[N]; v_index int32[V_max]; v_mask bool[V_max]).
    """
    split_key, warmup_key, mc_key, decision_key, step_key = jax.random.split(key, 5)
    count_key = jax.random.fold_in(step_key, self.config.round_steps)  # no step uses this
    train_mask, v_index, v_mask = split_labeled(split_key, labeled, self.capacity)
    keys = (warmup_key, mc_key, decision_key, step_key, count_key)
    return keys, train_mask, v_index, v_mask

  def prepare(
    self,
    state: SearchState,
    keys,
    fit: train_lib.TrainState,
    images: jax.Array,
    labels: jax.Array,
    num_labeled: jax.Array,
    v_index: jax.Array,
    v_mask: jax.Array,
    pool_embeddings: jax.Array | None = None,
  ):
    """V's candidate decisions with the warmed-up FitNet and the objective's inputs.

    Args:
      state: `SearchState` (its evidence sets the alignment objective's prior).
      keys: `split`'s keys.
      fit: FitNet after its warm-up on T.
      images, labels: the pool, uint8[N, H, W, Ch] or float32[N, *F], and int32[N].
      num_labeled: int32 scalar n.
      v_index, v_mask: `split`'s V.
      pool_embeddings: the pool's fixed embedding (`PoolOutputs.pool_embeddings`) or None:
        V's candidates measure distances on its rows of V.

    Returns:
      (`SearchData`, the `BilevelState` to update, guard_rows bool[V_max] (the guardrail's
      fold; alignment only, else V's mask), guard_picks int32 (the picks there), finite:
      bool, FitNet's probabilities on V were finite).
    """
    _, mc_key, decision_key, _, _ = keys
    config = self.config
    outputs = self.fit_trainer.pool_outputs(fit, mc_key, images[v_index], num_mc=self.num_mc)
    if pool_embeddings is not None:  # the candidates measure distances on the fixed one
      outputs = outputs._replace(pool_embeddings=pool_embeddings[v_index])
    finite = jnp.all(jnp.isfinite(outputs.probs))
    n = jnp.asarray(num_labeled, jnp.int32)
    num_v = n // 2
    decide_v = functools.partial(
      strategies.decisions.decisions,
      self._pickers,
      k=self.v_picks,
      signal=config.candidate_signal,
    )
    if self.alignment:
      # V in three folds: SearchNet's (half), the guardrail's and H (a quarter each).
      search_rows, guard_rows, held_rows = folds(v_mask)
      search_end, guard_end = fold_bounds(num_v)
      sizes = (search_end, guard_end - search_end)
      # r = b / |L| of each fold, at most half of it.
      picks = [
        jnp.minimum(self.v_picks, jnp.minimum(ceil_ratio(self.query_size, m, n), (m + 1) // 2))
        for m in sizes
      ]
      ratio = jnp.minimum(0.5, self.query_size / n.astype(jnp.float32))
      decisions = decide_v(decision_key, outputs, search_rows, num_picks=picks[0]) + decide_v(
        jax.random.fold_in(decision_key, 1), outputs, guard_rows, num_picks=picks[1]
      )
      alignment, phi, residual = gradient_parts(outputs, labels[v_index], v_mask, held_rows)
      log_prior = state.evidence / jnp.sqrt(jnp.maximum(state.evidence_var, 1.0))
      data = SearchData(
        v_index,
        v_mask,
        decisions,
        ratio.astype(jnp.float32),
        search_rows,
        alignment,
        phi,
        residual,
        log_prior,
      )
      guard = (guard_rows, picks[1])
    else:
      num_picks = jnp.minimum(self.v_picks, ceil_ratio(self.query_size, num_v, self.num_pool))
      decisions = decide_v(decision_key, outputs, v_mask, num_picks=num_picks)
      ratio = jnp.float32(self.query_size / self.num_pool)
      data = SearchData(v_index, v_mask, decisions, ratio)
      guard = (v_mask, num_picks)
    fit = fit.replace(tx=self._fit_tx, opt_state=self._fit_tx.init(fit.params))
    bilevel = BilevelState(fit, state.search, state.loss)
    return data, bilevel, guard[0], guard[1], finite

  def finish(
    self,
    state: SearchState,
    bilevel: BilevelState,
    metrics,
    keys,
    data: SearchData,
    guard_rows: jax.Array,
    guard_picks: jax.Array,
    images: jax.Array,
    labels: jax.Array,
    labeled: jax.Array,
    num_labeled: jax.Array,
  ) -> tuple[SearchState, dict]:
    """After the bi-level updates: the round's metrics, the class-balance flag and (for
    ``alignment``) the guardrail and the evidence (`decide.guardrail_decision`).

    Args:
      metrics: `StepMetrics` of the round's steps ([S] each).
      (the others as `prepare` took and returned them)

    Returns:
      (the new `SearchState`, the round's metrics: float32 scalars, NaN where not
      measured: the means of `METRICS` over the steps, ``soft_count_v`` /
      ``target_count_v`` on the whole of V, ``size_v``, ``labels_per_class``,
      ``class_balance_p``; for ``alignment`` ``mixture`` (1: the searched mixture buys),
      ``survivors``, ``value_mixture``, ``value_best``, ``value_se``).
    """
    config = self.config
    count_key = keys[4]
    n = jnp.asarray(num_labeled, jnp.int32)
    num_v = n // 2
    state = state._replace(search=bilevel.search, loss=bilevel.loss)
    log = {name: jnp.nanmean(getattr(metrics, name)) for name in METRICS}
    log["soft_count_v"] = soft_count(
      state, count_key, images, data, **self.stats, chunk=self.eval_chunk, config=config
    )
    log["target_count_v"] = data.ratio * num_v.astype(jnp.float32)
    log["size_v"] = num_v.astype(jnp.float32)
    log["labels_per_class"] = n.astype(jnp.float32) / self.info.num_classes
    log["searched"] = jnp.float32(1.0)
    balance = self.labeled_balance(labels, labeled)
    log["class_balance_p"] = balance
    # This round's counts only (not sticky since 2026-12-04): a false alarm of the test on a
    # tiny random initial set (about 5% at alpha 0.05 on balanced classes) then costs one
    # round, not the run; a real imbalance keeps being rejected as labels accumulate. With
    # balance_counts = initial the flag `init` set stays (the bought labels are no sample).
    state = state._replace(imbalanced=decide.imbalanced(state.imbalanced, balance, config))
    if self.alignment:
      pooled_rows = data.train | guard_rows  # V but H
      mix, mix_se, values, ses, pooled_values, pooled_ses = guardrail_values(
        state,
        images,
        data,
        guard_rows,
        guard_picks,
        pooled_rows,
        **self.stats,
        chunk=self.eval_chunk,
        config=config,
      )
      vote, evidence, variance, margin = decide.guardrail_decision(
        mix,
        mix_se,
        values,
        ses,
        state.evidence,
        state.evidence_var,
        config,
        pooled_values,
        pooled_ses,
      )
      state = state._replace(evidence=evidence, evidence_var=variance)
      log["mixture"] = (~jnp.any(vote > 0)).astype(jnp.float32)
      log["survivors"] = jnp.sum(vote)
      log["value_mixture"] = mix
      log["value_best"] = jnp.max(values)
      log["value_se"] = margin
    return state, log

  def vote_of(self, state: SearchState, log: dict, key: jax.Array) -> jax.Array:
    """What `query_program` buys with after `finish` returned (state, log), over
    `columns`: zeros for the searched mixture (the paper's objective, or the guardrail
    let it through), else 1 for each candidate the evidence has not eliminated
    (`decide.standing`); with ``fallback = rotation``, 1 for one of them only, drawn
    uniformly with ``key``; with ``fallback = leader``, 1 for the first standing leader
    only. Below ``low_budget_per_class`` labels per class, unless the labeled classes
    look imbalanced in this round (``state.imbalanced``), 1 for the
    low-budget leader alone, whatever the evidence (but the mixture goes first)."""
    width = len(self.columns)
    if not self.alignment:
      return jnp.zeros(width, jnp.float32)
    kept = decide.standing(state.evidence, state.evidence_var, self.config.eliminate)
    vote = decide.fallback_vote(kept, key, self.config)
    vote = jnp.pad(vote, (0, width - vote.shape[0]))
    if self._low is not None:
      low = (log["labels_per_class"] < self.config.low_budget_per_class) & ~state.imbalanced
      alone = (jnp.arange(width) == self._low).astype(jnp.float32)
      vote = jnp.where(low, alone, vote)
    return jnp.where(log["mixture"] > 0, 0.0, vote)

  def query_program(
    self,
    state: SearchState,
    key: jax.Array,
    images: jax.Array,
    outputs: PoolOutputs,
    candidate_mask: jax.Array,
    num: jax.Array,
    vote: jax.Array,
    context: Context | None = None,
    round_key: jax.Array | None = None,
  ) -> tuple[jax.Array, jax.Array]:
    """Picks num <= b unlabeled samples: one program for every way of buying and every
    count (a partial last round compiles nothing new).

    ``vote`` (float32[len(columns)], `vote_of`): all zeros, the searched mixture of the
    candidates (`step.query_scores`); one leader marked alone (``fallback = leader``, or
    the low-budget leader), its own picks (the set of its column of the decisions), the
    other candidates' picks not computed; else the equal-weight vote of the candidates it
    marks, ties at random. The branch runs under `lax.switch` (the decisions computed
    once, for the vote or the mixture): on one device only the taken one executes.

    Args:
      state: `SearchState` after this round's search.
      key: PRNG key (candidate randomness and tie-breaking).
      images: uint8[N, H, W, Ch] or float32[N, *F].
      outputs: the task model's `PoolOutputs` (with T MC passes if a candidate needs them).
      candidate_mask: bool[N], the unlabeled samples.
      num: int32 scalar, the picks, 1 <= num <= b (traced).
      vote: float32[len(columns)].
      context: the round's `Context` (its labels), for a low-budget leader that is a
        strategy (`STRATEGY_LEADERS`): its query is then a branch of the switch (under
        `vmap` the switch runs every branch, so seeds run vmapped pay for UHerding's
        calibration fit in every round, whoever buys). None (the host path, `query`):
        that branch is left out, and `host_query` runs the leader's own host query.
      round_key: the round's query key (``key`` is split from it), for that branch
        (`leader_picks`); needed with ``context``.

    Returns:
      (int32[b] picks, the first num valid and -1 after them; float32[len(columns)] the
      mean strategy weight over the picks; the strategy leader's state, its query's where
      it bought, else ``state.leader``).
    """
    decision_key, tie_key = jax.random.split(key)
    leader = () if state is None else state.leader  # (None: a vote, no search state)
    num = jnp.asarray(num, jnp.int32)
    width = len(self.columns)
    b = self.query_size
    total = jnp.maximum(jnp.sum(vote), 1e-30)

    def decided():  # the candidates' decisions once, then the vote or the mixture
      decisions = strategies.decisions.decisions(
        self._pickers,
        decision_key,
        outputs,
        candidate_mask,
        b,
        num_picks=num,
        signal=self.config.candidate_signal,
      )

      def by_vote():
        scores = decisions @ vote[: self.config.num_columns]
        return scores, jnp.zeros((candidate_mask.shape[0], width), jnp.float32)

      def by_mixture():
        mixed, weights = query_scores(
          state,
          images,
          decisions,
          candidate_mask,
          num,
          **self.stats,
          chunk=self.eval_chunk,
          config=self.config,
        )
        return mixed, jnp.pad(weights, ((0, 0), (0, width - weights.shape[1])))

      if not self.alignment:  # the paper's objective: always the mixture
        scores, weights = by_mixture()
      else:
        scores, weights = jax.lax.cond(jnp.any(vote > 0), by_vote, by_mixture)
      # The top num of the b slots (one program for every num), ties at random.
      chosen = strategies.top_k_masked(tie_key, scores, candidate_mask, b, num)
      valid = (chosen >= 0).astype(jnp.float32)[:, None]
      mean = jnp.sum(weights[jnp.maximum(chosen, 0)] * valid, 0) / jnp.maximum(num, 1).astype(
        jnp.float32
      )
      return chosen, jnp.where(jnp.any(vote > 0), vote / total, mean), leader

    def alone(j):
      def picks():
        state_after = leader
        if self._column_pickers[j] is None:  # a strategy leader: its own query's picks
          leader_context = context._replace(outputs=outputs)
          chosen, state_after = self.leader_picks(round_key, leader_context, b, leader)
          chosen = jnp.where(jnp.arange(b) < num, chosen, -1)
        else:
          chosen = strategies.decisions.candidate_picks(
            self._column_pickers, j, decision_key, outputs, candidate_mask, b, num_picks=num
          )
        return chosen, vote / total, state_after

      return picks

    columns = self._alone
    if context is None:  # the host path: `host_query` runs a strategy leader itself
      columns = tuple(j for j in columns if self._column_pickers[j] is not None)
    elif self._low_leader is not None and round_key is None:
      raise ValueError("a strategy leader's branch needs the round's key (round_key)")
    if not columns:
      return decided()
    j = jnp.argmax(vote)
    single = jnp.sum(vote > 0) == 1
    which = jnp.asarray(0, jnp.int32)
    for i, column in enumerate(columns):
      which = jnp.where(single & (j == column), 1 + i, which)
    return jax.lax.switch(which, [decided] + [alone(j) for j in columns])

  def leader_picks(
    self, key: jax.Array, context: Context, k: int, leader_state, host: bool = False
  ):
    """The strategy leader's k picks (`STRATEGY_LEADERS`) with the round's query key
    ``key`` itself and its state ``leader_state`` (`SearchState.leader`), on both paths;
    ``host``: its host query. Returns (int32[k] picks, its new state).

    The key is the one the loop gives a run of the leader alone in the same round, so a
    round the leader buys is that run's round pick for pick (common random numbers: the
    paired difference between `autoal` and its leader is its decisions, not the leader's
    own randomness, e.g. UHerding's calibration split). The search consumes keys split
    from the same one; no round uses both the leader's picks and the search's
    randomness for the same samples. Its state is carried across the rounds it buys
    (initialised as the leader alone's, `init`): a leader that decides once, at its first
    query or at ``init`` (``uherding_switch``, ``uherding_cvswitch``), keeps its decision
    as its own run does."""
    query = (host and self._low_leader.host_query) or self._low_leader.query
    picks, leader_state, _ = query(leader_state, key, context, k)
    return picks, leader_state

  def buys_alone_with_leader(self, vote) -> bool:
    """Whether a host vote (`vote`) marks the strategy leader alone."""
    if self._low_leader is None or vote is None:
      return False
    vote = np.asarray(vote)
    return int(np.sum(vote > 0)) == 1 and int(np.argmax(vote)) == self._low

  def round_query(self, state: SearchState, key: jax.Array, context: Context, k: int):
    """One round's search and query as one traceable function (the strategies' query).

    The FitNet warm-up runs as `train.fit_program`, the bi-level updates as one
    `lax.scan` of `bilevel_steps`; what the host-driven path (`host_query`) computes,
    with the same keys. With ``alignment`` a labeled set too small to split is left
    unsearched and the rule buys (`unsearched`); else it buys nothing (-1 picks: the
    loop's pick check raises), as after a diverged FitNet warm-up.

    Returns:
      (int32[k] picks, the new `SearchState`, `QueryInfo` of arrays: the weights over
      `columns`, the round's metrics).
    """
    search_key, pick_key = jax.random.split(key)
    # The first half of this split drew the networks before the (init, query) interface;
    # it is skipped so that results stay those of earlier versions.
    _, search_key = jax.random.split(search_key)
    images, labels, labeled = context.images, context.labels, context.labeled
    n = jnp.sum(labeled, dtype=jnp.int32)
    keys, train_mask, v_index, v_mask = self.split(search_key, labeled)
    fit = self.fit_trainer.fit_program(keys[0], images, labels, train_mask, n - n // 2)
    data, bilevel, guard_rows, guard_picks, finite = self.prepare(
      state, keys, fit, images, labels, n, v_index, v_mask, context.outputs.pool_embeddings
    )
    bilevel, metrics = bilevel_steps(
      bilevel,
      keys[3],
      data,
      images,
      labels,
      jnp.zeros((), jnp.int32),
      **self.stats,
      config=self.config,
      num_steps=self.config.round_steps,
      updates=self.updates,
    )
    searched, log = self.finish(
      state, bilevel, metrics, keys, data, guard_rows, guard_picks, images, labels, labeled, n
    )
    enough = n >= self.min_labeled()
    if self.alignment:  # too few labels to search: the rule buys (`unsearched`)
      state, log = self.unsearched(state, searched, log, enough)
    else:
      state = searched
    vote = self.vote_of(state, log, jax.random.fold_in(pick_key, 1))
    if not 1 <= k <= self.query_size:
      raise ValueError(f"k must be in [1, {self.query_size}], got {k}")
    num = jnp.int32(k)
    picks, weights, leader = self.query_program(
      state, pick_key, images, context.outputs, ~labeled, num, vote, context, key
    )
    state = state._replace(leader=leader)
    picks = picks[:k]
    # A diverged FitNet warm-up (non-finite) buys nothing; without the search only the
    # alignment rule can buy (the paper's objective needs the mixture).
    usable = jnp.where(enough, finite, self.alignment)
    picks = jnp.where(usable, picks, -1)
    leader_state = self.leader_state(state)
    if leader_state is not None:
      log["leader_state"] = jnp.asarray(leader_state, jnp.float32)
    return picks, state, QueryInfo(weights=weights, metrics=log)

  @staticmethod
  def leader_state(state: SearchState):
    """What a round's log carries as ``leader_state``: the strategy leader's state after
    the round where it is one number (``uherding_cvswitch``: the initial set's
    cross-validated error, so its decision; ``uherding_switch``: -1 undecided, 1 the whole
    pool, 0 the gate); None otherwise."""
    leaves = jax.tree.leaves(state.leader)
    return leaves[0] if len(leaves) == 1 and jnp.ndim(leaves[0]) == 0 else None

  def unsearched(self, before: SearchState, searched: SearchState, log: dict, enough):
    """A round of the ``alignment`` search on a labeled set too small to split into its
    folds (fewer than `min_labeled`, e.g. one label per class over four classes): the
    rule buys without this round's search. SearchNet, LossNet and the evidence stay as
    they were (the updates on empty folds are discarded), the class-balance flag is this
    round's, the mixture does not buy, so the low-budget leader or the standing leader of
    the evidence so far buys (`vote_of`); the search's metrics are NaN and ``searched``
    0. Where ``enough`` (traced bool), ``searched`` and ``log`` unchanged."""
    kept = before._replace(imbalanced=searched.imbalanced)
    state = jax.tree.map(lambda new, old: jnp.where(enough, new, old), searched, kept)
    known = ("labels_per_class", "class_balance_p")
    log = {name: v if name in known else jnp.where(enough, v, jnp.nan) for name, v in log.items()}
    log["mixture"] = jnp.where(enough, log["mixture"], 0.0)
    log["searched"] = jnp.asarray(enough, jnp.float32)
    return state, log

  # ---------------------------------------------------------------- the host driver

  def search(
    self,
    state: SearchState,
    key: jax.Array,
    images: jax.Array,
    labels: jax.Array,
    labeled: jax.Array,
    num_labeled: int,
    pool_embeddings: jax.Array | None = None,
  ) -> tuple[SearchState, dict]:
    """One round's search from the host: split, FitNet warm-up (`Trainer.fit`), decisions
    on V, bi-level updates one jitted call per step (or per `steps_per_call`), `finish`.

    Args:
      state: `SearchState` (warm-started from the previous round).
      key: the round's search key.
      images: uint8[N, H, W, Ch] or float32[N, *F], the pool on device.
      labels: int32[N].
      labeled: bool[N].
      num_labeled: the size of the labeled set (>= 2; >= 6 for ``alignment``).
      pool_embeddings: the pool's fixed embedding (`PoolOutputs.pool_embeddings`) or None.

    Returns:
      (new `SearchState`, host metrics: `finish`'s, those measured, as floats).
    """
    num_v = num_labeled // 2
    if num_v < 1:
      raise ValueError(f"the search needs at least 2 labeled samples, got {num_labeled}")
    if num_v > self.capacity:
      raise ValueError(f"|V| = {num_v} exceeds the search capacity {self.capacity}")
    if self.alignment and min(fold_sizes(num_v)) < 1:
      raise ValueError(f"the alignment search needs at least 6 labeled samples, got {num_labeled}")
    n = jnp.asarray(num_labeled, jnp.int32)
    keys, train_mask, v_index, v_mask = self._split(key, labeled)
    fit = self.fit_trainer.fit(keys[0], images, labels, train_mask, num_labeled - num_v)
    data, bilevel, guard_rows, guard_picks, finite = self._prepare(
      state, keys, fit, images, labels, n, v_index, v_mask, pool_embeddings
    )
    if not bool(finite):  # a diverged warm-up: NaN would silently rank last
      raise ValueError("FitNet probabilities on V hold NaN or Inf (a diverged warm-up)")
    metrics = []
    step = 0
    branches = len(self._branch_steps)
    step_key = keys[3]
    while step < self.config.round_steps:
      if self.steps_per_call == 1 or self.config.round_steps - step < self.steps_per_call:
        at = jnp.asarray(step, jnp.int32)
        bilevel, m = self._branch_steps[step % branches](
          bilevel, step_key, data, images, labels, at
        )
        metrics.append(jax.tree.map(lambda v: v[None], m))
        step += 1
      else:
        at = jnp.asarray(step, jnp.int32)
        bilevel, m = self._scan_steps(bilevel, step_key, data, images, labels, at)
        metrics.append(m)
        step += self.steps_per_call
    metrics = jax.tree.map(lambda *v: jnp.concatenate(v), *metrics)
    state, log = self._finish(
      state, bilevel, metrics, keys, data, guard_rows, guard_picks, images, labels, labeled, n
    )
    log = {name: float(v) for name, v in jax.device_get(log).items()}
    return state, {name: v for name, v in log.items() if not math.isnan(v)}

  def vote(self, state: SearchState, log: dict, key: jax.Array | None = None) -> np.ndarray | None:
    """`vote_of` from the host, after `search` returned (state, log): None for the
    searched mixture, else the vote (float64[len(columns)])."""
    if not self.alignment or log["mixture"]:
      return None
    if key is None:
      key = jax.random.key(0)  # only the rotation draws
    device_log = {
      "mixture": jnp.float32(log["mixture"]),
      "labels_per_class": jnp.float32(log["labels_per_class"]),
    }
    return np.asarray(self._vote_of(state, device_log, key), np.float64)

  def query(
    self,
    state: SearchState,
    key: jax.Array,
    images: jax.Array,
    outputs: PoolOutputs,
    candidate_mask: jax.Array,
    k: int,
    vote: np.ndarray | None = None,
  ) -> tuple[jax.Array, np.ndarray]:
    """`query_program` from the host (one compiled program for every way of buying and
    every k): (int32[k] picks, float64[len(columns)] the mean strategy weight over them).
    A vote for a strategy leader alone is `host_query`'s (it needs the round's context)."""
    if not 1 <= k <= self.query_size:
      raise ValueError(f"k must be in [1, {self.query_size}], got {k}")
    if self.buys_alone_with_leader(vote):
      raise ValueError(f"{self.columns[self._low]!r} buys through host_query, not query")
    width = len(self.columns)
    vote = np.zeros(width) if vote is None else np.asarray(vote)
    picks, weights, _ = self._query(
      state, key, images, outputs, candidate_mask, jnp.int32(k), jnp.asarray(vote, jnp.float32)
    )
    return picks[:k], np.asarray(weights, np.float64)

  def host_query(self, state: SearchState, key: jax.Array, context: Context, k: int):
    """`round_query`'s computation driven from the host (`search`, `vote`, `query`): the
    same picks; the loop runs this where per-step dispatch is faster (CPU). Times the
    search (``QueryInfo.search_seconds``)."""
    search_key, pick_key = jax.random.split(key)
    _, search_key = jax.random.split(search_key)  # as `round_query`
    num_labeled = int(jax.device_get(jnp.sum(context.labeled)))
    start = time.perf_counter()
    if self.alignment and num_labeled < self.min_labeled():  # as `round_query`: `unsearched`
      balance = self.labeled_balance(context.labels, context.labeled)
      state = state._replace(imbalanced=decide.imbalanced(state.imbalanced, balance, self.config))
      metrics = {
        "labels_per_class": num_labeled / self.info.num_classes,
        "class_balance_p": float(balance),
        "mixture": 0.0,
        "searched": 0.0,
      }
    else:
      state, metrics = self.search(
        state, search_key, context.images, context.labels, context.labeled, num_labeled,
        context.outputs.pool_embeddings,
      )  # fmt: skip
    jax.block_until_ready(state)
    seconds = time.perf_counter() - start
    # A key of its own for the rotation, derived so that the vote's picks stay as they were.
    vote = self.vote(state, metrics, jax.random.fold_in(pick_key, 1))
    if self.buys_alone_with_leader(vote):
      chosen, leader = self.leader_picks(key, context, k, state.leader, host=True)
      state = state._replace(leader=leader)
      weights = vote / np.sum(vote)
    else:
      chosen, weights = self.query(
        state, pick_key, context.images, context.outputs, ~context.labeled, k, vote
      )
    leader_state = self.leader_state(state)
    if leader_state is not None:
      metrics["leader_state"] = float(jax.device_get(leader_state))
    info = QueryInfo(weights=weights, metrics=metrics, search_seconds=seconds)
    return chosen, state, info


def fold_sizes(num_v: int) -> tuple[int, int, int]:
  """The sizes of `step.folds` of a V of ``num_v``: SearchNet's, the guardrail's, H."""
  search_end, guard_end = fold_bounds(num_v)
  return search_end, guard_end - search_end, num_v - guard_end


def strategy(
  setup: strategies.Setup, name: str = "autoal-paper", **overrides
) -> strategies.Strategy:
  """AutoAL's search as a `strategies.Strategy` over ``setup.candidates``.

  ``init`` draws SearchNet and LossNet; ``query`` is `AutoAL.round_query` (the round's
  search on the labeled set and the query, one traceable function); ``host_query`` is
  `AutoAL.host_query`, the same driven from the host (what the loop runs on CPU).

  Args:
    setup: the experiment's `strategies.Setup` (its ``search`` config, default
      `SearchConfig()`, with the setup's candidates).
    name: the registry name.
    **overrides: `SearchConfig` fields this strategy changes (`VARIANTS`: ``autoal`` the
      alignment objective, ``autoal-code`` the released code's relaxation).
  """
  config = (setup.search or SearchConfig())._replace(candidates=tuple(setup.candidates))
  config = config._replace(**overrides)
  if setup.model is None or setup.info is None:
    raise ValueError("AutoAL's search needs the task model and the dataset info in its Setup")
  low_leader = None
  if config.low_budget_leader in STRATEGY_LEADERS and config.objective == "alignment":
    low_leader = strategies.build(config.low_budget_leader, setup)
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
    low_leader=low_leader,
  )

  def init(key: jax.Array, context: Context) -> SearchState:
    return searcher.init(key, context)

  # The pickers: the candidates, and the low-budget leader (`AutoAL.columns`) where it is
  # one (a strategy leader needs what the task model's outputs already hold).
  pickers = tuple(
    n for n in searcher.columns if n != "loss_prediction" and n not in STRATEGY_LEADERS
  )
  needs = strategies.candidates_needs(pickers)
  doc = _DOCS.get(name, "AutoAL's strategy search")
  return strategies.Strategy(
    name,
    init,
    searcher.round_query,
    needs,
    doc,
    searcher.columns,
    pickers,
    host_query=searcher.host_query,
  )


_DOCS = {
  "autoal": (
    "AutoAL searched by gradient alignment with held-out errors; its leader (margin) while "
    "the out-of-fold evidence keeps it, else the vote of those kept, unless the searched "
    "mixture is clearly better; by default Uncertainty Herding alone at every budget "
    "(uherding_cvswitch: its gate, or the whole pool where the initial set's "
    "cross-validated error is under 20%)"
  ),
  "autoal-paper": "AutoAL with the paper's objective: a per-sample mixture selecting hard samples",
  "autoal-code": "AutoAL with the released code's selection rule (SearchNet gets zero gradient)",
}
# The variants differ in the SearchConfig fields below, whatever the config says of them.
VARIANTS = {
  "autoal": dict(objective="alignment", use_loss_prediction=False),
  "autoal-paper": dict(objective="hard_samples"),
  "autoal-code": dict(objective="hard_samples", relaxation="code"),
}
# What the package's top level registers (`autoal_jax/__init__.py`): name -> (constructor,
# doc). Importing this module registers nothing.
STRATEGIES = {
  name: (functools.partial(strategy, name=name, **fields), _DOCS[name])
  for name, fields in VARIANTS.items()
}
