"""Every strategy's name: the single strategies (pickers) and the others, one registry.

This module owns every name: the single strategies defined here, the mixtures and
bandits of this package (``uniform-mix``, ``albl``, ``albl-port``, ``tailor``), registered
at the end of this file, and any strategy registered later by name (AutoAL's, by
`autoal_jax`'s top level; a user's, with `register`). `build` makes a strategy by name
for a `Setup`, resolving its candidates to `Picker`s once.

Every registered picker is called as ``pick(name, key, outputs, candidate_mask, k)``:

- ``key``: a PRNG key (random strategies and tie-breaking use it),
- ``outputs``: the `PoolOutputs` of one forward pass of the task model over the pool (and
  what the picker's `Needs` declare: T MC-dropout passes, predicted losses),
- ``candidate_mask``: bool[N], the samples that may be picked (the unlabeled ones; the
  others count as labeled for k-center),
- ``k``: the number of picks, static,

and returns int32[k] distinct indices inside the mask. The coverage and clustering pickers
(kmeans, kcenter_greedy, typiclust, cluster_margin, probcover, maxherding, dropquery)
measure distances on `base.distance_space`: the pool's fixed embedding where the run has
one, else the model's; BADGE's gradient embedding is always the model's. The functions are pure and
jittable. Every picker is also a strategy of the (init, query) interface
(`autoal_jax.strategies.base`) and a candidate the mixtures can combine.

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
| typiclust | most typical sample of the largest uncovered clusters | Hacohen et al. 2022 |
| cluster_margin | lowest margins, round-robin over their clusters | Citovsky et al. 2021 |
| probcover | greedy max coverage of delta-balls, delta by k-means purity | Yehuda et al. 2022 |
| maxherding | greedy max Gaussian-kernel coverage | Bae, Noh & Sutherland 2024 |
| dropquery | k-means among the samples whose prediction dropout flips | Gupte et al. 2024 |

``uherding`` (Uncertainty Herding, Bae, Oliveira & Sutherland 2025) trains a calibration
copy of the task model, so it is a strategy of its own (registered at the end), not a
picker; so is ``dcom`` (DCoM, Mishal & Weinshall 2024: ProbCover's coverage and margin
mixed by a coverage competence), whose labeled samples' radii are a state across rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from autoal_jax.strategies import (
  albl,
  albl_port,
  base,
  clustering,
  coverage,
  dcom,
  decisions,
  pickers,
  scores,
  selection,
  tailor,
  uherding,
)
from autoal_jax.strategies.base import candidates_needs as _needs_of
from autoal_jax.strategies.base import check_inputs, check_outputs
from autoal_jax.strategies.base import distance_space as _space
from autoal_jax.strategies.selection import random_sampling
from autoal_jax.types import Needs, Picker, PoolOutputs, Setup, Strategy

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


NO_NEEDS = Needs()
_PICKERS: dict[str, Picker] = {}


class Registered(NamedTuple):
  """A registry entry of a strategy that is not a single one: its constructor
  ``build(setup) -> Strategy`` and a line of doc."""

  name: str
  build: Callable[[Setup], Strategy]
  doc: str


_STRATEGIES: dict[str, Registered] = {}


def _prefix(pick_fn: PickFn) -> Callable:
  """``pick_n`` of a strategy whose picks come in order (its first n of k are its n picks)."""

  def pick_n(key, outputs, candidate_mask, k, n):
    chosen = pick_fn(key, outputs, candidate_mask, k)
    return jnp.where(jnp.arange(k) < n, chosen, -1)

  return pick_n


def register_picker(
  name: str,
  pick_fn: PickFn,
  needs: Needs = NO_NEEDS,
  doc: str = "",
  score: Callable | None = None,
  pick_n: Callable | None = None,
) -> Picker:
  """Adds a single strategy (names are unique among pickers and strategies).

  ``pick_n`` defaults to the first n of ``pick_fn``'s k picks, which is right for every
  picker whose picks come in order (scores by rank, greedy and seeding pickers); give
  one when that is not so (k-means: k clusters are not n clusters).
  """
  _check_new(name)
  _PICKERS[name] = Picker(name, pick_fn, needs, doc, score, pick_n or _prefix(pick_fn))
  return _PICKERS[name]


def register_score(name: str, score_fn: Callable, needs_mc: bool = False, doc: str = ""):
  """Registers a score strategy: its picks are the top-k scores among the candidates."""

  def score(outputs):
    return score_fn(outputs.mc_probs if needs_mc else outputs.probs)

  def pick_fn(key, outputs, candidate_mask, k):
    return selection.top_k_masked(key, score(outputs), candidate_mask, k)

  def pick_n(key, outputs, candidate_mask, k, n):
    return selection.top_k_masked(key, score(outputs), candidate_mask, k, num=n)

  return register_picker(name, pick_fn, Needs(mc=needs_mc), doc, score=score, pick_n=pick_n)


def _check_new(name: str) -> None:
  if name in _PICKERS or name in _STRATEGIES:
    raise ValueError(f"strategy {name!r} is already registered")


def register(name: str, build: Callable[[Setup], Strategy], doc: str = "") -> Registered:
  """Registers the constructor ``build(setup) -> Strategy`` of a strategy with a state or
  with candidates (names are unique among all strategies).

  ``build`` gets the experiment's `Setup` with its candidates checked and resolved
  (``setup.pickers``); its ``query`` must be traceable (docs/strategies.md has a
  runnable example). A single strategy is registered with `register_picker` or
  `register_score` instead, and is then a candidate the mixtures can combine too.
  """
  _check_new(name)
  _STRATEGIES[name] = Registered(name, build, doc)
  return _STRATEGIES[name]


def picker_names() -> list[str]:
  """The registered single strategies (those `pick` runs and mixtures combine), sorted."""
  return sorted(_PICKERS)


def names() -> list[str]:
  """Every registered strategy name (single strategies and the others), sorted."""
  return sorted(set(_STRATEGIES) | set(_PICKERS))


def is_picker(name: str) -> bool:
  return name in _PICKERS


def is_registered(name: str) -> bool:
  return name in _PICKERS or name in _STRATEGIES


def get_picker(name: str) -> Picker:
  """The `Picker` called ``name``; any other name lists the valid ones."""
  if name not in _PICKERS:
    if name in _STRATEGIES:
      raise ValueError(
        f"{name!r} combines strategies or carries a state across rounds: it is not a single "
        f"strategy (a candidate, or what pick() runs). Single strategies: {picker_names()}"
      )
    raise ValueError(f"Unknown strategy {name!r}. Valid strategies: {names()}")
  return _PICKERS[name]


def get(name: str) -> Registered:
  """The registry entry of ``name`` (a single strategy's as a constructor too); an
  unknown name lists the valid ones."""
  if name in _STRATEGIES:
    return _STRATEGIES[name]
  picker = get_picker(name)
  return Registered(name, lambda setup: from_picker(picker), picker.doc)


def build(name: str, setup: Setup) -> Strategy:
  """The strategy ``name`` made for ``setup``: its candidates (empty: `DEFAULT_CANDIDATES`)
  are checked and resolved to `Picker`s (``setup.pickers``) before its constructor runs
  (and checks the rest)."""
  entry = get(name)
  candidates = check_candidates(setup.candidates or DEFAULT_CANDIDATES)
  return entry.build(setup._replace(candidates=candidates, pickers=resolve(candidates)))


def from_picker(picker: Picker) -> Strategy:
  """The single strategy of ``picker`` as a `Strategy` (stateless, traceable)."""
  return base.stateless(picker.name, picker.pick, picker.needs, picker.doc)


def resolve(candidates: Sequence[str]) -> tuple:
  """The `Picker` of each name (checked by `check_candidates`)."""
  return tuple(get_picker(name) for name in check_candidates(candidates))


def check_candidates(candidates: Sequence[str]) -> tuple:
  """The candidate list of a mixture, checked: non-empty, registered, no repeats, each a
  single strategy. Returns it as a tuple; raises ValueError otherwise."""
  candidates = tuple(candidates)
  if not candidates:
    raise ValueError("a mixture needs at least one candidate strategy")
  if len(set(candidates)) != len(candidates):
    raise ValueError(f"a candidate is listed twice: {candidates}")
  for name in candidates:
    if not is_picker(name):
      get_picker(name)  # raises, naming the single strategies
  return candidates


def candidates_needs(candidates: Sequence[str]) -> Needs:
  """What the named candidates need together (the union of their `Needs`)."""
  return _needs_of(get_picker(name) for name in candidates)


def pick(name: str, key: jax.Array, outputs: PoolOutputs, candidate_mask: jax.Array, k: int):
  """Runs the single strategy ``name``: int32[k] distinct indices inside ``candidate_mask``.

  Outside jit the inputs are checked: at least k candidates, MC passes present when the
  strategy needs them, finite probabilities. Under jit (traced values) those checks that
  need values cannot run; then too few candidates yield -1 for the missing picks, never
  an index outside the mask.
  """
  picker = get_picker(name)
  check_inputs(picker, outputs, candidate_mask, k)
  return picker.pick(key, outputs, candidate_mask, k)


register_picker(
  "random",
  lambda key, outputs, mask, k: selection.random_sampling(key, mask, k),
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


register_picker(
  "loss_prediction",
  lambda key, outputs, mask, k: selection.top_k_masked(key, outputs.losses, mask, k),
  doc="the LossNet's predicted loss (LL4AL, Yoo & Kweon 2019)",
  score=_predicted_loss,
  pick_n=lambda key, outputs, mask, k, n: selection.top_k_masked(
    key, outputs.losses, mask, k, num=n
  ),
  needs=Needs(loss=True),
)
register_picker(
  "kmeans",
  lambda key, outputs, mask, k: pickers.kmeans_sampling(key, _space(outputs), mask, k),
  doc="k-means on embeddings, nearest member per cluster",
  pick_n=lambda key, outputs, mask, k, n: pickers.kmeans_sampling(
    key, _space(outputs), mask, k, num_clusters=n
  ),
)
register_picker(
  "kcenter_greedy",
  lambda key, outputs, mask, k: pickers.kcenter_greedy(_space(outputs), ~mask, k),
  doc="core-set farthest-first (Sener & Savarese 2018)",
)
register_picker(
  "badge",
  lambda key, outputs, mask, k: pickers.badge(key, outputs.embeddings, outputs.probs, mask, k),
  doc="k-means++ on gradient embeddings (Ash et al. 2020)",
)


def _register_counted(name: str, fn: Callable, doc: str) -> Picker:
  """A picker ``fn(key, outputs, mask, k, num)`` that takes its traced count ``num``
  itself (None: k)."""
  return register_picker(
    name,
    lambda key, outputs, mask, k: fn(key, outputs, mask, k, None),
    doc=doc,
    pick_n=fn,
  )


_register_counted(
  "typiclust",
  lambda key, outputs, mask, k, n: clustering.typiclust(key, _space(outputs), mask, k, n),
  "most typical sample of the largest uncovered clusters (Hacohen et al. 2022)",
)
_register_counted(
  "cluster_margin",
  lambda key, outputs, mask, k, n: clustering.cluster_margin(
    key, _space(outputs), outputs.probs, mask, k, n
  ),
  "lowest margins, round-robin over their clusters (Citovsky et al. 2021)",
)

register_picker(
  "probcover",
  lambda key, outputs, mask, k: coverage.probcover(
    key, _space(outputs), mask, k, outputs.probs.shape[-1]
  ),
  doc="greedy coverage of delta-balls, delta by purity (Yehuda et al. 2022)",
)
register_picker(
  "maxherding",
  lambda key, outputs, mask, k: coverage.herding(key, _space(outputs), mask, k),
  doc="greedy Gaussian-kernel coverage (Bae, Noh & Sutherland 2024)",
)
register_picker(
  "dropquery",
  lambda key, outputs, mask, k: coverage.dropquery(
    key, _space(outputs), outputs.probs, outputs.mc_probs, mask, k
  ),
  needs=Needs(mc=True),
  doc="k-means among the samples dropout flips (Gupte et al. 2024)",
  pick_n=lambda key, outputs, mask, k, n: coverage.dropquery(
    key, _space(outputs), outputs.probs, outputs.mc_probs, mask, k, n
  ),
)

register("uniform-mix", decisions.uniform_mix_strategy, decisions.UNIFORM_MIX_DOC)
register("albl", albl.strategy, albl.DOC)
register("albl-port", albl_port.strategy, albl_port.DOC)
register("tailor", tailor.strategy, tailor.DOC)
register("uherding", uherding.strategy, uherding.DOC)
register("uherding_wide", uherding.wide_strategy, uherding.WIDE_DOC)
register("uherding_median", uherding.median_strategy, uherding.MEDIAN_DOC)
register("uherding_gated", uherding.gated_strategy, uherding.GATED_DOC)
register("uherding_trusted", uherding.trusted_strategy, uherding.TRUSTED_DOC)
register("uherding_regime", uherding.regime_strategy, uherding.REGIME_DOC)
register("uherding_switch", uherding.switch_strategy, uherding.SWITCH_DOC)
register("uherding_cvswitch", uherding.cv_switch_strategy, uherding.CV_SWITCH_DOC)
register("uherding_cvswitch_k50", uherding.cv_switch_k50_strategy, uherding.CV_SWITCH_K50_DOC)
register("uherding_cvswitch_agree", uherding.cv_switch_agree_strategy, uherding.CV_SWITCH_AGREE_DOC)
register(
  "uherding_cvswitch_agree_sharp50",
  uherding.cv_switch_agree_sharp50_strategy,
  uherding.CV_SWITCH_AGREE_SHARP50_DOC,
)
register(
  "uherding_cvswitch_agree_errgate",
  uherding.cv_switch_agree_errgate_strategy,
  uherding.CV_SWITCH_AGREE_ERRGATE_DOC,
)
register(
  "uherding_cvswitch_agree_all",
  uherding.cv_switch_agree_all_strategy,
  uherding.CV_SWITCH_AGREE_ALL_DOC,
)
register(
  "uherding_cvswitch_agree_mid",
  uherding.cv_switch_agree_mid_strategy,
  uherding.CV_SWITCH_AGREE_MID_DOC,
)
register("dcom", dcom.strategy, dcom.DOC)

__all__ = [
  "AUTOAL_CANDIDATES",
  "DEFAULT_CANDIDATES",
  "Picker",
  "Registered",
  "build",
  "candidates_needs",
  "check_candidates",
  "check_inputs",
  "check_outputs",
  "from_picker",
  "get",
  "get_picker",
  "is_picker",
  "is_registered",
  "names",
  "pick",
  "picker_names",
  "random_sampling",
  "register",
  "register_picker",
  "register_score",
  "resolve",
]
