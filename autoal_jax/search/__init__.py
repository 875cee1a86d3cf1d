"""AutoAL's differentiable strategy search (Wang, Zhan & Huang, ICML 2025).

The method is `../shared/AUTOAL.md` sections 3-5. Per round, on the labeled set:

1. `split_labeled`: a fresh seeded permutation splits it into a train half T and a
   validation half V, padded to a fixed capacity (masks), so shapes never change.
2. FitNet (the task model's architecture, fresh) is warmed up on T.
3. The K candidates' decisions A[V, K] are computed ONCE, with the warmed-up FitNet, on V
   as if V were unlabeled (each picks n = ceil(r |V|), r = b / N). FitNet never saw V, so
   there is no leak (the released code used the task model, which was trained on V).
4. `bilevel_step`, alternating by ``step % 3`` (`lax.switch`): a FitNet update
   ``L_F = mean(sg(s) CE_F) + lambda_F L_size``, a SearchNet update
   ``L_S = -mean(s sg(CE_F)) + lambda_S L_size`` and a LossNet update (LL4AL's pairwise
   ranking loss, margin 1). s is the soft selection of the mixed score
   ``m = sum_k w_k A_k``, ``w = gumbel_softmax(SearchNet(x))`` (`autoal_jax.relaxation`).
   ``order = 2`` lets SearchNet's gradient flow through one unrolled FitNet step (DARTS,
   Liu et al. 2019): the same function, with the inner step kept instead of a
   stop-gradient on CE_F.
5. `query_scores`: on the unlabeled pool, A[U, K] from the task model with n = b, w =
   softmax(SearchNet(x)) without noise, m = sum_k w_k A_k; the top b of m are bought.

SearchNet and LossNet are warm-started across rounds (`SearchState`); FitNet is fresh.
With ``use_loss_prediction`` LossNet's predicted loss is one more column of A (a signal
like the others: 0/1 top picks or scaled ranks), so K' = K + 1 logits.

`AutoAL` runs all of this for the active-learning loop, jitting each piece once.

``objective = alignment`` (`../shared/SEARCH.md` R2 + R3) changes steps 2-5: V is cut into
three `folds` (SearchNet's half, the guardrail's quarter and a held-out quarter H);
FitNet stays as its warm-up left it; SearchNet is trained to select (r = b / |L| of its
fold) the samples whose gradient embeddings align with H's mean gradient without being
redundant (`alignment_objective`), its logits kept near its head's bias (global strategy
logits) and that bias near a prior carried across rounds (`global_and_local`); after the
search, `guardrail_values` values the mixture's and each candidate's picks on the
guardrail's fold, each candidate's evidence (a decayed sum of z-scores) takes this
round's, and the query buys with the mixture only where it beat the best candidate by
more than a standard error, else with the equal-weight vote of the candidates whose
evidence is not clearly below the best's (`guardrail_decision`).


Modules: `config` (`SearchConfig`), `losses` (the objectives as named functions),
`step` (states, the named updates and `bilevel_step`, `query_scores`), `decide` (the
guardrail, the evidence and the vote, in jnp), `driver` (`AutoAL`: the round as pure
functions, composed into one program or driven from the host; the strategies).
docs/search.md shows the pieces and swaps an objective.
"""

from autoal_jax.search.config import (
  DEFAULT_CANDIDATES,
  METRICS,
  SearchConfig,
  StepMetrics,
  check_config,
  needs_mc,
)
from autoal_jax.search.driver import (
  STRATEGIES,
  AutoAL,
  class_balance_p,
  guardrail_decision,
  standing,
  strategy,
)
from autoal_jax.search.losses import (
  alignment_objective,
  alignment_value,
  fit_objective,
  global_and_local,
  hard_samples_objective,
  loss_net_objective,
  ranking_loss,
)
from autoal_jax.search.step import (
  Batch,
  BilevelState,
  SearchData,
  SearchState,
  alignment_update,
  bilevel_step,
  bilevel_steps,
  default_updates,
  fit_update,
  folds,
  gradient_parts,
  guardrail_values,
  head_bias,
  init_search_state,
  loss_update,
  make_batch,
  num_branches,
  query_scores,
  search_update,
  select,
  soft_count,
  split_labeled,
)

__all__ = [
  "STRATEGIES",
  "Batch",
  "default_updates",
  "fit_update",
  "alignment_update",
  "loss_update",
  "search_update",
  "make_batch",
  "DEFAULT_CANDIDATES",
  "METRICS",
  "AutoAL",
  "BilevelState",
  "SearchConfig",
  "SearchData",
  "SearchState",
  "StepMetrics",
  "alignment_objective",
  "alignment_value",
  "bilevel_step",
  "bilevel_steps",
  "check_config",
  "class_balance_p",
  "fit_objective",
  "folds",
  "global_and_local",
  "gradient_parts",
  "guardrail_decision",
  "guardrail_values",
  "hard_samples_objective",
  "head_bias",
  "init_search_state",
  "loss_net_objective",
  "needs_mc",
  "num_branches",
  "query_scores",
  "ranking_loss",
  "select",
  "soft_count",
  "standing",
  "split_labeled",
  "strategy",
]
