"""``albl-port``: ALBL as the AutoAL repository's batch port runs it (its comparison).

Kept, under this name, because it is the ALBL the AutoAL paper compared against: reproducing
that comparison needs it. It is not Hsu & Lin's ALBL (`albl` is): its reward is the task
model's accuracy on its own training set weighted by 1 / p, which grows with the number of
samples bought whatever the arm (measured: 2.0 at the second query to 4.8 at the last), and
its step pmin / 2 = 1 / (20 K) is so small that after ten rounds no arm's probability moved
past 0.146 (K = 8): it behaves like a random rotation over the candidates.

An Exp4.P bandit whose arms are the candidate strategies plus uniform random sampling.
Each query draws ONE arm from the bandit's probabilities and that arm buys the whole batch
(the batch port in the AutoAL and DeepAL repositories). Before the next draw the drawn arm
is rewarded with the importance-weighted accuracy (IW-ACC) of the newly trained model on
the labeled set: every labeled sample counts 1 / p, p the probability of the arm that
bought it (1 for the random initial set), and the reward is the mean over the labeled set.

With K arms, ``pmin = 1 / (10 K)`` and ``delta = 0.1`` (the port's constants):

    p = (1 - K pmin) w / sum(w) + pmin
    w[a] <- w[a] exp(pmin / 2 (reward + sqrt(log(K / delta) / K) / p[a]))

for the arm a drawn last, p[a] its probability at that draw. The weights are kept as
logarithms (``log_weights``): the same probabilities, no overflow over long runs.

Everything is a pure function of an explicit `ALBLState`; `query` is one jittable call
(the arms run under `lax.switch`, so only the drawn arm's picker executes). `strategy`
makes the registered ``albl`` strategy (`base.Strategy`) of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from autoal_jax.strategies import albl, base, selection
from autoal_jax.types import Context, Picker, PoolOutputs, Setup, Strategy

DELTA = 0.1
RANDOM_ARM = "random"


class ALBLState(NamedTuple):
  """The bandit carried across rounds.

  Attributes:
    log_weights: float32[K], log of the Exp4.P weights (0 at the start: uniform).
    importance: float32[N], p of the arm that bought each sample (1 for the initial set,
      0 for samples not bought yet).
    arm: int32, the arm drawn at the last query (-1 before the first).
    arm_prob: float32, its probability at that draw.
  """

  log_weights: jax.Array
  importance: jax.Array
  arm: jax.Array
  arm_prob: jax.Array


def arms(candidates: Sequence[str]) -> tuple:
  """The bandit's arms: the candidates, then uniform random sampling (as in the paper)."""
  return tuple(candidates) + (RANDOM_ARM,)


def min_prob(num_arms: int) -> float:
  """pmin = 1 / (10 K)."""
  return 1.0 / (10.0 * num_arms)


def init(num_arms: int, labeled: jax.Array) -> ALBLState:
  """Uniform weights; the labeled (initial) samples count with importance 1."""
  return ALBLState(
    log_weights=jnp.zeros(num_arms, jnp.float32),
    importance=labeled.astype(jnp.float32),
    arm=jnp.asarray(-1, jnp.int32),
    arm_prob=jnp.asarray(1.0, jnp.float32),
  )


def probabilities(log_weights: jax.Array) -> jax.Array:
  """p = (1 - K pmin) w / sum(w) + pmin: float32[K], sums to 1, each >= pmin."""
  num_arms = log_weights.shape[0]
  pmin = min_prob(num_arms)
  return (1.0 - num_arms * pmin) * jax.nn.softmax(log_weights) + pmin


def reward(correct: jax.Array, labeled: jax.Array, importance: jax.Array) -> jax.Array:
  """IW-ACC: the mean over the labeled samples of 1[correct] / importance."""
  weight = jnp.where(labeled, 1.0 / jnp.where(labeled, importance, 1.0), 0.0)
  count = jnp.maximum(jnp.sum(labeled), 1).astype(jnp.float32)
  return jnp.sum(jnp.where(correct, weight, 0.0)) / count


def update(state: ALBLState, value: jax.Array, delta: float = DELTA) -> ALBLState:
  """Rewards the arm drawn last with ``value`` (no change before the first draw)."""
  num_arms = state.log_weights.shape[0]
  bonus = math.sqrt(math.log(num_arms / delta) / num_arms) / state.arm_prob
  step = min_prob(num_arms) / 2.0 * (value + bonus)
  drawn = (jnp.arange(num_arms) == state.arm) & (state.arm >= 0)
  return state._replace(log_weights=state.log_weights + jnp.where(drawn, step, 0.0))


def query(
  state: ALBLState,
  key: jax.Array,
  outputs: PoolOutputs,
  labels: jax.Array,
  labeled: jax.Array,
  k: int,
  candidates: Sequence[Picker],
  delta: float = DELTA,
):
  """One ALBL query: reward the last arm, draw an arm, let it buy k samples.

  Args:
    state: the bandit (`init` before the first query).
    key: PRNG key (the draw and the arm's picker).
    outputs: the task model's `PoolOutputs` over the pool (with MC passes when a
      candidate needs them), the model trained on ``labeled``.
    labels: int32[N], the pool's labels (only the labeled ones are read).
    labeled: bool[N], the labeled mask; the candidates are its complement.
    k: picks (static).
    candidates: the candidates' `Picker`s (static); the arms are them and random.
    delta: Exp4.P's confidence parameter.

  Returns:
    (new state, int32[k] picks, float32[K] the probabilities of this draw, the reward
    given to the previous arm (0 before the first draw)).
  """
  correct = jnp.argmax(outputs.probs, axis=-1) == labels
  value = jnp.where(state.arm >= 0, reward(correct, labeled, state.importance), 0.0)
  state = update(state, value, delta)
  probs = probabilities(state.log_weights)
  draw_key, pick_key = jax.random.split(key)
  arm = jax.random.choice(draw_key, len(candidates) + 1, p=probs).astype(jnp.int32)

  def branch(picker):
    return lambda: picker.pick(pick_key, outputs, ~labeled, k)

  def random_arm():
    return selection.random_sampling(pick_key, ~labeled, k)

  chosen = jax.lax.switch(arm, [branch(picker) for picker in candidates] + [random_arm])
  bought = jnp.where(chosen < 0, labeled.shape[0], chosen)  # a missing pick (-1) is dropped
  state = state._replace(
    importance=state.importance.at[bought].set(probs[arm], mode="drop"),
    arm=arm,
    arm_prob=probs[arm],
  )
  return state, chosen, probs, value


def strategy(setup: Setup) -> Strategy:
  """The ``albl-port`` strategy over ``setup.pickers`` (and random): `init` and `query`
  behind the (init, query) interface, both traceable."""
  candidates = setup.pickers
  names = arms(setup.candidates)

  def init_fn(key, context: Context) -> ALBLState:
    del key
    return init(len(names), context.labeled)

  def query_fn(state, key, context: Context, k: int):
    state, chosen, probs, value = query(
      state, key, context.outputs, context.labels, context.labeled, k, candidates
    )
    return chosen, state, albl.info(state, probs, value)

  needs = base.candidates_needs(candidates)
  return Strategy("albl-port", init_fn, query_fn, needs, DOC, names, setup.candidates)


DOC = "ALBL as the AutoAL repository's batch port (its reward grows with the round)"
