"""Active Learning By Learning (ALBL; Hsu & Lin, AAAI 2015) in batch mode, libact's reward.

An Exp4.P bandit (Beygelzimer et al. 2011) whose arms are the candidate strategies plus
uniform random sampling, rewarded with the importance-weighted accuracy (IW-ACC) of the
samples it queried, as libact's ``ActiveLearningByLearning`` computes it. One query buys
a batch of k, so one arm is drawn per query and buys all k (one draw per model: the
reward of a pick is only known after the model is retrained on it).

Per query, with A arms, R the number of queries of the run and p the arms' probabilities:

- every arm proposes k picks; arm a is drawn with probability p_a and buys its k picks;
- each bought sample i gets the importance weight W_i = 1 / q_i, q_i = sum_a p_a
  [i in picks_a] + p_random k / |U| the probability that this query bought it (libact:
  1 / the query distribution at the asked sample);
- at the next query, with the model retrained on the bought labels, the reward is
  IW-ACC = sum over every sample queried so far of W_i [model right on i] / (N R)
  (libact: / (N T), T its per-sample query budget; here one query is one bandit step, and
  sum_i W_i [right on i] over one batch estimates the accuracy summed over the pool, so
  N R keeps the reward at most about 1, as libact's);
- Exp4.P update (libact's ``Exp4P``): rhat_a = reward [a drawn] / p_a, the bonus 1 / p_a
  for every arm, w_a <- w_a exp(pmin / 2 (rhat_a + sqrt(log(A / delta) / (A R)) / p_a));
  p = (1 - A pmin) w / sum(w) + pmin, pmin = min(sqrt(log(A) / (A R)), 1 / (2 A)) (libact's
  default, capped: at A = 8 and R = 10 it is 0.16 > 1 / A, where p would not be a
  distribution).

The weights are kept as logarithms (the same probabilities, no overflow). A caveat of
the reward itself: it scores the model on samples it was trained on; a network that fits
its training set gets IW-ACC near sum W / (N R) whatever the arm (libact's models were
regularised linear ones). `albl_port` keeps the AutoAL repository's variant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from autoal_jax.strategies import base, decisions, selection
from autoal_jax.types import Context, Picker, PoolOutputs, QueryInfo, Setup, Strategy

DELTA = 0.1
RANDOM_ARM = "random"


class ALBLState(NamedTuple):
  """The bandit carried across queries.

  Attributes:
    log_weights: float32[A], log of the Exp4.P weights (0 at the start: uniform).
    weight: float32[N], W_i = 1 / q_i of every queried sample, 0 for the others (the
      initial set is not queried).
    probs: float32[A], the arms' probabilities at the last draw (uniform before).
    arm: int32, the arm drawn at the last query (-1 before the first).
    horizon: float32, R, the number of queries of the run.
  """

  log_weights: jax.Array
  weight: jax.Array
  probs: jax.Array
  arm: jax.Array
  horizon: jax.Array


def arms(candidates: Sequence[str]) -> tuple:
  """The bandit's arms: the candidates, then uniform random sampling (libact's default)."""
  return tuple(candidates) + (RANDOM_ARM,)


def min_prob(num_arms: int, horizon: jax.Array) -> jax.Array:
  """pmin = min(sqrt(log(A) / (A R)), 1 / (2 A))."""
  libact = jnp.sqrt(math.log(num_arms) / (num_arms * horizon))
  return jnp.minimum(libact, 0.5 / num_arms).astype(jnp.float32)


def init(num_arms: int, num_pool: int, horizon) -> ALBLState:
  """Uniform weights, nothing queried."""
  return ALBLState(
    log_weights=jnp.zeros(num_arms, jnp.float32),
    weight=jnp.zeros(num_pool, jnp.float32),
    probs=jnp.full(num_arms, 1.0 / num_arms, jnp.float32),
    arm=jnp.asarray(-1, jnp.int32),
    horizon=jnp.asarray(horizon, jnp.float32),
  )


def probabilities(log_weights: jax.Array, pmin: jax.Array) -> jax.Array:
  """p = (1 - A pmin) w / sum(w) + pmin: float32[A], sums to 1, each >= pmin."""
  return (1.0 - log_weights.shape[0] * pmin) * jax.nn.softmax(log_weights) + pmin


def reward(correct: jax.Array, weight: jax.Array, horizon: jax.Array) -> jax.Array:
  """IW-ACC: sum_i W_i [correct_i] / (N R) over the queried samples (W_i > 0)."""
  return jnp.sum(jnp.where(correct, weight, 0.0)) / (weight.shape[0] * horizon)


def update(state: ALBLState, value: jax.Array, delta: float = DELTA) -> ALBLState:
  """The Exp4.P update for the arm drawn last (no change before the first draw)."""
  num_arms = state.log_weights.shape[0]
  pmin = min_prob(num_arms, state.horizon)
  drawn = jnp.arange(num_arms) == state.arm
  rhat = jnp.where(drawn, value / state.probs, 0.0)
  bonus = jnp.sqrt(math.log(num_arms / delta) / (num_arms * state.horizon)) / state.probs
  step = pmin / 2.0 * (rhat + bonus)
  return state._replace(log_weights=state.log_weights + jnp.where(state.arm >= 0, step, 0.0))


def bought_probability(lists: jax.Array, probs: jax.Array, chosen: jax.Array, num_free):
  """q_i for each chosen sample: the probability that this query bought it.

  Args:
    lists: int32[A - 1, k], the deterministic arms' picks (-1: missing).
    probs: float32[A], the arms' probabilities (the random arm last).
    chosen: int32[k], the bought samples.
    num_free: the number of unlabeled samples |U| (the random arm buys each with k / |U|).

  Returns:
    float32[k].
  """
  k = chosen.shape[0]
  proposed = jnp.any(lists[:, :, None] == chosen[None, None, :], axis=1)  # [A - 1, k]
  uniform = probs[-1] * jnp.minimum(k / jnp.maximum(num_free, 1).astype(jnp.float32), 1.0)
  return jnp.sum(jnp.where(proposed, probs[:-1, None], 0.0), axis=0) + uniform


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
    key: PRNG key (the draw and the arms' pickers).
    outputs: the task model's `PoolOutputs` (with MC passes when a candidate needs them),
      the model trained on ``labeled``.
    labels: int32[N], the pool's labels (only the queried ones are read).
    labeled: bool[N], the labeled mask; the candidates are its complement.
    k: picks (static).
    candidates: the candidates' `Picker`s (static); the arms are them and random.
    delta: Exp4.P's confidence parameter.

  Returns:
    (new state, int32[k] picks, float32[A] the probabilities of this draw, the reward
    given to the previous arm (0 before the first draw)).
  """
  correct = jnp.argmax(outputs.probs, axis=-1) == labels
  value = jnp.where(state.arm >= 0, reward(correct, state.weight, state.horizon), 0.0)
  state = update(state, value, delta)
  probs = probabilities(state.log_weights, min_prob(len(candidates) + 1, state.horizon))
  draw_key, pick_key, random_key = jax.random.split(key, 3)
  free = ~labeled
  lists = decisions.pick_lists(candidates, pick_key, outputs, free, k)
  every = jnp.concatenate([lists, selection.random_sampling(random_key, free, k)[None]])
  arm = jax.random.categorical(draw_key, jnp.log(probs)).astype(jnp.int32)
  chosen = every[arm]
  q = bought_probability(lists, probs, chosen, jnp.sum(free))
  bought = jnp.where(chosen < 0, labeled.shape[0], chosen)  # a missing pick (-1) is dropped
  state = state._replace(
    weight=state.weight.at[bought].set(1.0 / q, mode="drop"), probs=probs, arm=arm
  )
  return state, chosen, probs, value


def horizon(setup: Setup, num_labeled) -> jax.Array:
  """R = ceil((max_labeled - |L0|) / b), at least 1."""
  rounds = jnp.ceil((setup.max_labeled - num_labeled) / max(setup.query_size, 1))
  return jnp.maximum(rounds, 1.0)


def info(state: ALBLState, probs: jax.Array, value: jax.Array) -> QueryInfo:
  """A bandit draw's `QueryInfo` (arrays): the arms' probabilities, the arm drawn, the
  reward given to the previous arm."""
  return QueryInfo(weights=probs, arm=state.arm, reward=value.astype(jnp.float32))


def strategy(setup: Setup) -> Strategy:
  """The ``albl`` strategy over ``setup.pickers`` (and random): `init` and `query`
  behind the (init, query) interface, both traceable."""
  candidates = setup.pickers
  names = arms(setup.candidates)

  def init_fn(key, context: Context) -> ALBLState:
    del key
    n0 = jnp.sum(context.labeled).astype(jnp.float32)
    return init(len(names), context.labeled.shape[0], horizon(setup, n0))

  def query_fn(state, key, context: Context, k: int):
    state, chosen, probs, value = query(
      state, key, context.outputs, context.labels, context.labeled, k, candidates
    )
    return chosen, state, info(state, probs, value)

  needs = base.candidates_needs(candidates)
  return Strategy("albl", init_fn, query_fn, needs, DOC, names, setup.candidates)


DOC = "Exp4.P bandit over the candidates and random, IW-ACC reward (Hsu & Lin 2015)"
