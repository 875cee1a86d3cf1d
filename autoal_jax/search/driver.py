"""`AutoAL`, the host driver of one round's search and query, and the ``autoal`` and
``autoal-code`` strategies built on it."""

from __future__ import annotations

import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from autoal_jax import sharding, strategies
from autoal_jax import train as train_lib
from autoal_jax.search.config import SearchConfig, check_config, needs_mc
from autoal_jax.search.step import (
  BilevelState,
  SearchData,
  SearchState,
  bilevel_step,
  bilevel_steps,
  fold_bounds,
  folds,
  gradient_parts,
  guardrail_values,
  init_search_state,
  num_branches,
  query_scores,
  soft_count,
  split_labeled,
)
from autoal_jax.types import Context, DatasetInfo, PoolOutputs, QueryInfo


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
    self.alignment = config.objective == "alignment"
    if self.alignment:  # picks of a quarter of V (a fold) at b / |L| <= 0.5 of it
      self.v_picks = max(1, math.ceil(capacity / 4))
    else:
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
        strategies.decisions.decisions,
        strategies.registry.resolve(config.candidates),
        k=self.v_picks,
        signal=signal,
      )
    )
    self._pool_decisions = jax.jit(
      functools.partial(
        strategies.decisions.decisions,
        strategies.registry.resolve(config.candidates),
        k=query_size,
        signal=signal,
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
    self._candidate_picks = {}  # j -> column j's pool picks alone, jitted at first use
    self._vote_compiled = False
    self._folds = jax.jit(folds)
    self._log_prior = jax.jit(lambda e, v: e / jnp.sqrt(jnp.maximum(v, 1.0)))
    self._vote = jax.jit(lambda decisions, vote: decisions @ vote)
    self._gradient_parts = jax.jit(gradient_parts)
    num_classes = info.num_classes
    self._class_counts = jax.jit(
      lambda labels, labeled: jnp.bincount(
        jnp.where(labeled, labels, num_classes), length=num_classes + 1
      )[:num_classes]
    )
    self._guardrail = jax.jit(
      functools.partial(guardrail_values, **stats, chunk=eval_chunk, config=config)
    )

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
    if self.alignment and min(fold_sizes(num_v)) < 1:
      raise ValueError(f"the alignment search needs at least 6 labeled samples, got {num_labeled}")
    split_key, warmup_key, mc_key, decision_key, step_key = jax.random.split(key, 5)
    count_key = jax.random.fold_in(step_key, self.config.round_steps)  # no step uses this one
    train_mask, v_index, v_mask = self._split(split_key, labeled, self.capacity)
    fit = self.fit_trainer.fit(warmup_key, images, labels, train_mask, num_labeled - num_v)
    v_outputs = self.fit_trainer.pool_outputs(
      fit, mc_key, self._gather(images, v_index), num_mc=self.num_mc
    )
    strategies.check_probs(v_outputs.probs, "FitNet probabilities on V")
    log = {}
    if self.alignment:
      # V in three folds: SearchNet's (half), the guardrail's and H (a quarter each).
      search_rows, guard_rows, held_rows = self._folds(v_mask)
      sizes = fold_sizes(num_v)
      ratio = min(0.5, self.query_size / num_labeled)
      picks = [min(self.v_picks, math.ceil(ratio * n)) for n in sizes[:2]]
      decisions = self._v_decisions(
        decision_key, v_outputs, search_rows, num_picks=jnp.asarray(picks[0], jnp.int32)
      ) + self._v_decisions(
        jax.random.fold_in(decision_key, 1),
        v_outputs,
        guard_rows,
        num_picks=jnp.asarray(picks[1], jnp.int32),
      )
      alignment, phi, residual = self._gradient_parts(
        v_outputs, self._gather(labels, v_index), v_mask, held_rows
      )
      data = SearchData(
        v_index,
        v_mask,
        decisions,
        jnp.asarray(ratio, jnp.float32),
        search_rows,
        alignment,
        phi,
        residual,
        self._log_prior(state.evidence, state.evidence_var),
      )
    else:
      num_picks = jnp.asarray(min(self.v_picks, math.ceil(self.ratio * num_v)), jnp.int32)
      decisions = self._v_decisions(decision_key, v_outputs, v_mask, num_picks=num_picks)
      data = SearchData(v_index, v_mask, decisions, jnp.asarray(self.ratio, jnp.float32))
    fit = fit.replace(tx=self._fit_tx, opt_state=self._fit_opt_init(fit.params))
    bilevel = BilevelState(fit, state.search, state.loss)
    metrics = []
    step = 0
    branches = len(self._branch_steps)
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
    state = state._replace(search=bilevel.search, loss=bilevel.loss)
    values = jax.tree.map(lambda *v: np.concatenate([np.asarray(x) for x in v]), *metrics)
    # Metrics no update of this config measures (no LossNet, no FitNet steps) are left out.
    log.update(
      {name: float(np.nanmean(v)) for name, v in values._asdict().items() if np.isfinite(v).any()}
    )
    log["soft_count_v"] = float(self._soft_count(state, count_key, images, data))
    log["target_count_v"] = float(data.ratio) * num_v
    log["size_v"] = num_v
    log["labels_per_class"] = num_labeled / self.info.num_classes
    log["class_balance_p"] = class_balance_p(np.asarray(self._class_counts(labels, labeled)))
    if log["class_balance_p"] < self.config.low_budget_balance and not bool(state.imbalanced):
      # On the devices the flag was on: another placement would compile the step again.
      state = state._replace(imbalanced=jax.device_put(np.bool_(True), state.imbalanced.sharding))
    if self.alignment:
      state, verdict = self._judge(state, images, data, guard_rows, picks[1])
      log.update(verdict)
    return state, log

  def vote(self, state: SearchState, log: dict, key: jax.Array | None = None) -> np.ndarray | None:
    """The vote `query` buys with after `search` returned (state, log), over `columns`:
    None for the searched mixture (the paper's objective, or the guardrail let it
    through), else 1 for each candidate the evidence has not eliminated (`standing`); with
    ``fallback = rotation``, 1 for one of them only, drawn uniformly with ``key``; with
    ``fallback = leader``, 1 for the first standing leader only (`leader`). Below
    ``low_budget_per_class`` labels per class, unless the labeled classes have looked
    imbalanced in this or an earlier round (``state.imbalanced``), 1 for the low-budget
    leader alone, whatever the evidence."""
    if not self.alignment or log["mixture"]:
      return None
    if (
      self._low is not None
      and log["labels_per_class"] < self.config.low_budget_per_class
      and not bool(state.imbalanced)
    ):
      return (np.arange(len(self.columns)) == self._low).astype(np.float64)
    kept = standing(np.asarray(state.evidence), float(state.evidence_var), self.config.eliminate)
    if self.config.fallback == "rotation":
      vote = rotation(kept, key)
    elif self.config.fallback == "leader":
      vote = leader(kept, self.config.candidates, self.config.leaders)
    else:
      vote = kept
    return np.pad(vote, (0, len(self.columns) - len(vote)))

  def _judge(self, state: SearchState, images, data: SearchData, guard_rows, num: int):
    """The guardrail and the evidence (`../shared/SEARCH.md` R3) on the guardrail's fold.

    Every candidate's picks and the mixture's are valued by `alignment_value` out of
    fold (SearchNet never trained on these rows); `guardrail_decision` turns the values
    into this round's choice and the new evidence.

    Returns:
      (the state with its new evidence, host metrics: ``mixture`` 1 when the searched
      mixture buys, else 0 and the vote of ``survivors`` candidates buys;
      ``value_mixture``, ``value_best``, ``value_se``).
    """
    pooled_rows = data.train | guard_rows  # V but H
    mix, mix_se, values, ses, pooled_values, pooled_ses = (
      np.asarray(v, np.float64)
      for v in self._guardrail(
        state, images, data, guard_rows, jnp.asarray(num, jnp.int32), pooled_rows
      )
    )
    vote, evidence, variance, margin = guardrail_decision(
      mix,
      mix_se,
      values,
      ses,
      np.asarray(state.evidence),
      float(state.evidence_var),
      self.config,
      pooled_values,
      pooled_ses,
    )
    # On the devices the old evidence was on: another placement would compile the step again.
    state = state._replace(
      evidence=jax.device_put(np.asarray(evidence, np.float32), state.evidence.sharding),
      evidence_var=jax.device_put(np.float32(variance), state.evidence_var.sharding),
    )
    return state, {
      "mixture": float(not vote.any()),
      "survivors": float(vote.sum()),
      "value_mixture": float(mix),
      "value_best": float(values.max()),
      "value_se": margin,
    }

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
    """Picks k <= b unlabeled samples by the searched mixture of the candidates.

    ``vote`` (float[len(columns)], `vote`; None or all zeros: the mixture): by the
    equal-weight vote of the candidates it marks instead, ties at random; one leader marked
    alone (``fallback = leader``, or the low-budget leader) buys its own picks.

    Args:
      state: `SearchState` after this round's `search`.
      key: PRNG key (candidate randomness and tie-breaking).
      images: uint8[N, H, W, Ch].
      outputs: the task model's `PoolOutputs` (with T MC passes if a candidate needs them).
      candidate_mask: bool[N], the unlabeled samples.
      k: picks, 1 <= k <= b (the last round may be partial; one program serves both).

    Returns:
      (int32[k] picks, float64[len(columns)] the mean strategy weight over the picks).
    """
    if not 1 <= k <= self.query_size:
      raise ValueError(f"k must be in [1, {self.query_size}], got {k}")
    decision_key, tie_key = jax.random.split(key)
    num = jnp.asarray(k, jnp.int32)
    j = -1 if vote is None else int(np.argmax(vote))
    if (
      vote is not None
      and np.count_nonzero(vote) == 1
      and ((self.config.fallback == "leader" and j in self._leaders) or j == self._low)
    ):
      # The leader buys alone: its own picks (the same set as its column of the decisions),
      # without computing the other candidates' picks.
      picks = self._one_candidate(j)(decision_key, outputs, candidate_mask, num_picks=num)
      if not self._vote_compiled:  # the vote's programs too, so that no later round compiles
        for other in self._leaders:  # and every leader's (after the low budget's)
          if other != j:
            picker = self._one_candidate(other)
            jax.block_until_ready(picker(decision_key, outputs, candidate_mask, num_picks=num))
        decisions = self._pool_decisions(decision_key, outputs, candidate_mask, num_picks=num)
        scores = self._vote(decisions, jnp.asarray(vote[: self.config.num_columns], jnp.float32))
        jax.block_until_ready(self._top(tie_key, scores, candidate_mask, self.query_size, num))
        self._vote_compiled = True
      return picks[:k], (vote / vote.sum()).astype(np.float32).astype(np.float64)
    decisions = self._pool_decisions(decision_key, outputs, candidate_mask, num_picks=num)
    if vote is not None and vote.any():
      scores = self._vote(decisions, jnp.asarray(vote[: self.config.num_columns], jnp.float32))
      chosen = self._top(tie_key, scores, candidate_mask, self.query_size, num)
      # float32 values, as the mixture's weights are (and a checkpoint keeps them).
      return chosen[:k], (vote / vote.sum()).astype(np.float32).astype(np.float64)
    mixed, weights = self._query_scores(state, images, decisions, candidate_mask, num)
    # The top k of the b slots (one program for every k), ties at the k-th score at random.
    chosen = self._top(tie_key, mixed, candidate_mask, self.query_size, num)[:k]
    weights = np.asarray(jnp.mean(weights[chosen], axis=0), np.float64)
    return chosen, np.pad(weights, (0, len(self.columns) - len(weights)))

  def _one_candidate(self, j: int):
    if j not in self._candidate_picks:
      self._candidate_picks[j] = jax.jit(
        functools.partial(
          strategies.decisions.candidate_picks,
          tuple(strategies.get_picker(name) for name in self.columns),
          j,
          k=self.query_size,
        )
      )
    return self._candidate_picks[j]


def class_balance_p(counts) -> float:
  """The p-value of Pearson's chi-square test of class counts against equal counts.

  ``sum_c (n_c - n / C)^2 / (n / C)`` against a chi-square with C - 1 degrees of freedom
  (an approximation at expected counts under 5, where it is rough but monotone in the
  imbalance). 1.0 for no labels or one class.

  Args:
    counts: int[C], the labeled samples of each class.

  Returns:
    float in [0, 1]: small when the counts are unlikely under equal class frequencies.
  """
  import scipy.stats  # a dependency of jax

  counts = np.asarray(counts, np.float64)
  total, num_classes = counts.sum(), counts.shape[0]
  if total == 0 or num_classes < 2:
    return 1.0
  expected = total / num_classes
  statistic = float(np.sum((counts - expected) ** 2) / expected)
  return float(scipy.stats.chi2.sf(statistic, num_classes - 1))


def rotation(kept: np.ndarray, key: jax.Array) -> np.ndarray:
  """One of the kept candidates, uniformly at random: float64[K] one-hot."""
  members = np.flatnonzero(kept)
  chosen = members[int(jax.random.randint(key, (), 0, len(members)))]
  return (np.arange(len(kept)) == chosen).astype(np.float64)


def leader(kept: np.ndarray, candidates, leaders) -> np.ndarray:
  """The first of ``leaders`` that is among ``candidates`` and kept, alone (float64[K]
  one-hot); ``kept`` itself (the vote of the standing) where there is none."""
  for name in leaders:
    if name in candidates and kept[candidates.index(name)]:
      return (np.arange(len(kept)) == candidates.index(name)).astype(np.float64)
  return kept


def fold_sizes(num_v: int) -> tuple[int, int, int]:
  """The sizes of `step.folds` of a V of ``num_v``: SearchNet's, the guardrail's, H."""
  search_end, guard_end = fold_bounds(num_v)
  return search_end, guard_end - search_end, num_v - guard_end


def guardrail_decision(
  mix,
  mix_se,
  values,
  ses,
  evidence,
  evidence_var,
  config: SearchConfig,
  pooled_values=None,
  pooled_ses=None,
):
  """The guardrail's choice and the evidence's update from one round's out-of-fold values.

  Each candidate's value (on the pooled rows where given) becomes a z-score against the
  candidates' mean, in units of the root mean square of their standard errors; a
  candidate's evidence is the sum of its z-scores, each round's older ones multiplied by
  ``prior_decay`` (TAILOR's 0.9). Where all candidates are equal a sum has variance
  ``v = sum_t decay^(2t)``, so a candidate is dropped once its evidence is
  ``eliminate * sqrt(2 v)`` below the best's: a difference noise alone rarely makes. The
  searched mixture buys only where its value beats the best candidate's (on the same
  rows) by more than the standard error of their difference; else the candidates still
  standing vote with equal weights (all of them until the evidence says otherwise:
  near-ties never decide by noise).

  Args:
    mix, mix_se: the mixture's value and its standard error (guardrail fold).
    values, ses: float[K], each candidate's value and standard error (guardrail fold).
    evidence: float[K], the evidence carried from the previous round.
    evidence_var: its null variance v (0 before the first round).
    config: its ``prior_decay``, ``eliminate`` and ``guardrail``.
    pooled_values, pooled_ses: float[K], the candidates' values and SEs on more rows
      (both folds), for the evidence; default ``values``, ``ses``.

  Returns:
    (vote: float64[K], zeros for the mixture, else 1 for each candidate that votes; the new
    evidence; its new variance; the margin the mixture had to beat).
  """
  values, ses = np.asarray(values, np.float64), np.asarray(ses, np.float64)
  pooled_values = values if pooled_values is None else np.asarray(pooled_values, np.float64)
  pooled_ses = ses if pooled_ses is None else np.asarray(pooled_ses, np.float64)
  best = int(np.argmax(values))
  scale = max(float(np.sqrt(np.mean(pooled_ses**2))), 1e-12)
  decay = config.prior_decay
  z = (pooled_values - pooled_values.mean()) / scale
  evidence = decay * np.asarray(evidence, np.float64) + z
  variance = decay**2 * float(evidence_var) + 1.0
  margin = float(np.hypot(mix_se, ses[best]))
  if not config.guardrail or mix - values[best] > margin:
    return np.zeros_like(values), evidence, variance, margin
  return standing(evidence, variance, config.eliminate), evidence, variance, margin


def standing(evidence, variance: float, eliminate: float) -> np.ndarray:
  """1 for each candidate whose evidence is within ``eliminate * sqrt(2 variance)`` of the
  best's, else 0 (float64[K])."""
  evidence = np.asarray(evidence, np.float64)
  return (evidence >= evidence.max() - eliminate * np.sqrt(2.0 * variance)).astype(np.float64)


def strategy(
  setup: strategies.Setup, name: str = "autoal-paper", **overrides
) -> strategies.Strategy:
  """AutoAL's search as a `strategies.Strategy` over ``setup.candidates``.

  ``init`` draws SearchNet and LossNet; ``query`` runs the round's search on the labeled
  set (`AutoAL.search`), then picks with the searched mixture (`AutoAL.query`).

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
    # A key of its own for the rotation, derived so that the vote's picks stay as they were.
    vote = searcher.vote(state, metrics, jax.random.fold_in(pick_key, 1))
    chosen, weights = searcher.query(
      state, pick_key, context.images, context.outputs, ~context.labeled, k, vote
    )
    info = QueryInfo(weights=weights, metrics=metrics, search_seconds=seconds)
    return chosen, state, info

  # The pickers: the candidates, and the low-budget leader (`AutoAL.columns`).
  pickers = tuple(n for n in searcher.columns if n != "loss_prediction")
  needs = strategies.candidates_needs(pickers)
  doc = _DOCS.get(name, "AutoAL's strategy search")
  return strategies.Strategy(
    name, init, query, needs, doc, searcher.columns, pickers, host_driven=True
  )


_DOCS = {
  "autoal": (
    "AutoAL searched by gradient alignment with held-out errors; its leader (margin) while "
    "the out-of-fold evidence keeps it, else the vote of those kept, unless the searched "
    "mixture is clearly better; TypiClust below 10 labels per class while the labeled "
    "classes look balanced"
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
