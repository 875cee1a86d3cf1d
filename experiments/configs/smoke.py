"""A tiny end-to-end run for tests and CI: an MLP, a 2,000-image pool, three queries, the
mixtures over three candidates.

Command:
  python -m experiments.main --config=experiments/configs/smoke.py --workdir=/tmp/smoke

Expected runtime: under a minute on 2 CPU cores, most of it compilation (seconds with a
warm compilation cache). Expected result: three files in the workdir; accuracies are
noisy at this size and mean nothing.
"""

from experiments.configs import default


def get_config():
  config = default.get_config()
  config.strategies = "random,entropy"
  config.seeds = 2
  config.model = "mlp"
  config.num_initial = 20
  config.query_size = 20
  config.quota = 50  # 3 queries: 20, 20 and a partial 10
  config.pool_size = 2000
  config.test_size = 500
  config.train.batch_size = 32
  config.train.epochs = 2
  config.train.min_steps = 8
  config.train.eval_chunk = 256
  # Three candidates for the mixtures (a score, a set picker, an MC one): every code path of
  # the seven at less than half the cost.
  config.search.candidates = "margin,kmeans,bald"
  config.search.backbone = "mlp"
  config.search.steps = 12
  config.search.batch_size = 32
  config.search.warmup_steps = 10
  return config
