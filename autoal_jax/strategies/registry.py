"""One signature for every strategy, and a registry by name.

Every registered strategy is called as ``pick(name, key, outputs, candidate_mask, k)``:

- ``key``: a PRNG key (random strategies and tie-breaking use it),
- ``outputs``: the `PoolOutputs` of one forward pass of the task model over the pool (and
  its T MC-dropout passes, for strategies with ``needs_mc``),
- ``candidate_mask``: bool[N], the samples that may be picked (the unlabeled ones; the
  others count as labeled for k-center),
- ``k``: the number of picks, static,

and returns int32[k] distinct indices inside the mask. The functions are pure and
jittable; the active-learning loop jits each once per (strategy, k). `decisions` runs
several strategies on the same outputs and returns AutoAL's 0/1 decision matrix.

| name | kind | paper |
|---|---|---|
| random | uniform | |
| least_confidence, margin, entropy | score on probs | Settles 2009; Scheffer et al. 2001 |
| var_ratio | score on probs (1 - max p, the released AutoAL / DeepAL+ form) | Freeman 1965 |
| var_ratio_mc, bald, mean_std | score on T MC passes | Gal 2017; Houlsby 2011; Kendall 2017 |
| loss_prediction | the loss a LossNet trained with the task model predicts | Yoo & Kweon 2019 |
| kmeans | cluster centres' nearest members | (DeepAL+'s KMeansSampling) |
| kcenter_greedy | farthest-first from the labeled set | Sener & Savarese 2018 |
| badge | k-means++ on gradient embeddings | Ash et al. 2020 |
| uniform-mix | the candidates' 0/1 decisions summed with equal weights (no search) | |
| albl | an Exp4.P bandit over the candidates and random (`albl`) | Hsu & Lin 2015 |
| autoal | the learned mixture of candidates (`autoal_jax.search`) | Wang et al. 2025 |
| autoal-code | the same with the released code's selection rule (no gradient) | |

The mixtures (uniform-mix, albl, autoal, autoal-code) combine a list of candidate
strategies, `DEFAULT_CANDIDATES` unless the loop passes another (`check_candidates`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from autoal_jax.strategies import pickers, scores, selection
from autoal_jax.types import PoolOutputs

PickFn = Callable[[jax.Array, PoolOutputs, jax.Array, int], jax.Array]

# The paper's seven candidates, in the released code's column order (AUTOAL.md section 2).
AUTOAL_CANDIDATES = (
  "least_confidence",
  "margin",
  "entropy",
  "kmeans",
  "bald",
  "var_ratio",
  "mean_std",
)

# The candidates the mixtures combine by default: the paper's seven with the real MC-dropout
# variation ratio in VarRatio's place (the released [N, C] form, 1 - max p, decides exactly
# like least_confidence, which would make two of the seven columns identical).
DEFAULT_CANDIDATES = (
  "least_confidence",
  "margin",
  "entropy",
  "kmeans",
  "bald",
  "var_ratio_mc",
  "mean_std",
)


class Strategy(NamedTuple):
  """A registered strategy.

  Attributes:
    name: the registry name.
    pick: ``pick(key, outputs, candidate_mask, k) -> int32[k]``.
    needs_mc: whether ``outputs.mc_probs`` must be present (T >= 2 MC-dropout passes).
    doc: one line for listings.
    score: ``score(outputs) -> float32[N]`` for score strategies (higher first), else None.
    pick_n: ``pick_n(key, outputs, candidate_mask, k, n) -> int32[k]`` with a traced count
      n <= k: the first n entries are the strategy's n picks, the rest -1. One compiled
      program then serves every n (AutoAL's decisions on a growing validation half).
    search: for AutoAL's search strategies (`autoal_jax.search`), the overrides of the
      search config they run with (a dict, possibly empty); None for every other strategy.
      Their picks need the labeled data and a search state, so ``pick`` refuses them.
    candidates: whether the strategy combines candidate strategies: its ``pick`` takes a
      keyword ``candidates`` (a tuple of names; default `DEFAULT_CANDIDATES`) and the loop
      passes the configured list. Its ``needs_mc`` is that of the default list.
    stateful: whether its picks need a state carried across rounds and the labels (ALBL's
      bandit): the loop runs it (`autoal_jax.loop`), ``pick`` refuses it.
    needs_loss: whether ``outputs.losses`` must be present (a LossNet trained with the
      task model, `TrainConfig.loss_prediction`; the loop trains one for it).
  """

  name: str
  pick: PickFn
  needs_mc: bool
  doc: str
  score: Callable | None = None
  pick_n: Callable | None = None
  search: dict | None = None
  candidates: bool = False
  stateful: bool = False
  needs_loss: bool = False


_REGISTRY: dict[str, Strategy] = {}


def _prefix(pick_fn: PickFn) -> Callable:
  """``pick_n`` of a strategy whose picks come in order (its first n of k are its n picks)."""

  def pick_n(key, outputs, candidate_mask, k, n):
    chosen = pick_fn(key, outputs, candidate_mask, k)
    return jnp.where(jnp.arange(k) < n, chosen, -1)

  return pick_n


def register(
  name: str,
  pick_fn: PickFn,
  needs_mc: bool = False,
  doc: str = "",
  score: Callable | None = None,
  pick_n: Callable | None = None,
  search: dict | None = None,
  candidates: bool = False,
  stateful: bool = False,
  needs_loss: bool = False,
) -> Strategy:
  """Adds a strategy to the registry (names are unique).

  ``pick_n`` defaults to the first n of ``pick_fn``'s k picks, which is right for every
  picker whose picks come in order (scores by rank, greedy and seeding pickers); give
  one when that is not so (k-means: k clusters are not n clusters).
  """
  if name in _REGISTRY:
    raise ValueError(f"strategy {name!r} is already registered")
  _REGISTRY[name] = Strategy(
    name,
    pick_fn,
    needs_mc,
    doc,
    score,
    pick_n or _prefix(pick_fn),
    search,
    candidates,
    stateful,
    needs_loss,
  )
  return _REGISTRY[name]


def register_score(name: str, score_fn: Callable, needs_mc: bool = False, doc: str = ""):
  """Registers a score strategy: its picks are the top-k scores among the candidates."""

  def score(outputs):
    return score_fn(outputs.mc_probs if needs_mc else outputs.probs)

  def pick_fn(key, outputs, candidate_mask, k):
    return selection.top_k_masked(key, score(outputs), candidate_mask, k)

  def pick_n(key, outputs, candidate_mask, k, n):
    return selection.top_k_masked(key, score(outputs), candidate_mask, k, num=n)

  return register(name, pick_fn, needs_mc, doc, score=score, pick_n=pick_n)


def names(include_search: bool = True) -> list[str]:
  """The registered strategy names, sorted; ``include_search=False`` leaves out those that
  run only through the loop (AutoAL's search strategies and ALBL: `pick` refuses them)."""
  return sorted(
    n for n, s in _REGISTRY.items() if include_search or (s.search is None and not s.stateful)
  )


def is_mixture(strategy: Strategy) -> bool:
  """Whether ``strategy`` combines candidates (and so cannot be one)."""
  return strategy.candidates or strategy.stateful or strategy.search is not None


def check_candidates(candidates: Sequence[str]) -> tuple:
  """The candidate list of a mixture, checked: non-empty, registered, no repeats, none a
  mixture itself. Returns it as a tuple; raises ValueError otherwise."""
  candidates = tuple(candidates)
  if not candidates:
    raise ValueError("a mixture needs at least one candidate strategy")
  if len(set(candidates)) != len(candidates):
    raise ValueError(f"a candidate is listed twice: {candidates}")
  for name in candidates:
    if is_mixture(get(name)):
      raise ValueError(f"{name!r} combines strategies itself and cannot be a candidate")
  return candidates


def candidates_need_mc(candidates: Sequence[str]) -> bool:
  """Whether any of the candidates needs MC-dropout passes."""
  return any(get(name).needs_mc for name in candidates)


def candidates_need_loss(candidates: Sequence[str]) -> bool:
  """Whether any of the candidates needs a LossNet trained with the task model."""
  return any(get(name).needs_loss for name in candidates)


def get(name: str) -> Strategy:
  """The `Strategy` called ``name``; an unknown name lists the valid ones."""
  if name not in _REGISTRY:
    raise ValueError(f"Unknown strategy {name!r}. Valid strategies: {names()}")
  return _REGISTRY[name]


def _is_concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer)


def pick(name: str, key: jax.Array, outputs: PoolOutputs, candidate_mask: jax.Array, k: int):
  """Runs the strategy ``name``: int32[k] distinct indices inside ``candidate_mask``.

  Outside jit the inputs are checked: at least k candidates, MC passes present when the
  strategy needs them, finite probabilities. Under jit (traced values) those checks that
  need values cannot run; then too few candidates yield -1 for the missing picks, never
  an index outside the mask.
  """
  strategy = get(name)
  _check_inputs(strategy, outputs, candidate_mask, k)
  return strategy.pick(key, outputs, candidate_mask, k)


def _check_inputs(strategy: Strategy, outputs: PoolOutputs, candidate_mask, k: int) -> None:
  name = strategy.name
  if strategy.search is not None or strategy.stateful:
    raise ValueError(
      f"{name!r} needs the labels and a state carried across rounds, so it runs through "
      "ActiveLearner (autoal_jax.loop), not pick()"
    )
  mask_dtype = getattr(candidate_mask, "dtype", None)
  if mask_dtype != np.bool_:
    raise TypeError(f"candidate_mask must be bool[N], got dtype {mask_dtype}")
  probs_shape = getattr(outputs.probs, "shape", ())
  if candidate_mask.ndim != 1 or len(probs_shape) != 2 or probs_shape[0] != len(candidate_mask):
    raise ValueError(
      f"{name}: outputs.probs must be [N, C] and candidate_mask bool[N], got shapes "
      f"{probs_shape} and {candidate_mask.shape}"
    )
  if strategy.needs_mc and (outputs.mc_probs is None or outputs.mc_probs.shape[0] < 2):
    raise ValueError(f"strategy {name!r} needs T >= 2 MC-dropout passes (num_mc >= 2)")
  if strategy.needs_loss and outputs.losses is None:
    raise ValueError(
      f"strategy {name!r} needs predicted losses (outputs.losses): a task model trained "
      "with a LossNet, TrainConfig(loss_prediction=True)"
    )
  if _is_concrete(candidate_mask):  # NumPy: jnp would trace even a constant under jit
    available = int(np.sum(np.asarray(candidate_mask)))
    if not 1 <= k <= available:
      raise ValueError(f"{name}: k={k} picks asked from {available} candidates")
  if _is_concrete(outputs.probs):
    scores.check_probs(outputs.probs, "outputs.probs")
    if strategy.needs_mc:
      scores.check_probs(outputs.mc_probs, "outputs.mc_probs")


SIGNALS = ("picks", "ranks")


def scaled_ranks(values: jax.Array, candidate_mask: jax.Array) -> jax.Array:
  """Each candidate's rank among the candidates, scaled to [0, 1] (1 = highest value).

  Ties are ranked by index (a stable sort); non-candidates get 0. float[N] -> float32[N].
  """
  n = values.shape[0]
  rank = jnp.where(candidate_mask, values.astype(jnp.float32), -jnp.inf)
  position = (
    jnp.zeros(n, jnp.float32)
    .at[jnp.argsort(rank, stable=True)]
    .set(jnp.arange(n, dtype=jnp.float32))
  )
  count = jnp.sum(candidate_mask).astype(jnp.float32)
  scaled = (position - (n - count)) / jnp.maximum(count - 1.0, 1.0)
  return jnp.where(candidate_mask, jnp.clip(scaled, 0.0, 1.0), 0.0)


def decisions(
  names_: Sequence[str],
  key: jax.Array,
  outputs: PoolOutputs,
  candidate_mask: jax.Array,
  k: int,
  num_picks: jax.Array | None = None,
  signal: str = "picks",
) -> jax.Array:
  """AutoAL's decision matrix: A[i, j] = 1 iff strategy j picks sample i among its top k.

  All strategies read the same `PoolOutputs` (one forward pass and one set of T MC passes);
  strategy j draws its randomness from ``fold_in(key, j)``.

  Args:
    names_: K registered strategy names.
    key: PRNG key.
    outputs: `PoolOutputs` of the pool (with mc_probs if any strategy needs them).
    candidate_mask: bool[N].
    k: picks per strategy (static).
    num_picks: a traced n <= k: each strategy picks n (its ``pick_n``), so that one compiled
      program serves a count that changes from round to round. Default k.
    signal: ``picks`` (0/1 decisions) or ``ranks``: score strategies give their scaled rank
      among the candidates (`scaled_ranks`), set pickers still give 0/1 picks.

  Returns:
    float32[N, K]; with ``picks`` each column sums to n (fewer only if picks were missing).
  """
  if signal not in SIGNALS:
    raise ValueError(f"Unknown candidate signal {signal!r}. Valid signals: {list(SIGNALS)}")
  n = candidate_mask.shape[0]
  columns = []
  for j, name in enumerate(names_):
    strategy = get(name)
    if signal == "ranks" and strategy.score is not None:
      columns.append(scaled_ranks(strategy.score(outputs), candidate_mask))
      continue
    subkey = jax.random.fold_in(key, j)
    if num_picks is None:
      chosen = pick(name, subkey, outputs, candidate_mask, k)
    else:
      _check_inputs(strategy, outputs, candidate_mask, 1)  # n is traced: k is only a cap
      chosen = strategy.pick_n(subkey, outputs, candidate_mask, k, num_picks)
    chosen = jnp.where(chosen < 0, n, chosen)  # -1 (missing) falls outside and is dropped
    columns.append(jnp.zeros(n, jnp.float32).at[chosen].set(1.0, mode="drop"))
  return jnp.stack(columns, axis=1)


def random_sampling(key: jax.Array, candidate_mask: jax.Array, k: int) -> jax.Array:
  """k candidates uniformly at random without replacement: bool[N] -> int32[k].

  The k largest of N i.i.d. uniform keys over the candidates (a uniformly random k-subset;
  equal keys, which have probability ~0, go to the lower index). -1 fills the slots left
  over when fewer than k samples are candidates.
  """
  selection.check_k(k, candidate_mask.shape[0])
  values = jnp.where(candidate_mask, jax.random.uniform(key, candidate_mask.shape), -1.0)
  top, index = jax.lax.top_k(values, k)
  return jnp.where(top >= 0.0, index, -1).astype(jnp.int32)


register(
  "random",
  lambda key, outputs, mask, k: random_sampling(key, mask, k),
  doc="uniform sampling without replacement",
)
register_score("least_confidence", scores.least_confidence, doc="1 - max p (Settles 2009)")
register_score("margin", scores.margin, doc="-(p1 - p2) (Scheffer et al. 2001)")
register_score("entropy", scores.entropy, doc="predictive entropy (Settles 2009)")
register_score("var_ratio", scores.var_ratio, doc="1 - max p, the released AutoAL form")
register_score(
  "var_ratio_mc", scores.var_ratio, needs_mc=True, doc="1 - modal count / T over MC passes"
)
register_score("bald", scores.bald, needs_mc=True, doc="MC-dropout BALD (Gal et al. 2017)")
register_score("mean_std", scores.mean_std, needs_mc=True, doc="mean std over MC passes")


def _predicted_loss(outputs: PoolOutputs) -> jax.Array:
  return outputs.losses


register(
  "loss_prediction",
  lambda key, outputs, mask, k: selection.top_k_masked(key, outputs.losses, mask, k),
  doc="the LossNet's predicted loss (LL4AL, Yoo & Kweon 2019)",
  score=_predicted_loss,
  pick_n=lambda key, outputs, mask, k, n: selection.top_k_masked(
    key, outputs.losses, mask, k, num=n
  ),
  needs_loss=True,
)
register(
  "kmeans",
  lambda key, outputs, mask, k: pickers.kmeans_sampling(key, outputs.embeddings, mask, k),
  doc="k-means on embeddings, nearest member per cluster",
  pick_n=lambda key, outputs, mask, k, n: pickers.kmeans_sampling(
    key, outputs.embeddings, mask, k, num_clusters=n
  ),
)
register(
  "kcenter_greedy",
  lambda key, outputs, mask, k: pickers.kcenter_greedy(outputs.embeddings, ~mask, k),
  doc="core-set farthest-first (Sener & Savarese 2018)",
)
register(
  "badge",
  lambda key, outputs, mask, k: pickers.badge(key, outputs.embeddings, outputs.probs, mask, k),
  doc="k-means++ on gradient embeddings (Ash et al. 2020)",
)


def uniform_mix(
  key: jax.Array,
  outputs: PoolOutputs,
  candidate_mask: jax.Array,
  k: int,
  candidates: Sequence[str] = DEFAULT_CANDIDATES,
) -> jax.Array:
  """The candidates' decisions summed with equal weights, no search: int32[k].

  Every candidate picks k (`decisions`, one shared set of outputs); the samples picked
  by the most candidates are bought, ties (many: the votes are small integers) broken
  uniformly at random by ``key`` (`selection.top_k_masked`). With one candidate this is
  that candidate's pick set.
  """
  return _uniform_mix_n(key, outputs, candidate_mask, k, None, candidates)


def _uniform_mix_n(key, outputs, candidate_mask, k, n, candidates=DEFAULT_CANDIDATES):
  """`uniform_mix` of n <= k picks (traced n; each candidate picks n)."""
  decision_key, tie_key = jax.random.split(key)
  votes = decisions(candidates, decision_key, outputs, candidate_mask, k, num_picks=n)
  return selection.top_k_masked(tie_key, votes.sum(axis=1), candidate_mask, k, num=n)


# The mixtures' MC needs with the default candidates (the loop uses the configured list).
_MIXTURE_NEEDS_MC = candidates_need_mc(DEFAULT_CANDIDATES)

register(
  "uniform-mix",
  uniform_mix,
  pick_n=_uniform_mix_n,
  needs_mc=_MIXTURE_NEEDS_MC,
  doc="the candidates' 0/1 decisions summed with equal weights (no search)",
  candidates=True,
)


def _loop_only(key, outputs, mask, k):
  """The pick of the strategies that only the loop runs (ALBL, AutoAL's search)."""
  raise ValueError("this strategy runs through ActiveLearner (autoal_jax.loop)")


register(
  "albl",
  _loop_only,
  needs_mc=_MIXTURE_NEEDS_MC,
  doc="Exp4.P bandit over the candidates and random (Hsu & Lin 2015; autoal_jax.strategies.albl)",
  candidates=True,
  stateful=True,
)


register(
  "autoal",
  _loop_only,
  needs_mc=_MIXTURE_NEEDS_MC,
  doc="AutoAL: a searched per-sample mixture of candidates (Wang et al. 2025)",
  candidates=True,
  search={},
)
register(
  "autoal-code",
  _loop_only,
  needs_mc=_MIXTURE_NEEDS_MC,
  doc="AutoAL with the released code's selection rule (SearchNet gets zero gradient)",
  candidates=True,
  search={"relaxation": "code"},
)
