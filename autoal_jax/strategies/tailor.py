"""TAILOR (Zhang et al., NeurIPS 2023): Thompson sampling over the candidate algorithms.

"Algorithm Selection for Deep Active Learning with Imbalanced Datasets". Every candidate
is an arm. Each arm a keeps a vector of decayed class counts alpha_a (ones at the start):
how many of the samples it chose turned out to be of each class. A batch of k is filled
slot by slot: each slot draws theta_a ~ Dirichlet(alpha_a + 1) for every arm, takes the
arm with the largest expected reward <theta_a, v> and buys that arm's next pick that is
not bought yet. v is the class-diversity reward of the labeled set (the authors' ``div``
objective): v_c = 1 / max(n_c, 1), negated for a class holding more than half of the
labeled set, n_c its labeled count. The labels of a batch are revealed after it (the
posterior does not move within a batch): at the next query alpha <- 0.9 alpha + the
class counts of each arm's picks (the authors' decay of 0.9).

Degenerate but defined: with one class only in the labeled set, that class is worth
-1 / |L| and every other class 1, so arms that found new classes are preferred. Each
arm proposes its own k picks in order; at slot j at most j - 1 of them are taken, so an
arm always has a next pick (under jit with fewer than k candidates: -1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from autoal_jax.strategies import base, decisions
from autoal_jax.types import Context, Picker, PoolOutputs, QueryInfo, Setup, Strategy

DECAY = 0.9


class TailorState(NamedTuple):
  """The posteriors and the batch whose labels come with the next query.

  Attributes:
    alpha: float32[A, C], each arm's decayed class counts (the authors' ``stats[0]``).
    picks: int32[b], the last query's picks (-1: none or missing).
    arms: int32[b], the arm that chose each of them.
    value: float32[C], the class weights v of the last query.
  """

  alpha: jax.Array
  picks: jax.Array
  arms: jax.Array
  value: jax.Array


def init(num_arms: int, num_classes: int, query_size: int) -> TailorState:
  return TailorState(
    alpha=jnp.ones((num_arms, num_classes), jnp.float32),
    picks=jnp.full(query_size, -1, jnp.int32),
    arms=jnp.zeros(query_size, jnp.int32),
    value=jnp.zeros(num_classes, jnp.float32),
  )


def class_weights(labels: jax.Array, labeled: jax.Array, num_classes: int) -> jax.Array:
  """v_c = 1 / max(n_c, 1), negative where n_c > |L| / 2: float32[C]."""
  counts = (
    jnp.zeros(num_classes, jnp.float32)
    .at[jnp.where(labeled, labels, num_classes)]
    .add(1.0, mode="drop")
  )
  total = jnp.maximum(jnp.sum(counts), 1.0)
  w = jnp.maximum(counts, 1.0)
  return 1.0 / jnp.where(counts / total > 0.5, -w, w)


def update(state: TailorState, labels: jax.Array, decay: float = DECAY):
  """Reveals the last batch's labels: alpha <- decay alpha + counts (no batch: unchanged).

  Returns:
    (state, the mean reward v[y] of the last batch's picks, NaN before the first).
  """
  valid = state.picks >= 0
  y = labels[jnp.where(valid, state.picks, 0)]
  num_arms, num_classes = state.alpha.shape
  counts = (
    jnp.zeros_like(state.alpha)
    .at[state.arms, jnp.where(valid, y, num_classes)]
    .add(1.0, mode="drop")
  )
  any_valid = jnp.any(valid)
  alpha = jnp.where(any_valid, decay * state.alpha + counts, state.alpha)
  got = jnp.sum(jnp.where(valid, state.value[jnp.clip(y, 0, num_classes - 1)], 0.0))
  last = jnp.where(any_valid, got / jnp.maximum(jnp.sum(valid), 1).astype(jnp.float32), jnp.nan)
  return state._replace(alpha=alpha), last


def fill(key: jax.Array, lists: jax.Array, alpha: jax.Array, value: jax.Array, num_pool: int):
  """Thompson sampling slot by slot: (int32[k] picks, int32[k] the arm of each slot).

  Args:
    key: PRNG key (one Dirichlet draw per slot).
    lists: int32[A, k], each arm's picks in its order (-1: missing).
    alpha: float32[A, C] counts; theta_a ~ Dirichlet(alpha_a + 1).
    value: float32[C], the class weights v.
    num_pool: N.
  """
  k = lists.shape[1]
  safe = jnp.where(lists >= 0, lists, 0)

  def slot(taken, j):
    free = (lists >= 0) & ~taken[safe]  # [A, k]
    has = jnp.any(free, axis=1)
    nxt = jnp.take_along_axis(lists, jnp.argmax(free, axis=1)[:, None], axis=1)[:, 0]
    theta = jax.random.dirichlet(jax.random.fold_in(key, j), alpha + 1.0)
    arm = jnp.argmax(jnp.where(has, theta @ value, -jnp.inf)).astype(jnp.int32)
    pick = jnp.where(has[arm], nxt[arm], -1)
    return taken.at[jnp.where(pick >= 0, pick, num_pool)].set(True, mode="drop"), (pick, arm)

  _, (picks, chosen_arms) = jax.lax.scan(slot, jnp.zeros(num_pool, bool), jnp.arange(k))
  return picks.astype(jnp.int32), chosen_arms


def query(
  state: TailorState,
  key: jax.Array,
  outputs: PoolOutputs,
  labels: jax.Array,
  labeled: jax.Array,
  k: int,
  candidates: Sequence[Picker],
  decay: float = DECAY,
):
  """One TAILOR query: reveal the last batch, fill k slots by Thompson sampling.

  Args:
    state: `init` before the first query; ``state.picks`` has room for the largest k.
    key: PRNG key.
    outputs: the task model's `PoolOutputs` over the pool.
    labels: int32[N], -1 for unlabeled samples (the last batch's are known by now).
    labeled: bool[N].
    k: picks (static), at most ``state.picks.shape[0]``.
    candidates: the arms' `Picker`s (static).
    decay: the posterior decay per batch.

  Returns:
    (new state, int32[k] picks, float32[A] the share of the slots each arm filled, the
    last batch's mean reward v[y] (NaN before the first batch); the strategy reports the
    shares as its weights over the picks and the reward as ``batch_reward``).
  """
  state, last = update(state, labels, decay)
  num_arms, num_classes = state.alpha.shape
  value = class_weights(labels, labeled, num_classes)
  pick_key, slot_key = jax.random.split(key)
  lists = decisions.pick_lists(candidates, pick_key, outputs, ~labeled, k)
  picks, chosen_arms = fill(slot_key, lists, state.alpha, value, labeled.shape[0])
  size = state.picks.shape[0]
  pad = jnp.full(size - k, -1, jnp.int32)
  state = state._replace(
    picks=jnp.concatenate([picks, pad]),
    arms=jnp.concatenate([chosen_arms, jnp.zeros(size - k, jnp.int32)]),
    value=value,
  )
  share = jnp.zeros(num_arms, jnp.float32).at[chosen_arms].add(jnp.where(picks >= 0, 1.0, 0.0))
  return state, picks, share / jnp.maximum(jnp.sum(share), 1.0), last


def strategy(setup: Setup) -> Strategy:
  """The ``tailor`` strategy over ``setup.pickers`` (traceable `init` and `query`)."""
  candidates = setup.pickers
  if setup.info is None:
    raise ValueError("tailor needs the number of classes: Setup.info (a DatasetInfo)")
  num_classes = setup.info.num_classes

  def init_fn(key, context: Context) -> TailorState:
    del key, context
    return init(len(candidates), num_classes, setup.query_size)

  def query_fn(state, key, context: Context, k: int):
    state, picks, share, last = query(
      state, key, context.outputs, context.labels, context.labeled, k, candidates
    )
    # NaN before the first batch: the loop leaves a metric it did not measure out.
    return picks, state, QueryInfo(weights=share, metrics={"batch_reward": last})

  needs = base.candidates_needs(candidates)
  names = setup.candidates
  return Strategy("tailor", init_fn, query_fn, needs, DOC, names, names)


DOC = "Thompson sampling over the candidates per slot, class-diversity reward (Zhang 2023)"
