"""The comparison suite: every strategy, AutoAL against its candidates and the baselines.

Random, the seven AutoAL candidates, k-center, BADGE, TypiClust, Cluster-Margin, the
bandits TAILOR and ALBL, the uniform mixture and the three AutoAL variants, over 3 seeds,
with the default config's data, model and budget.

Commands (the two scenarios of docs/results.md):
  python -m experiments.main --config=experiments/configs/compare.py --workdir=runs/compare
  python -m experiments.main --config=experiments/configs/compare.py \
      --config.imbalance_ratio=10 --workdir=runs/compare_imbalanced

The low-budget scenario (100 initial + 10 rounds of 100, 15 epochs or at least 250 steps
at a constant learning rate: the budget where random beat entropy):
  python -m experiments.main --config=experiments/configs/compare.py:low_budget \
      --workdir=runs/compare_low_budget

scikit-learn's digits (bundled, no download; the whole 1,297-image pool), 20 initial + 10
rounds of 20 (2 to 22 labels per class), 5 seeds: the low-budget digits run of
docs/results.md with five more strategies (measured: 636 s for the 18 x 5 runs):
  python -m experiments.main --config=experiments/configs/compare.py:digits \
      --workdir=runs/compare_digits

A smoke size (the smoke config's data, model, budget and three candidates; 2 seeds; about
two minutes):
  python -m experiments.main --config=experiments/configs/compare.py:smoke --workdir=/tmp/c

Another dataset: --config.dataset=mnist (tfds; see the README), --config.dataset=npz:PATH.
Expected runtime on 2 CPU cores: measured 1 h 45 min and 1 h 50 min for the two scenarios
run at the same time on one machine (14 strategies x 3 seeds; an AutoAL run costs about
twice a single strategy's); alone, an estimated half that, not measured. Seeds run one
after another (see docs/results.md).
Expected result: docs/results.md.
"""

from autoal_jax.strategies import DEFAULT_CANDIDATES
from experiments.configs import default, smoke

# Random, AutoAL's default candidates, the other pickers, then the mixtures.
STRATEGIES = (
  "random",
  *DEFAULT_CANDIDATES,
  "kcenter_greedy",
  "badge",
  "typiclust",
  "cluster_margin",
  "tailor",
  "albl",
  "uniform-mix",
  "autoal-code",
  "autoal-paper",
  "autoal",
)


def get_config(size: str = ""):
  """The suite at the default config's size, at the smoke config's (``size='smoke'``),
  the default's data and model with the low budget (``size='low_budget'``), or on
  scikit-learn's digits at a low budget (``size='digits'``)."""
  sizes = {
    "": (default, 3),
    "smoke": (smoke, 2),
    "low_budget": (default, 3),
    "digits": (default, 5),
  }
  if size not in sizes:
    raise ValueError(f"Unknown size {size!r}. Valid: {sorted(sizes)}")
  base, seeds = sizes[size]
  config = base.get_config()
  if size == "low_budget":
    config.num_initial, config.query_size, config.quota = 100, 100, 1000
    config.train.epochs, config.train.min_steps, config.train.schedule = 15, 250, "constant"
  if size == "digits":
    config.dataset, config.pool_size = "digits", 0
    config.num_initial, config.query_size, config.quota = 20, 20, 200
  config.strategies = ",".join(STRATEGIES)
  config.seeds = seeds
  config.embeddings = "model"  # as its stored results ran (the default until 2026-12-05)
  # autoal as its stored results ran: the budget rule of the default until 2026-12-05
  # (TypiClust below 10 labels per class while the classes look balanced, margin above).
  config.search.low_budget_per_class = 10.0
  config.search.low_budget_leader = "typiclust"
  config.search.low_budget_balance = 0.05
  return config
