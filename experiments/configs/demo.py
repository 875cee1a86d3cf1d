"""The demo (`make demo`): AutoAL against the best single strategy and random, in minutes.

Command (also `make demo`):
  python -m experiments.main --config=experiments/configs/demo.py --workdir=runs/demo

`autoal` (the alignment search with its default budget rule: `uherding_cvswitch` buys at
every budget, the budget sweep's v10) against `margin` (the best uncertainty strategy in all three
Fashion-MNIST scenarios of docs/results.md) and `random`, on a 10,000-image Fashion-MNIST
pool with the small CNN: 500 random initial labels + 6 rounds of 250, 3 seeds, each seed's
initial set and first model shared by the three strategies. The default experiment's
training (8 epochs, at least 100 steps, Adam 1e-3 cosine), test split and pool embedding
(PCA-50).

Expected runtime and result: docs/results.md, "The demo (`make demo`)": about 6 minutes
from a fresh clone on 2 CPU cores; `autoal` ties `margin` (81.43 +- 0.07 against 81.58 +-
0.26; its leader's cross-validated error of the initial set is over 20% on every seed, so
it buys `uherding_gated`'s picks), both 1.6-1.8 points above random.
Three seeds show the ordering and a paired difference with its standard error; they
cannot resolve differences of a few tenths of a point (`benchmarks/sweep.py` runs every
strategy at budgets from 1 to 50 labels per class).
"""

import ml_collections

from experiments.configs import default


def get_config() -> ml_collections.ConfigDict:
  config = default.get_config()
  config.strategies = "autoal,margin,random"
  config.seeds = 3
  config.pool_size = 10000
  config.num_initial = 500
  config.query_size = 250
  config.quota = 1500
  config.train.min_steps = 100
  return config
