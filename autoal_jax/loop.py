"""The active-learning loop: an explicit state, advanced one round at a time.

A run with quota Q and query size b has R = ceil(Q / b) queries and R + 1 trainings:

    round r = 0 .. R:  train a fresh task model on the labeled set -> accuracy[r]
                       if r < R: score the pool, pick k_r unlabeled samples, label them

k_r = b except the last, which is Q - (R - 1) b when b does not divide Q. All of a run's
data lives in `ALState`, a pytree of fixed-shape arrays (mask, key, round, curves,
picks), so it can be checkpointed and compared as a whole.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from autoal_jax import checkpoint as checkpoint_lib
from autoal_jax import data as data_lib
from autoal_jax import metrics, sharding, strategies
from autoal_jax import search as search_lib
from autoal_jax.train import Trainer
from autoal_jax.types import Dataset


class ALConfig(NamedTuple):
  """The labelling budget of a run.

  Attributes:
    num_initial: size of the random initial labeled set.
    query_size: b, labels bought per round.
    quota: Q, labels bought after the initial set, over all rounds.
    num_mc: T, MC-dropout passes for strategies that need them.
  """

  num_initial: int
  query_size: int
  quota: int
  num_mc: int = 10

  @property
  def num_rounds(self) -> int:
    """R, the number of queries."""
    return math.ceil(self.quota / self.query_size)

  def round_size(self, r: int) -> int:
    """k_r: labels bought by query r (0-based); the last may be partial."""
    return min(self.query_size, self.quota - r * self.query_size)


class ALState(NamedTuple):
  """The whole state of one active-learning run (a pytree of arrays).

  Attributes:
    labeled: bool[N], the labeled mask over the pool.
    key: the run's PRNG key; round r derives its keys with ``fold_in(key, r)``.
    round: int32 scalar, the next round to run (R + 1 when the run is finished).
    num_labels: int32[R + 1], the labeled-set size at each round's training.
    accuracy: float32[R + 1], test accuracy at each round (NaN until measured).
    picks: int32[R, b], the indices bought by each query (-1 where none).
    search: the state a strategy carries across rounds: AutoAL's `search.SearchState`,
      ALBL's `strategies.albl.ALBLState`; None for every other strategy, and before the
      first query.
  """

  labeled: jax.Array
  key: jax.Array
  round: jax.Array
  num_labels: jax.Array
  accuracy: jax.Array
  picks: jax.Array
  search: Any = None


class RoundLog(NamedTuple):
  """What one round did, for logs and results (host values).

  ``query_seconds`` is the sum of scoring the pool (the task model's passes), the search
  (AutoAL only) and the pick. ``search`` holds AutoAL's per-round metrics: the mean
  strategy weight over the picks (``weights``, by column name) and `search.METRICS`; for
  ALBL the arm probabilities of the draw (``weights``), the ``arm`` drawn and the
  ``reward`` given to the previous arm.
  """

  round: int
  num_labels: int
  accuracy: float
  train_seconds: float
  query_seconds: float
  picks: np.ndarray
  score_seconds: float = 0.0
  search_seconds: float = 0.0
  pick_seconds: float = 0.0
  search: dict | None = None


def validate_budget(num_pool: int, config: ALConfig) -> None:
  """Raises ValueError unless the initial set and the quota fit the pool."""
  if config.num_initial < 1:
    raise ValueError(f"num_initial must be >= 1, got {config.num_initial}")
  if config.num_initial >= num_pool:
    raise ValueError(
      f"num_initial ({config.num_initial}) must be smaller than the pool ({num_pool})"
    )
  if config.query_size < 1 or config.quota < 1:
    raise ValueError(
      f"query_size and quota must be >= 1, got {config.query_size} and {config.quota}"
    )
  unlabeled = num_pool - config.num_initial
  if config.quota > unlabeled:
    raise ValueError(
      f"quota ({config.quota}) is larger than the unlabeled pool ({unlabeled} = pool "
      f"{num_pool} - initial {config.num_initial})"
    )


def init_state(key: jax.Array, num_pool: int, config: ALConfig) -> ALState:
  """A run's initial state: a random initial labeled set of ``config.num_initial``."""
  validate_budget(num_pool, config)
  init_key, run_key = jax.random.split(key)
  initial = strategies.random_sampling(init_key, jnp.ones(num_pool, bool), config.num_initial)
  num_rounds = config.num_rounds
  return ALState(
    labeled=jnp.zeros(num_pool, bool).at[initial].set(True),
    key=run_key,
    round=jnp.zeros((), jnp.int32),
    num_labels=jnp.zeros(num_rounds + 1, jnp.int32),
    accuracy=jnp.full(num_rounds + 1, jnp.nan, jnp.float32),
    picks=jnp.full((num_rounds, config.query_size), -1, jnp.int32),
  )


def add_picks(state: ALState, picks: jax.Array) -> ALState:
  """Labels ``picks`` (int32[k], unlabeled and distinct) and records them for this round."""
  r = state.round
  row = jnp.full(state.picks.shape[1], -1, jnp.int32).at[: picks.shape[0]].set(picks)
  return state._replace(
    labeled=state.labeled.at[picks].set(True),
    picks=state.picks.at[r].set(row),
  )


class ActiveLearner:
  """Runs active-learning rounds of any registered strategy on one dataset and model.

  Built once per experiment: it holds the pool on device and the compiled functions
  (training, evaluation, pool pass, one pick per strategy and round size), never the state
  of a run, which `init` returns and `round` advances.

  Args:
    dataset: the `Dataset` (its train split is the pool).
    trainer: a `Trainer` for the task model on this dataset.
    config: the `ALConfig`.
    search_config: the `search.SearchConfig` of AutoAL's strategies (``autoal``,
      ``autoal-code``, which overrides its relaxation); default `SearchConfig()`. Its
      ``candidates`` are also those of the other mixtures (``uniform-mix``, ``albl``).
  """

  def __init__(
    self,
    dataset: Dataset,
    trainer: Trainer,
    config: ALConfig,
    search_config: search_lib.SearchConfig | None = None,
  ):
    data_lib.check_dataset(dataset)
    validate_budget(dataset.train_labels.shape[0], config)
    self.dataset, self.trainer, self.config = dataset, trainer, config
    self.search_config = search_config or search_lib.SearchConfig()
    self.mesh = trainer.mesh
    # Replicated on the trainer's mesh: each device gathers its own batch slices locally.
    self.images, self.labels, self.test_images, self.test_labels = sharding.replicate(
      tuple(dataset[:4]), self.mesh
    )
    self._picks = {}
    self._searchers = {}
    self._loss_trainer = None

  def trainer_for(self, strategy: strategies.Strategy) -> Trainer:
    """The trainer of ``strategy``'s task model: this learner's, or (built once) the same
    with a LossNet when the strategy (or a configured candidate of a mixture) reads
    predicted losses (LL4AL)."""
    needs_loss = strategy.needs_loss or (
      strategy.candidates and strategies.candidates_need_loss(self.search_config.candidates)
    )
    if not needs_loss or self.trainer.config.loss_prediction:
      return self.trainer
    if self._loss_trainer is None:
      t = self.trainer
      config = t.config._replace(loss_prediction=True)
      self._loss_trainer = Trainer(t.model, t.info, config, t.steps_per_call, t.mesh)
    return self._loss_trainer

  def needs_mc(self, strategy: strategies.Strategy) -> bool:
    """Whether ``strategy`` needs MC passes (a mixture: whether a configured candidate does)."""
    if strategy.candidates:
      return strategies.candidates_need_mc(self.search_config.candidates)
    return strategy.needs_mc

  def check_strategy(self, name: str) -> strategies.Strategy:
    """The registered strategy ``name``, checked against this learner's config."""
    strategy = strategies.get(name)
    if strategy.candidates:
      strategies.check_candidates(self.search_config.candidates)
    if self.needs_mc(strategy) and self.config.num_mc < 2:
      raise ValueError(f"strategy {name!r} needs num_mc >= 2, got {self.config.num_mc}")
    if strategy.search is not None:
      self.searcher(name)
    return strategy

  def searcher(self, name: str) -> search_lib.AutoAL:
    """The `search.AutoAL` of the search strategy ``name``, built once."""
    if name not in self._searchers:
      overrides = strategies.get(name).search
      config = self.search_config._replace(**overrides)
      self._searchers[name] = search_lib.AutoAL(
        self.trainer.model,
        self.dataset.info,
        config,
        num_pool=self.labels.shape[0],
        query_size=self.config.query_size,
        capacity=math.ceil((self.config.num_initial + self.config.quota) / 2),
        num_mc=self.config.num_mc,
        eval_chunk=self.trainer.config.eval_chunk,
        mesh=self.mesh,
      )
    return self._searchers[name]

  def _pick_fn(self, name: str, k: int):
    if (name, k) not in self._picks:
      strategy = self.check_strategy(name)
      candidates = self.search_config.candidates
      if strategy.stateful:  # ALBL: (state, key, outputs, labels, labeled) -> (state, ...)
        pick = functools.partial(strategies.albl.query, k=k, candidates=candidates)
        self._picks[name, k] = jax.jit(pick)
      else:
        pick = strategy.pick
        if strategy.candidates:
          pick = functools.partial(pick, candidates=candidates)
        self._picks[name, k] = jax.jit(lambda key, outputs, mask: pick(key, outputs, mask, k))
    return self._picks[name, k]

  def init(self, key: jax.Array) -> ALState:
    """The initial state of a run (see `init_state`), replicated on the mesh."""
    return sharding.replicate(init_state(key, self.labels.shape[0], self.config), self.mesh)

  def init_search(self, strategy: str, key: jax.Array, labeled: jax.Array):
    """The state ``strategy`` carries across rounds, before its first query: AutoAL's
    `search.SearchState`, ALBL's `strategies.albl.ALBLState`; None for the others."""
    spec = strategies.get(strategy)
    if spec.search is not None:
      return self.searcher(strategy).init(key)
    if spec.stateful:
      arms = strategies.albl.arms(self.search_config.candidates)
      return strategies.albl.init(len(arms), labeled)
    return None

  def state_template(self, strategy: str, has_search: bool) -> ALState:
    """An `ALState` of ``strategy``'s run with the shapes and dtypes of any round (for
    restoring a checkpoint); its values mean nothing."""
    state = self.init(jax.random.key(0))
    if has_search:
      search = self.init_search(strategy, state.key, state.labeled)
      state = state._replace(search=sharding.replicate(search, self.mesh))
    return state

  def done(self, state: ALState) -> bool:
    return int(sharding.to_host(state.round)) > self.config.num_rounds

  def round(
    self,
    state: ALState,
    strategy: str,
    progress: Callable[[int, int, float], None] | None = None,
  ) -> tuple[ALState, RoundLog]:
    """Trains, evaluates and (unless it is the last round) queries once.

    Args:
      state: the run's state before the round.
      strategy: a registered strategy name.
      progress: passed to `Trainer.fit` (epoch progress).

    Returns:
      (state after the round, its `RoundLog`).
    """
    r = int(sharding.to_host(state.round))
    if r > self.config.num_rounds:
      raise ValueError(f"the run is finished ({self.config.num_rounds} rounds)")
    spec = self.check_strategy(strategy)
    is_search = spec.search is not None
    train_key, mc_key, pick_key = jax.random.split(jax.random.fold_in(state.key, r), 3)
    num_labeled = int(sharding.to_host(jnp.sum(state.labeled)))

    trainer = self.trainer_for(spec)
    start = time.perf_counter()
    model_state = trainer.fit(
      train_key, self.images, self.labels, state.labeled, num_labeled, progress
    )
    accuracy = trainer.evaluate(model_state, self.test_images, self.test_labels)
    accuracy = float(sharding.to_host(accuracy))
    train_seconds = time.perf_counter() - start
    state = state._replace(
      num_labels=state.num_labels.at[r].set(num_labeled),
      accuracy=state.accuracy.at[r].set(accuracy),
    )

    picks = np.zeros(0, np.int32)
    seconds = {"score": 0.0, "search": 0.0, "pick": 0.0}
    search_log = None
    if r < self.config.num_rounds:
      start = time.perf_counter()
      k = self.config.round_size(r)
      searcher = self.searcher(strategy) if is_search else None
      num_mc = self.config.num_mc if self.needs_mc(spec) else 0
      outputs = trainer.pool_outputs(model_state, mc_key, self.images, num_mc=num_mc)
      # Inside the jitted pick a NaN would silently rank last: refuse it here instead.
      strategies.check_probs(outputs.probs, f"round {r} pool probabilities")
      seconds["score"] = time.perf_counter() - start
      if is_search:
        search_key, pick_key = jax.random.split(pick_key)
        init_key, search_key = jax.random.split(search_key)
        if state.search is None:
          state = state._replace(search=self.init_search(strategy, init_key, state.labeled))
        start = time.perf_counter()
        search_state, search_log = searcher.search(
          state.search, search_key, self.images, self.labels, state.labeled, num_labeled
        )
        state = state._replace(search=search_state)
        seconds["search"] = time.perf_counter() - start
        start = time.perf_counter()
        chosen, weights = searcher.query(
          search_state, pick_key, self.images, outputs, ~state.labeled, k
        )
        names = searcher.config.column_names
        search_log["weights"] = dict(zip(names, weights.tolist(), strict=True))
      elif spec.stateful:
        start = time.perf_counter()
        arms = strategies.albl.arms(self.search_config.candidates)
        if state.search is None:
          state = state._replace(search=self.init_search(strategy, pick_key, state.labeled))
        bandit, chosen, probs, reward = self._pick_fn(strategy, k)(
          state.search, pick_key, outputs, self.labels, state.labeled
        )
        state = state._replace(search=bandit)
        search_log = {
          "weights": dict(zip(arms, sharding.to_host(probs).tolist(), strict=True)),
          "arm": arms[int(sharding.to_host(bandit.arm))],
          "reward": float(sharding.to_host(reward)),
        }
      else:
        start = time.perf_counter()
        chosen = self._pick_fn(strategy, k)(pick_key, outputs, ~state.labeled)
      picks = sharding.to_host(chosen)
      seconds["pick"] = time.perf_counter() - start
      # A wrong pick would silently corrupt every later round: check the contract here.
      if len(np.unique(picks)) != k or bool(sharding.to_host(state.labeled)[picks].any()):
        raise RuntimeError(f"strategy {strategy!r} broke the pick contract at round {r}: {picks}")
      state = add_picks(state, chosen)
    state = state._replace(round=state.round + 1)
    log = RoundLog(
      r,
      num_labeled,
      accuracy,
      train_seconds,
      sum(seconds.values()),
      picks,
      seconds["score"],
      seconds["search"],
      seconds["pick"],
      search_log,
    )
    return state, log

  def run(
    self,
    key: jax.Array,
    strategy: str,
    on_round: Callable[[RoundLog], None] | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    checkpointer: checkpoint_lib.RunCheckpointer | None = None,
  ) -> tuple[ALState, list[RoundLog]]:
    """A whole run from the initial set: R + 1 rounds.

    Args:
      key: the run's PRNG key.
      strategy: a registered strategy name.
      on_round: called with each round's `RoundLog` (also with the restored ones).
      progress: passed to `Trainer.fit` (epoch progress).
      checkpointer: when given, the run resumes from its newest checkpoint and saves one
        after every round; the results equal those of an uninterrupted run.

    Returns:
      (final state, the `RoundLog` of every round).

    Raises:
      checkpoint.CheckpointError: the checkpoint is of another run or cannot be used.
    """
    self.check_strategy(strategy)
    state, logs = self.init(key), []
    if checkpointer is not None:
      restored = checkpointer.restore(
        lambda has_search: self.state_template(strategy, has_search), RoundLog
      )
      if restored is not None:
        fresh_key = sharding.to_host(jax.random.key_data(state.key))
        state, logs = restored
        if not np.array_equal(sharding.to_host(jax.random.key_data(state.key)), fresh_key):
          raise checkpoint_lib.CheckpointError(
            f"the checkpoint in {checkpointer.directory} was made with another key (seed). "
            "Nothing was changed; choose another folder for this run."
          )
        for log in logs if on_round is not None else ():
          on_round(log)
    while not self.done(state):
      state, log = self.round(state, strategy, progress)
      logs.append(log)
      if checkpointer is not None:
        checkpointer.save(state, logs)
      if on_round is not None:
        on_round(log)
    return state, logs


def summarize(state: ALState) -> dict:
  """AUBC and F-acc of a finished run."""
  num_labels = sharding.to_host(state.num_labels)
  accuracy = sharding.to_host(state.accuracy)
  return {"aubc": metrics.aubc(num_labels, accuracy), "f_acc": metrics.final_accuracy(accuracy)}
