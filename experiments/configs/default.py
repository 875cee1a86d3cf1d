"""The default experiment: random against entropy on Fashion-MNIST with a small CNN.

Command (also `make demo`):
  python -m experiments.main --config=experiments/configs/default.py --workdir=runs/default

Expected runtime: about 7 minutes on 2 CPU cores (6 runs of 11 trainings each).
Expected result (docs/results.md): AUBC entropy 82.93 +- 0.21 vs random 82.73 +- 0.18, a
small edge; entropy ahead from about 2,750 labels, F-acc 85.59 +- 0.13 vs 84.80 +- 0.50.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  # Data: 'fashion_mnist', a tfds catalog name (mnist, cifar10, ...), or 'npz:PATH'.
  config.dataset = "fashion_mnist"
  config.data_dir = ""  # '' = the source's default (Debian's files, ~/tensorflow_datasets)
  config.imbalance_ratio = 1.0  # > 1: exponential long-tailed training pool
  config.pool_size = 20000  # > 0: a seeded random subset of the training split; 0: all
  config.test_size = 0  # > 0: a seeded random subset of the test split

  # Active learning: comma-separated registered strategy names, seeds 0 .. seeds-1.
  config.strategies = "random,entropy"
  config.seeds = 3
  config.num_initial = 1000
  config.query_size = 250
  config.quota = 2500
  config.num_mc = 10  # T, MC-dropout passes for the strategies that need them

  # Task model, retrained from scratch every round.
  config.model = "small_cnn"
  config.train = ml_collections.ConfigDict()
  config.train.batch_size = 64
  config.train.epochs = 8
  config.train.min_steps = 150
  config.train.optimizer = "adam"
  config.train.learning_rate = 1e-3
  config.train.schedule = "cosine"  # or 'constant'
  config.train.weight_decay = 0.0
  config.train.momentum = 0.9
  config.train.augment = False  # random crop + flip; off for 28x28 grey
  config.train.crop_padding = 4
  config.train.eval_chunk = 2048
  config.steps_per_call = 0  # steps per jitted call (a lax.scan); 0: 1 on CPU, 16 on GPU/TPU

  # Persistent XLA compilation cache ('' disables): cuts start-up on later runs.
  config.jax_cache_dir = "~/.cache/autoal_jax/jax"
  return config
