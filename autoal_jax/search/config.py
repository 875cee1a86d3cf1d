"""The search's configuration: every switch, checked before any compute."""

from __future__ import annotations

from typing import NamedTuple

import jax

from autoal_jax import models, relaxation, strategies
from autoal_jax import train as train_lib
from autoal_jax.train import TrainConfig

# The paper's seven with the MC-dropout variation ratio (see `strategies.DEFAULT_CANDIDATES`).
DEFAULT_CANDIDATES = strategies.DEFAULT_CANDIDATES


class StepMetrics(NamedTuple):
  """What one bi-level step measured (float32 scalars, or [S] over a scan of S steps).

  Each step runs one of the three updates and measures what that update computes; the
  others are NaN (``fit_loss`` on FitNet steps, ``search_loss`` on SearchNet steps,
  ``rank_accuracy`` on LossNet steps, the counts on FitNet and SearchNet steps).

  Attributes:
    fit_loss: L_F of the batch.
    search_loss: L_S of the batch.
    rank_accuracy: LossNet's pairwise ranking accuracy on the batch.
    soft_count: sum(s) over the batch.
    target_count: r times the batch's valid samples.
  """

  fit_loss: jax.Array
  search_loss: jax.Array
  rank_accuracy: jax.Array
  soft_count: jax.Array
  target_count: jax.Array


METRICS = StepMetrics._fields
OBJECTIVES = ("hard_samples", "alignment")
BALANCE_COUNTS = ("round", "initial")
# Single strategies that are not pickers (they train a model of their own each query) and
# may still be `low_budget_leader`: their own query buys (`AutoAL`, ``low_leader``).
STRATEGY_LEADERS = (
  "uherding",
  "uherding_wide",
  "uherding_median",
  "uherding_gated",
  "uherding_trusted",
  "uherding_regime",
  "uherding_switch",
  "uherding_cvswitch",
  "uherding_cvswitch_k50",
  "uherding_cvswitch_agree",
  "uherding_cvswitch_agree_all",
  "uherding_cvswitch_agree_mid",
  "uherding_cvswitch_agree_sharp50",
  "uherding_cvswitch_agree_errgate",
)
FALLBACKS = ("vote", "rotation", "leader")
# v1's budget rule, the default until 2026-12-05: TypiClust alone below 10 labels per class
# while the classes look balanced. The stored results of the comparison suite, the
# synthetic suite and the probes ran with it (`experiments/configs/compare.py` pins it too).
V1_RULE = {
  "low_budget_per_class": 10.0,
  "low_budget_leader": "typiclust",
  "low_budget_balance": 0.05,
}
# Bi-level steps per round where `SearchConfig.steps` is 0. The paper's objective trains
# FitNet, SearchNet and LossNet in turn (the released code: 400). The alignment objective
# trains SearchNet only, and only its searched mixture depends on those steps: that mixture
# never passed the guardrail in the 410 queries of docs/results.md, and 150 steps made a
# round 2.6x an entropy round against 1.6-2.0x at 50 (docs/benchmarks.md).
DEFAULT_STEPS = {"hard_samples": 150, "alignment": 50}


class SearchConfig(NamedTuple):
  """Every switch of the search (hashable: a static jit argument).

  Attributes:
    candidates: the K candidate strategy names (any registered non-search strategies).
    objective: what SearchNet is trained for. ``hard_samples`` (the paper): select the
      samples FitNet finds hard, r = b / N of V, FitNet trained on the selection in the
      loop (`losses.hard_samples_objective`). ``alignment``: select the samples whose
      gradients point where a held-out part of the labeled set's errors are, without
      redundant picks, r = b / |L| of V, FitNet fixed after its warm-up
      (`losses.alignment_objective`, `../shared/SEARCH.md` R2); with the per-sample
      correction penalty, the prior across rounds and the out-of-fold guardrail (R3).
    relaxation: ``gumbel`` (default), ``softmax`` (no noise) or ``code`` (the released
      rule: SearchNet gets no gradient; see `relaxation.code_select`).
    hard: straight-through one-hot Gumbel samples.
    candidate_signal: ``picks`` (0/1 decisions, the paper) or ``ranks`` (score strategies
      give their rank scaled to [0, 1]; set pickers stay 0/1).
    use_loss_prediction: LossNet's predicted loss as column K + 1 (and LossNet updates).
    order: 1 (alternating first-order) or 2 (through one unrolled FitNet step).
    tau, tau_final: Gumbel-softmax temperature, annealed geometrically over a round's steps.
    tau_s: the soft-selection temperature.
    lambda_fit, lambda_search: weights of the size loss in L_F and L_S.
    steps: bi-level steps per round; 0: the objective's default (`DEFAULT_STEPS`:
      150 for ``hard_samples``, the released code runs 400; 50 for ``alignment``).
    batch_size: V samples per bi-level step (at most the capacity of V).
    warmup: the FitNet warm-up on T (the code: 200 Adam steps), a `TrainConfig`.
    fit, search_net, loss_net: optimisers of the bi-level updates (`TrainConfig`'s
      optimizer, learning_rate, weight_decay, momentum; constant rates).
    unroll_learning_rate: the inner SGD step of ``order = 2``. The second-order term is
      linear in it: on tests/test_search.py's task it changed SearchNet's gradient by 0.14%
      at 1e-3 (order 2 was order 1), by 13% at 0.1 (cosine 0.999), by 76% at 1.0. An SGD
      step of 0.1 moves FitNet about as far as one Adam step of 1e-3 does on its gradients.
    loss_margin: the margin of LossNet's pairwise ranking loss (LL4AL: 1).
    gamma: ``alignment``: the weight of the redundancy term (the picks' mean pairwise
      gradient inner product).
    lambda_delta: ``alignment``: the penalty on the per-sample corrections, the mean
      squared distance of SearchNet's logits from its head's bias (the global logits).
    lambda_prior: ``alignment``: the weight of KL(softmax(global logits) || prior).
    prior_decay: ``alignment``: the evidence's memory across rounds (the old evidence is
      multiplied by it before each round's is added; TAILOR's 0.9).
    eliminate: ``alignment``: a candidate stops voting once its evidence is this many
      standard deviations (of a difference of two candidates' evidence under no real
      difference) below the best's.
    guardrail: ``alignment``: buy with the searched mixture only where its out-of-fold
      value beats every single candidate's by more than a standard error, else with the
      equal-weight vote of the candidates the evidence has not eliminated
      (`driver.guardrail_decision`).
    fallback: ``alignment``: what buys when the guardrail keeps the mixture out: ``vote``
      (the standing candidates' equal-weight consensus vote; the samples most of them pick),
      ``rotation`` (one of those candidates, drawn uniformly at random per query, buys
      its own picks: every candidate gets its share of the rounds, a minority candidate
      is not outvoted) or ``leader`` (the default: the first of ``leaders`` that is a
      candidate and still standing buys alone; none: the vote). With ``leader``, near-ties
      go to the prior's choice instead of a consensus: candidates the evidence cannot tell
      apart never dilute the leader's picks, and the leader is replaced only once the
      evidence eliminates it (measured in docs/results.md: on Fashion-MNIST the vote lost
      about a point to margin, the leader's picks are margin's).
    leaders: ``fallback = leader``: the preferred candidates, in order (registered single
      strategies; those not among ``candidates`` are skipped). The default, margin, is the
      single strategy that large benchmark studies find best or near the best across
      datasets and budgets (Bahri et al. 2022; Lu et al. 2023; `../shared/SEARCH.md`
      section 5), and the best fixed candidate of every proxy-check state but one here.
    low_budget_per_class: ``alignment``: below this many labels per class (on average),
      ``low_budget_leader`` buys alone, whatever the evidence; 0: never. Which kind of
      sample helps most depends on the budget (Hacohen, Dekel & Weinshall 2022): at a few
      labels per class typical ones (TypiClust, ProbCover), later uncertain ones. The
      alignment evidence cannot see coverage there (docs/results.md, "What the evidence
      sees"), and a test on the labeled set (take away its typical or its atypical
      quarter, retrain) gave the wrong regime on both sides (docs/results.md, "The budget
      regime"), so the regime is this rule. ``inf`` (the default since 2026-12-05, the
      budget sweep's v8, then v10): at every budget, for a leader that follows the regime
      itself (Uncertainty Herding: its kernel shrinks as labels come in, its temperature
      is fitted for calibration each query; v10's decides between covering the whole pool
      and the model's expected errors on the initial set's cross-validated error). v1's
      rule, the default before: 10 labels per class, ``typiclust``, ``low_budget_balance =
      0.05`` (`experiments/configs/compare.py`).
    low_budget_leader: the single strategy that buys below ``low_budget_per_class``; where
      it is not a candidate it gets a weight column of its own (`AutoAL.columns`) and the
      evidence never weighs it. A picker, or one of `STRATEGY_LEADERS` (``uherding``,
      ``uherding_wide``, ``uherding_median``, ``uherding_gated`` (v8's),
      ``uherding_trusted``, ``uherding_regime``, ``uherding_switch``, ``uherding_cvswitch``
      (the default, v10's)), whose own query buys (its calibration model trained in that
      query; its state, if any, carried across the rounds it buys, `SearchState.leader`).
    low_budget_balance: the low-budget leader buys only while the labeled set's class counts
      are consistent with balanced classes: a chi-square test of the counts against equal ones
      (`driver.class_balance_p`) with a p-value of at least this; 0: no test (the default:
      v8's leader reads the regime from its calibrated model, on imbalanced pools too).
      Typical samples cover the pool's density, so on a class-imbalanced pool they are mostly
      of the large classes, while a balanced test set rewards the small ones (measured: 5
      points under least confidence on scikit-learn's digits at 10:1, docs/results.md); the
      labels already bought are the only evidence of the pool's class profile the search has.
      Tested every round on that round's counts (`SearchState.imbalanced`): until 2026-12-04 a
      rejection was final, so a false alarm on a tiny random initial set (the test's 5% on
      balanced classes) switched the leader off for the whole run; now it costs that round,
      while a real imbalance keeps being rejected as the labels accumulate (power at 10:1 over
      10 classes: 22% at 10 labels, 53% at 20, 95% at 50). The chi-square approximation holds
      even at one label per class: 3.9% false alarms on random balanced sets of 10 over 10
      classes, 5.1% at 20 (tests/test_search.py).
    balance_counts: which class counts the balance test reads: ``round`` (each round's
      labeled set, the test above) or ``initial`` (the initial labeled set's, once, at
      `AutoAL.init`, kept for the run). The initial set is drawn at random from the pool,
      so its counts are a sample of the pool's class profile; the labels bought later are
      not: uncertain samples gather in the classes the model confuses, so on a balanced
      pool the per-round test rejects the counts an active strategy bought (measured on
      digits, sweep variant v3: margin instead of UHerding in 41 of 70 rounds at 5 labels
      per class, 59 of 70 at 10). The price: a false alarm on the initial set (its 5%,
      3.9% at one label per class) lasts the whole run.
    backbone: SearchNet's backbone: a task-model name, or ``auto`` (the small CNN on
      images, the MLP on features and inputs too small to pool; `models.search_backbone`).
    backbone_kwargs: its extra attributes, as (name, value) pairs.
    loss_hidden: LossNet's units per feature map.
    steps_per_call: bi-level steps per jitted call (a `lax.scan` over a `lax.switch`);
      0 picks 1 on CPU (host dispatch of the branch: XLA:CPU runs conditionals and loops
      of convolutions several times slower) and 16 on GPU/TPU.
  """

  candidates: tuple = DEFAULT_CANDIDATES
  objective: str = "hard_samples"
  relaxation: str = "gumbel"
  hard: bool = False
  candidate_signal: str = "picks"
  use_loss_prediction: bool = True
  order: int = 1
  tau: float = 1.0
  tau_final: float = 1.0
  tau_s: float = 0.1
  lambda_fit: float = 1.0
  lambda_search: float = 1.0
  steps: int = 0
  batch_size: int = 64
  warmup: TrainConfig = TrainConfig(epochs=1, min_steps=100, schedule="constant")
  fit: TrainConfig = TrainConfig(learning_rate=1e-3, schedule="constant")
  search_net: TrainConfig = TrainConfig(learning_rate=1e-3, schedule="constant")
  loss_net: TrainConfig = TrainConfig(learning_rate=1e-3, schedule="constant")
  unroll_learning_rate: float = 0.1
  loss_margin: float = 1.0
  gamma: float = 0.0
  lambda_delta: float = 1.0
  lambda_prior: float = 1.0
  prior_decay: float = 0.9
  eliminate: float = 2.0
  guardrail: bool = True
  fallback: str = "leader"
  leaders: tuple = ("margin",)
  low_budget_per_class: float = float("inf")
  low_budget_leader: str = "uherding_cvswitch_agree"
  low_budget_balance: float = 0.0
  balance_counts: str = "round"
  backbone: str = "auto"
  backbone_kwargs: tuple = ()
  loss_hidden: int = 128
  steps_per_call: int = 0

  @property
  def num_columns(self) -> int:
    """K', the columns of A and SearchNet's outputs: K, plus one with loss prediction."""
    return len(self.candidates) + int(self.use_loss_prediction)

  @property
  def round_steps(self) -> int:
    """The bi-level steps of a round: ``steps``, or the objective's default where 0."""
    return self.steps or DEFAULT_STEPS[self.objective]

  @property
  def column_names(self) -> tuple:
    return tuple(self.candidates) + (("loss_prediction",) if self.use_loss_prediction else ())


def check_config(config: SearchConfig) -> None:
  """Raises ValueError for a config that cannot run (before any compute)."""
  if config.objective not in OBJECTIVES:
    raise ValueError(f"Unknown objective {config.objective!r}. Valid: {list(OBJECTIVES)}")
  if config.objective == "alignment" and config.relaxation == "code":
    raise ValueError("the code relaxation gives SearchNet no gradient: use hard_samples")
  if config.objective == "alignment" and config.use_loss_prediction:
    raise ValueError(
      "the alignment objective keeps FitNet fixed, so there is no loss for LossNet to learn "
      "during the search: set use_loss_prediction=False (or objective=hard_samples)"
    )
  for name in ("gamma", "lambda_delta", "lambda_prior", "eliminate"):
    if not getattr(config, name) >= 0:
      raise ValueError(f"{name} must be >= 0, got {getattr(config, name)}")
  if config.fallback not in FALLBACKS:
    raise ValueError(f"Unknown fallback {config.fallback!r}. Valid: {list(FALLBACKS)}")
  for name in config.leaders:
    strategies.get_picker(name)  # raises for any but a single strategy, naming them
  if config.low_budget_leader not in STRATEGY_LEADERS:
    strategies.get_picker(config.low_budget_leader)
  if not config.low_budget_per_class >= 0:
    raise ValueError(f"low_budget_per_class must be >= 0, got {config.low_budget_per_class}")
  if config.balance_counts not in BALANCE_COUNTS:
    raise ValueError(
      f"Unknown balance_counts {config.balance_counts!r}. Valid: {list(BALANCE_COUNTS)}"
    )
  if not 0 <= config.low_budget_balance < 1:
    raise ValueError(f"low_budget_balance must be in [0, 1), got {config.low_budget_balance}")
  if not 0 <= config.prior_decay <= 1:
    raise ValueError(f"prior_decay must be in [0, 1], got {config.prior_decay}")
  if config.relaxation not in relaxation.RELAXATIONS:
    raise ValueError(
      f"Unknown relaxation {config.relaxation!r}. Valid: {list(relaxation.RELAXATIONS)}"
    )
  if config.candidate_signal not in strategies.SIGNALS:
    raise ValueError(
      f"Unknown candidate_signal {config.candidate_signal!r}. Valid: {list(strategies.SIGNALS)}"
    )
  if config.order not in (1, 2):
    raise ValueError(f"order must be 1 or 2, got {config.order}")
  strategies.check_candidates(config.candidates)
  if strategies.candidates_needs(config.candidates).loss:
    raise ValueError(
      "the search's FitNet has no LossNet: use use_loss_prediction for a loss-prediction "
      f"column instead of a loss candidate in {config.candidates}"
    )
  for name, value in (("tau", config.tau), ("tau_final", config.tau_final)):
    if not value > 0:
      raise ValueError(f"{name} must be > 0, got {value}")
  if not config.tau_s > 0:
    raise ValueError(f"tau_s must be > 0, got {config.tau_s}")
  if config.steps < 0 or config.batch_size < 2:
    raise ValueError(
      f"steps >= 0 (0: the objective's default) and batch_size >= 2 needed, got "
      f"{config.steps}, {config.batch_size}"
    )
  if config.backbone != "auto" and config.backbone not in models.MODELS:
    raise ValueError(
      f"Unknown backbone {config.backbone!r}. Valid: 'auto', {sorted(models.MODELS)}"
    )
  for net in (config.warmup, config.fit, config.search_net, config.loss_net):
    train_lib.make_optimizer(net)


def needs_mc(config: SearchConfig) -> bool:
  """Whether any candidate needs MC-dropout passes."""
  return strategies.candidates_needs(config.candidates).mc
