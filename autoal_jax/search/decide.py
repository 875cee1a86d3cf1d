"""What `autoal` buys with after a round's search: the guardrail, the evidence, the
elimination, the leader, the rotation and the low-budget rule, as pure jnp functions.

Everything here is traceable (no host value is read), so a round's search and query can
run as one program; `driver` calls these same functions from the host on CPU. A vote is
float32[K'] over the query's columns (`SearchConfig.column_names` plus the low-budget
leader where it is not a candidate): zeros for the searched mixture, 1 for each column
that votes (one alone: that column buys its own picks).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from autoal_jax.search.config import SearchConfig


def class_balance_p(counts: jax.Array) -> jax.Array:
  """The p-value of Pearson's chi-square test of class counts against equal counts.

  ``sum_c (n_c - n / C)^2 / (n / C)`` against a chi-square with C - 1 degrees of freedom,
  whose survival function is ``Q((C - 1) / 2, x / 2)`` (the regularised upper incomplete
  gamma function). An approximation at expected counts under 5, yet its false-alarm rate
  on random balanced sets stays near the level (3.9% at 0.05 with one label per class
  over 10 classes; tests/test_search.py). 1 for no labels or one class.

  Args:
    counts: int or float [C], the labeled samples of each class.

  Returns:
    float32 scalar in [0, 1].
  """
  counts = jnp.asarray(counts, jnp.float32)
  num_classes = counts.shape[0]
  if num_classes < 2:
    return jnp.float32(1.0)
  total = jnp.sum(counts)
  expected = jnp.maximum(total / num_classes, 1e-30)
  statistic = jnp.sum((counts - expected) ** 2) / expected
  p = jax.scipy.special.gammaincc((num_classes - 1) / 2.0, statistic / 2.0)
  return jnp.where(total > 0, p, 1.0).astype(jnp.float32)


def imbalanced(previous: jax.Array, balance: jax.Array, config: SearchConfig) -> jax.Array:
  """The round's class-imbalance flag (`SearchState.imbalanced`) from this round's
  balance p-value: ``balance < low_budget_balance`` with ``balance_counts = round``; the
  ``previous`` flag (the initial set's, set at `AutoAL.init`) with ``initial``."""
  if config.balance_counts == "initial":
    return jnp.asarray(previous, bool)
  return jnp.asarray(balance < config.low_budget_balance)


def standing(evidence: jax.Array, variance: jax.Array, eliminate: float) -> jax.Array:
  """1 for each candidate whose evidence is within ``eliminate * sqrt(2 variance)`` of the
  best's, else 0: float32[K]."""
  evidence = jnp.asarray(evidence, jnp.float32)
  threshold = jnp.max(evidence) - eliminate * jnp.sqrt(2.0 * variance)
  return (evidence >= threshold).astype(jnp.float32)


def guardrail_decision(
  mix: jax.Array,
  mix_se: jax.Array,
  values: jax.Array,
  ses: jax.Array,
  evidence: jax.Array,
  evidence_var: jax.Array,
  config: SearchConfig,
  pooled_values: jax.Array | None = None,
  pooled_ses: jax.Array | None = None,
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
    (vote float32[K]: zeros for the mixture, else 1 for each candidate that votes; the new
    evidence float32[K]; its new variance; the margin the mixture had to beat).
  """
  values, ses = jnp.asarray(values, jnp.float32), jnp.asarray(ses, jnp.float32)
  pooled_values = values if pooled_values is None else jnp.asarray(pooled_values, jnp.float32)
  pooled_ses = ses if pooled_ses is None else jnp.asarray(pooled_ses, jnp.float32)
  best = jnp.argmax(values)
  scale = jnp.maximum(jnp.sqrt(jnp.mean(pooled_ses**2)), 1e-12)
  decay = config.prior_decay
  z = (pooled_values - jnp.mean(pooled_values)) / scale
  evidence = decay * jnp.asarray(evidence, jnp.float32) + z
  variance = decay**2 * jnp.asarray(evidence_var, jnp.float32) + 1.0
  margin = jnp.hypot(mix_se, ses[best])
  kept = standing(evidence, variance, config.eliminate)
  mixture = mix - values[best] > margin
  if not config.guardrail:
    mixture = jnp.ones((), bool)
  vote = jnp.where(mixture, 0.0, kept)
  return vote, evidence, variance, margin


def rotation(kept: jax.Array, key: jax.Array) -> jax.Array:
  """One of the kept candidates, uniformly at random: float32[K] one-hot (the draw is
  ``randint(key, 0, count)`` among the kept, in index order)."""
  kept = jnp.asarray(kept)
  count = jnp.sum(kept > 0).astype(jnp.int32)
  which = jax.random.randint(key, (), 0, jnp.maximum(count, 1))
  position = jnp.cumsum(kept > 0) - 1  # the rank of each kept candidate
  return ((kept > 0) & (position == which)).astype(jnp.float32)


def leader(kept: jax.Array, candidates: Sequence[str], leaders: Sequence[str]) -> jax.Array:
  """The first of ``leaders`` that is among ``candidates`` and kept, alone (float32[K]
  one-hot); ``kept`` itself (the vote of the standing) where there is none."""
  kept = jnp.asarray(kept, jnp.float32)
  vote = kept
  for name in reversed([n for n in leaders if n in candidates]):  # the first wins: last set
    j = list(candidates).index(name)
    alone = (jnp.arange(kept.shape[0]) == j).astype(jnp.float32)
    vote = jnp.where(kept[j] > 0, alone, vote)
  return vote


def fallback_vote(kept: jax.Array, key: jax.Array, config: SearchConfig) -> jax.Array:
  """What buys when the guardrail keeps the mixture out, by ``config.fallback``: the
  standing candidates' vote, one of them by rotation, or the first standing leader."""
  if config.fallback == "rotation":
    return rotation(kept, key)
  if config.fallback == "leader":
    return leader(kept, config.candidates, config.leaders)
  return kept
