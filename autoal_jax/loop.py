"""The active-learning loop: an explicit state, advanced one round at a time.

A run with quota Q and query size b has R = ceil(Q / b) queries and R + 1 trainings:

    round r = 0 .. R:  train a fresh task model on the labeled set -> accuracy[r]
                       if r < R: score the pool, pick k_r unlabeled samples, label them

k_r = b except the last, which is Q - (R - 1) b when b does not divide Q. All of a run's
data lives in `ALState`, a pytree of fixed-shape arrays (mask, key, round, curves,
picks), so it can be checkpointed and compared as a whole.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from autoal_jax import checkpoint as checkpoint_lib
from autoal_jax import data as data_lib
from autoal_jax import metrics, models, sharding, strategies
from autoal_jax import train as train_lib
from autoal_jax.train import Trainer
from autoal_jax.types import Context, Dataset, Needs, PoolOutputs, QueryInfo


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
  """The whole state of one active-learning run (a pytree of arrays, one structure from
  round 0 to the end).

  Attributes:
    labeled: bool[N], the labeled mask over the pool.
    key: the run's PRNG key; round r derives its keys with ``fold_in(key, r)``.
    round: int32 scalar, the next round to run (R + 1 when the run is finished).
    num_labels: int32[R + 1], the labeled-set size at each round's training.
    accuracy: float32[R + 1], test accuracy at each round (NaN until measured).
    picks: int32[R, b], the indices bought by each query (-1 where none).
    strategy: the state the strategy carries across rounds (its ``init``'s output:
      ``()`` for the stateless ones, ALBL's bandit, AutoAL's networks).
  """

  labeled: jax.Array
  key: jax.Array
  round: jax.Array
  num_labels: jax.Array
  accuracy: jax.Array
  picks: jax.Array
  strategy: Any = ()


class RoundLog(NamedTuple):
  """What one round did, for logs and results (host values).

  ``query_seconds`` is the sum of scoring the pool (the task model's passes, with what
  the strategy needs), the search (the part of the query that trains networks: AutoAL)
  and the pick. ``info`` is the query's `QueryInfo` (None in the last round, which
  does not query).
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
  info: QueryInfo | None = None


class RoundOutputs(NamedTuple):
  """What a round program returns besides the new state (arrays; a leading seed axis
  when the program runs seeds vmapped).

  Attributes:
    num_labeled: int32, the labeled-set size the round trained on.
    accuracy: float32, the round's test accuracy.
    picks: int32[k], the query's picks (k = 0 in the last round, which does not query).
    info: the query's `QueryInfo` (of arrays).
    ok: bool, the pick contract held (k distinct unlabeled indices in the pool) and the
      pool's probabilities were finite; the host raises after the call where it did not.
  """

  num_labeled: jax.Array
  accuracy: jax.Array
  picks: jax.Array
  info: QueryInfo
  ok: jax.Array


def contract_holds(picks: jax.Array, labeled: jax.Array) -> jax.Array:
  """On device: ``picks`` (int32[k]) are distinct indices of unlabeled pool samples."""
  n = labeled.shape[0]
  inside = jnp.all((picks >= 0) & (picks < n))
  fresh = ~jnp.any(labeled[jnp.clip(picks, 0, n - 1)])
  ordered = jnp.sort(picks)
  return inside & fresh & jnp.all(ordered[1:] != ordered[:-1])


def host_info(info: QueryInfo) -> QueryInfo:
  """A query's `QueryInfo` of arrays as host values for logs and results: weights a
  float32 NumPy array, the arm an int, the reward a float, the metrics floats (those
  that are NaN, not measured by this query, left out)."""
  info = jax.device_get(info)
  values = {name: float(v) for name, v in info.metrics.items()}
  return QueryInfo(
    weights=np.asarray(info.weights, np.float32).reshape(-1),
    arm=int(info.arm),
    reward=float(info.reward),
    metrics={name: v for name, v in values.items() if not math.isnan(v)},
    search_seconds=float(info.search_seconds),
  )


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
  """A run's initial state, before its strategy's: a random initial labeled set of
  ``config.num_initial`` (`ActiveLearner.init` adds the strategy's state)."""
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


def strategy_init_key(run_key: jax.Array) -> jax.Array:
  """The key a run's strategy state is drawn from. It is the key AutoAL's networks were
  drawn from in round 0 before every strategy had an ``init`` (a part of round 0's query
  key), so that results stay those of earlier versions."""
  query_key = jax.random.split(jax.random.fold_in(run_key, 0), 3)[2]
  return jax.random.split(jax.random.split(query_key)[0])[0]


def check_picks(picks: np.ndarray, labeled: np.ndarray, k: int, name: str, r: int) -> None:
  """Raises RuntimeError unless ``picks`` are k distinct unlabeled pool indices: a wrong
  pick would silently corrupt every later round."""
  n = labeled.shape[0]
  ok = (
    picks.shape == (k,)
    and bool(np.all((picks >= 0) & (picks < n)))
    and len(np.unique(picks)) == k
    and not bool(labeled[np.clip(picks, 0, n - 1)].any())
  )
  if not ok:
    raise RuntimeError(
      f"strategy {name!r} broke the pick contract at round {r} (k = {k} distinct unlabeled "
      f"indices in [0, {n}) expected): {picks}"
    )


def add_picks(state: ALState, picks: jax.Array) -> ALState:
  """Labels ``picks`` (int32[k], unlabeled and distinct) and records them for this round."""
  r = state.round
  row = jnp.full(state.picks.shape[1], -1, jnp.int32).at[: picks.shape[0]].set(picks)
  return state._replace(
    labeled=state.labeled.at[picks].set(True),
    picks=state.picks.at[r].set(row),
  )


# Round-0 models an ActiveLearner keeps (one per seed and trainer): enough for the seeds of
# an experiment run strategy by strategy, bounded for long-lived learners.
FIRST_MODELS = 16


class ActiveLearner:
  """Runs active-learning rounds of any registered strategy on one dataset and model.

  Built once per experiment: it holds the pool on device, the compiled functions
  (training, evaluation, pool pass) and the strategies it has built, never the state of a
  run, which `init` returns and `round` advances. Every strategy runs the same way: train,
  the pool outputs its `Needs` declare, its ``query``, label.

  Args:
    dataset: the `Dataset` (its train split is the pool).
    trainer: a `Trainer` for the task model on this dataset (its ``init_variables``, if
      any, are also where AutoAL's FitNet starts).
    config: the `ALConfig`.
    search_config: the config of AutoAL's strategies (`search.SearchConfig`), passed to
      their constructors as it is (``Setup.search``); None: their default.
    candidates: the single strategies every mixture combines (``uniform-mix``, the
      bandits, AutoAL's). None: those ``search_config`` names, if it names any, else
      `strategies.DEFAULT_CANDIDATES`.
    fused: `round` runs each round as one compiled program (`round_program`, the
      strategy's traceable query) instead of driving training and AutoAL's search one
      step per call from the host. None: fused where `train.dispatch_per_step` is False
      (GPU/TPU). Both give the same results (tests/test_loop.py).
  """

  def __init__(
    self,
    dataset: Dataset,
    trainer: Trainer,
    config: ALConfig,
    search_config: Any = None,
    candidates: tuple | None = None,
    fused: bool | None = None,
  ):
    data_lib.check_dataset(dataset)
    validate_budget(dataset.train_labels.shape[0], config)
    self.dataset, self.trainer, self.config = dataset, trainer, config
    self.search_config = search_config
    if candidates is None:
      candidates = getattr(search_config, "candidates", None) or strategies.DEFAULT_CANDIDATES
    self.candidates = tuple(candidates)
    self.fused = (not train_lib.dispatch_per_step()) if fused is None else bool(fused)
    self.mesh = trainer.mesh
    # Replicated on the trainer's mesh: each device gathers its own batch slices locally.
    self.images, self.labels, self.test_images, self.test_labels = sharding.replicate(
      tuple(dataset[:4]), self.mesh
    )
    # A fixed embedding of the pool for the coverage and clustering strategies, or None.
    self.pool_embeddings = (
      None if dataset.embeddings is None else sharding.replicate(dataset.embeddings, self.mesh)
    )
    self.setup = strategies.Setup(
      num_pool=self.labels.shape[0],
      query_size=config.query_size,
      num_mc=config.num_mc,
      max_labeled=config.num_initial + config.quota,
      candidates=self.candidates,
      model=trainer.model,
      info=dataset.info,
      search=search_config,
      eval_chunk=trainer.config.eval_chunk,
      mesh=self.mesh,
      init_variables=trainer.init_variables,
      train=trainer.config,
    )
    self._strategies = {}
    self._queries = {}  # a strategy's query -> the same jitted here (k static)
    self._loss_trainer = None
    self._first_models = {}  # round 0's model per seed (`_train`)
    # What a strategy may read of the labels: those of the labeled samples, -1 elsewhere.
    self._known_labels = jax.jit(lambda labels, labeled: jnp.where(labeled, labels, -1))

  def strategy(self, name: str) -> strategies.Strategy:
    """The registered strategy ``name`` built for this experiment (once), checked against
    it before any training: MC passes asked for, the task model's capabilities.

    Raises:
      ValueError: an unknown name, a bad candidate list, or a need this experiment or its
        task model cannot meet (the message names it and how to meet it).
    """
    if name not in self._strategies:
      spec = strategies.build(name, self.setup)
      if spec.needs.mc and self.config.num_mc < 2:
        raise ValueError(f"strategy {name!r} needs num_mc >= 2, got {self.config.num_mc}")
      self._check_model(spec)
      self._strategies[name] = spec
    return self._strategies[name]

  def compiled_query(self, spec: strategies.Strategy):
    """``spec.query`` jitted once for this learner (k static; one program per k), or the
    strategy's ``host_query`` where it has one and per-step dispatch is faster (CPU:
    `train.dispatch_per_step`)."""
    if spec.host_query is not None and not self.fused:
      return spec.host_query
    return self._compiled(spec.query, lambda: jax.jit(spec.query, static_argnums=3))

  def _compiled(self, key, make: Callable[[], Callable]) -> Callable:
    """The jitted function stored under ``key``, made by ``make()`` the first time (one
    compiled program per key for this learner's life)."""
    if key not in self._queries:
      self._queries[key] = make()
    return self._queries[key]

  check_strategy = strategy

  def _check_model(self, spec: strategies.Strategy) -> None:
    model = self.trainer.model
    if not spec.candidates:
      models.check_capabilities(model, spec.needs, f"strategy {spec.name!r}")
      return
    for name in spec.candidates:  # name the candidates that need what is missing
      needs = strategies.get_picker(name).needs
      models.check_capabilities(model, needs, f"{spec.name!r}'s candidate {name!r}")
    models.check_capabilities(model, spec.needs, f"strategy {spec.name!r}")

  def trainer_for(self, needs: Needs) -> Trainer:
    """The trainer of a strategy's task model: this learner's, or (built once) the same
    with a LossNet when the strategy reads predicted losses (LL4AL)."""
    if not needs.loss or self.trainer.config.loss_prediction:
      return self.trainer
    if self._loss_trainer is None:
      t = self.trainer
      config = t.config._replace(loss_prediction=True)
      self._loss_trainer = Trainer(
        t.model, t.info, config, t.steps_per_call, t.mesh, init_variables=t.init_variables
      )
    return self._loss_trainer

  def context(self, labeled: jax.Array, outputs: PoolOutputs | None = None) -> Context:
    """What a strategy sees of a round (`types.Context`)."""
    return Context(outputs, labeled, self._known_labels(self.labels, labeled), self.images)

  def init(self, key: jax.Array, strategy: str) -> ALState:
    """The initial state of a run of ``strategy`` (see `init_state`, plus the strategy's
    ``init``), replicated on the mesh."""
    spec = self.strategy(strategy)
    state = init_state(key, self.labels.shape[0], self.config)
    state = sharding.replicate(state, self.mesh)
    strategy_state = spec.init(strategy_init_key(state.key), self.context(state.labeled))
    return state._replace(strategy=sharding.replicate(strategy_state, self.mesh))

  def round_program(self, spec: strategies.Strategy, k: int) -> Callable:
    """One round of ``spec`` as a pure function ``program(state, trained=None) -> (state,
    RoundOutputs)``: train a fresh task model on the labeled set (`train.fit_program`;
    ``trained``, a (model state, accuracy) pair, skips that), test accuracy,
    the pool outputs the strategy needs, its query of ``k`` picks (k = 0: the last round,
    no query), label them. No value leaves the device inside: the pick contract is
    checked there (``RoundOutputs.ok``) and raised on by the host after the call. The
    caller jits it (`jax.jit`) and may vmap it over a leading seed axis of the state
    (`run_seeds`).

    It computes what `round` computes, with the same keys: the same picks and
    accuracies, up to the float rounding of the training loop compiled whole.
    """
    trainer = self.trainer_for(spec.needs)
    num_mc = self.config.num_mc if spec.needs.mc else 0
    images, labels = self.images, self.labels

    def program(state: ALState, trained=None) -> tuple[ALState, RoundOutputs]:
      r = state.round
      train_key, mc_key, query_key = jax.random.split(jax.random.fold_in(state.key, r), 3)
      num_labeled = jnp.sum(state.labeled, dtype=jnp.int32)
      if trained is None:
        model = trainer.fit_program(train_key, images, labels, state.labeled, num_labeled)
        accuracy = trainer.evaluate(model, self.test_images, self.test_labels)
      else:  # round 0's model, shared by a seed's strategies (`round`)
        model, accuracy = trained
      state = state._replace(
        num_labels=state.num_labels.at[r].set(num_labeled),
        accuracy=state.accuracy.at[r].set(accuracy),
      )
      picks, info, ok = jnp.zeros(0, jnp.int32), QueryInfo(), jnp.ones((), bool)
      if k > 0:
        outputs = trainer.pool_outputs(model, mc_key, images, num_mc=num_mc)
        outputs = outputs._replace(pool_embeddings=self.pool_embeddings)
        known = jnp.where(state.labeled, labels, -1)
        context = Context(outputs, state.labeled, known, images)
        picks, strategy_state, info = spec.query(state.strategy, query_key, context, k)
        if picks.shape != (k,):
          raise ValueError(f"strategy {spec.name!r} returned picks of shape {picks.shape}")
        ok = contract_holds(picks, state.labeled) & jnp.all(jnp.isfinite(outputs.probs))
        state = add_picks(state, picks)._replace(strategy=strategy_state)
      state = state._replace(round=state.round + 1)
      return state, RoundOutputs(num_labeled, accuracy, picks, info, ok)

    return program

  def run_seeds(
    self,
    keys: jax.Array,
    strategy: str,
    on_round: Callable[[int, list[RoundLog]], None] | None = None,
    checkpointer: checkpoint_lib.RunCheckpointer | None = None,
  ) -> tuple[ALState, list[list[RoundLog]]]:
    """S whole runs of ``strategy``, one per key, each round one vmapped program.

    Equal per seed to ``run(keys[s], strategy)``: the same keys, initial sets, picks and
    (measured on this CPU) accuracies; where batching changed the float rounding of
    training, the accuracies would differ in the last digits. Rounds with the same k
    share one compiled program.

    Args:
      keys: S PRNG keys (a key array of shape [S]).
      strategy: a registered strategy (its traceable ``query``, never a ``host_query``).
      on_round: called after each round with its index and the S seeds' `RoundLog`s
        (also with the restored ones).
      checkpointer: when given, the runs resume from its newest checkpoint (the state
        with its seed axis, the logs of every seed) and save one after every round.

    Returns:
      (the final states with a leading seed axis, per seed the `RoundLog` of every round).
      A round log's ``train_seconds`` is the wall time of the round's program for all S
      seeds (one program: training, scoring and picking are not timed apart).

    Raises:
      ValueError: a mesh of several devices (the seed axis and the data-parallel batch
        axis are not combined yet).
      RuntimeError: a seed's query broke the pick contract (or its probabilities were not
        finite); nothing of that round is kept.
      checkpoint.CheckpointError: the checkpoint is of other runs or cannot be used.
    """
    spec = self.strategy(strategy)
    if self.mesh is not None and self.mesh.size > 1:
      raise ValueError(
        f"run_seeds runs on one device (the trainer's mesh has {self.mesh.size}): "
        "the seed axis and the data-parallel batch axis are not combined yet"
      )
    num_seeds = keys.shape[0]
    states = jax.tree.map(
      lambda *leaves: jnp.stack(leaves), *[self.init(keys[s], strategy) for s in range(num_seeds)]
    )
    logs: list[list[RoundLog]] = [[] for _ in range(num_seeds)]
    restored = _restore(checkpointer, states)
    if restored is not None:
      states, logs = restored
      for r in range(len(logs[0]) if on_round is not None else 0):
        on_round(r, [seed_logs[r] for seed_logs in logs])
    for r in range(len(logs[0]), self.config.num_rounds + 1):
      k = self.config.round_size(r) if r < self.config.num_rounds else 0
      program = self._seeds_program(spec, k)
      start = time.perf_counter()
      labeled_before = states.labeled
      new_states, out = program(states)
      out = jax.device_get(out)
      seconds = time.perf_counter() - start
      for s in range(num_seeds):
        labeled = labeled_before[s]
        _check_round(out.ok[s], out.picks[s], labeled, k, strategy, r, f"seed {s}: ")
      states = new_states
      for s in range(num_seeds):
        info = None
        if k > 0:
          info = host_info(jax.tree.map(lambda x, s=s: x[s], out.info))
        accuracy, picks = float(out.accuracy[s]), np.asarray(out.picks[s])
        log = RoundLog(r, int(out.num_labeled[s]), accuracy, seconds, 0.0, picks, info=info)
        logs[s].append(log)
      if checkpointer is not None:
        checkpointer.save(states, logs)
      if on_round is not None:
        on_round(r, [seed_logs[-1] for seed_logs in logs])
    return states, logs

  def _seeds_program(self, spec: strategies.Strategy, k: int):
    """``round_program(spec, k)`` vmapped over seeds and jitted, built once per (spec, k)."""
    return self._compiled(
      ("seeds", spec.query, k), lambda: jax.jit(jax.vmap(self.round_program(spec, k)))
    )

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
    spec = self.strategy(strategy)
    if self.fused:
      return self._fused_round(state, spec, r)
    train_key, mc_key, query_key = jax.random.split(jax.random.fold_in(state.key, r), 3)
    num_labeled = int(sharding.to_host(jnp.sum(state.labeled)))

    trainer = self.trainer_for(spec.needs)
    start = time.perf_counter()
    model_state, accuracy = self._train(trainer, r, train_key, state.labeled, num_labeled, progress)
    train_seconds = time.perf_counter() - start
    state = state._replace(
      num_labels=state.num_labels.at[r].set(num_labeled),
      accuracy=state.accuracy.at[r].set(accuracy),
    )

    picks, info = np.zeros(0, np.int32), None
    score_seconds = query_seconds = 0.0
    if r < self.config.num_rounds:
      start = time.perf_counter()
      k = self.config.round_size(r)
      num_mc = self.config.num_mc if spec.needs.mc else 0
      outputs = trainer.pool_outputs(model_state, mc_key, self.images, num_mc=num_mc)
      outputs = outputs._replace(pool_embeddings=self.pool_embeddings)
      # Inside the jitted pick a NaN would silently rank last: refuse it here instead.
      strategies.check_probs(outputs.probs, f"round {r} pool probabilities")
      score_seconds = time.perf_counter() - start
      start = time.perf_counter()
      context = self.context(state.labeled, outputs)
      query = self.compiled_query(spec)
      chosen, strategy_state, info = query(state.strategy, query_key, context, k)
      info = host_info(info)
      picks = np.asarray(sharding.to_host(chosen))
      query_seconds = time.perf_counter() - start
      check_picks(picks, sharding.to_host(state.labeled), k, strategy, r)
      state = add_picks(state, chosen)._replace(strategy=strategy_state)
    state = state._replace(round=state.round + 1)
    search_seconds = info.search_seconds if info is not None else 0.0
    log = RoundLog(
      r,
      num_labeled,
      accuracy,
      train_seconds,
      score_seconds + query_seconds,
      picks,
      score_seconds,
      search_seconds,
      query_seconds - search_seconds,
      info,
    )
    return state, log

  def _fused_round(self, state: ALState, spec: strategies.Strategy, r: int):
    """`round` as one compiled program (`round_program`); round 0's model still comes
    from the per-seed cache (`_train`, its fit compiled whole too), so a seed's strategies
    share it. The whole round's wall time is the log's ``train_seconds``."""
    k = self.config.round_size(r) if r < self.config.num_rounds else 0
    start = time.perf_counter()
    trained = None
    if r == 0:
      trainer = self.trainer_for(spec.needs)
      train_key = jax.random.split(jax.random.fold_in(state.key, r), 3)[0]
      num_labeled = int(sharding.to_host(jnp.sum(state.labeled)))
      model, accuracy = self._train(trainer, r, train_key, state.labeled, num_labeled, None)
      trained = (model, jnp.float32(accuracy))
    program = self._round_program(spec, k, trained is not None)
    labeled_before = state.labeled
    state, out = program(state, trained) if trained is not None else program(state)
    out = jax.device_get(out)
    picks = np.asarray(out.picks)
    _check_round(out.ok, picks, labeled_before, k, spec.name, r)
    seconds = time.perf_counter() - start
    info = host_info(out.info) if k > 0 else None
    log = RoundLog(r, int(out.num_labeled), float(out.accuracy), seconds, 0.0, picks, info=info)
    return state, log

  def _round_program(self, spec: strategies.Strategy, k: int, trained: bool):
    """``round_program(spec, k)`` jitted, built once per (spec, k, with a model)."""
    return self._compiled(
      ("round", spec.query, k, trained), lambda: jax.jit(self.round_program(spec, k))
    )

  def _train(self, trainer, r, key, labeled, num_labeled, progress):
    """The round's task model and its test accuracy. Round 0 is the same for every
    strategy of a seed (the initial set and the training key come from the run's key
    alone), so its model is trained once per (trainer, key, initial set) and reused."""
    cache_key = None
    if r == 0:
      cache_key = (
        id(trainer),
        sharding.to_host(jax.random.key_data(key)).tobytes(),
        sharding.to_host(labeled).tobytes(),
      )
      if cache_key in self._first_models:
        return self._first_models[cache_key]
    if self.fused:  # the fit compiled whole, as the round programs run it
      fit = self._compiled(("fit", id(trainer)), lambda: jax.jit(trainer.fit_program))
      model_state = fit(key, self.images, self.labels, labeled, jnp.int32(num_labeled))
    else:
      model_state = trainer.fit(key, self.images, self.labels, labeled, num_labeled, progress)
    accuracy = trainer.evaluate(model_state, self.test_images, self.test_labels)
    result = model_state, float(sharding.to_host(accuracy))
    if cache_key is not None:
      if len(self._first_models) >= FIRST_MODELS:  # the oldest seed's goes first
        self._first_models.pop(next(iter(self._first_models)))
      self._first_models[cache_key] = result
    return result

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
    state, logs = self.init(key, strategy), []
    restored = _restore(checkpointer, state)
    if restored is not None:
      state, logs = restored
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


def _check_round(ok, picks, labeled, k: int, name: str, r: int, who: str = "") -> None:
  """After a round program: raises unless its on-device check (``RoundOutputs.ok``) held,
  naming what broke: the pick contract (`check_picks`), else non-finite probabilities."""
  if bool(ok):
    return
  check_picks(np.asarray(picks), sharding.to_host(labeled), k, name, r)
  raise RuntimeError(f"{who}the pool probabilities of round {r} hold NaN or Inf")


def _restore(checkpointer, fresh: ALState):
  """The newest checkpoint's (state, logs) of the run(s) whose initial state is
  ``fresh``, None without a checkpointer or checkpoint; refused when it was made with
  another key (seed)."""
  if checkpointer is None:
    return None
  restored = checkpointer.restore(fresh, RoundLog)
  if restored is None:
    return None
  fresh_key = sharding.to_host(jax.random.key_data(fresh.key))
  if not np.array_equal(sharding.to_host(jax.random.key_data(restored[0].key)), fresh_key):
    raise checkpoint_lib.CheckpointError(
      f"the checkpoint in {checkpointer.directory} was made with another key (seed). "
      "Nothing was changed; choose another folder for this run."
    )
  return restored


def summarize(state: ALState) -> dict:
  """AUBC and F-acc of a finished run."""
  num_labels = sharding.to_host(state.num_labels)
  accuracy = sharding.to_host(state.accuracy)
  return {"aubc": metrics.aubc(num_labels, accuracy), "f_acc": metrics.final_accuracy(accuracy)}
