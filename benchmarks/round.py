r"""Per-round time of AutoAL against entropy sampling, broken into its phases.

  python -m benchmarks.round                                 # the default config
  python -m benchmarks.round --config.pool_size=5000 --rounds=1
  python -m benchmarks.round --config.model=resnet18 --pad_to=32   # CIFAR-shaped input

Builds the experiment of a config (default: experiments/configs/default.py, Fashion-MNIST
with the small CNN) and runs, for each strategy, round 0 (which compiles everything)
and then ``--rounds`` timed rounds from the same initial labeled set (seed 0). Each
round is split into: training (task model from scratch + test accuracy), scoring (the
task model's pool passes, with MC dropout when a candidate needs it), search (AutoAL
only: split, FitNet warm-up, decisions on V, bi-level updates) and pick. The ratio is
autoal's mean round time over entropy's, in the same run. The paper reports AutoAL at
2.95-6.54x entropy sampling; the target here is at most 1.5x.
"""

from __future__ import annotations

import os
import sys
import time

from absl import app, flags
from ml_collections import config_flags

config_flags.DEFINE_config_file(
  "config", "experiments/configs/default.py", "Experiment config.", lock_config=True
)
flags.DEFINE_integer("rounds", 2, "Timed rounds after the compiling round 0.")
flags.DEFINE_string("strategies", "entropy,autoal", "Strategies to time; the first is the base.")
flags.DEFINE_integer(
  "pad_to", 0, "If > 0: images zero-padded to pad_to x pad_to with 3 channels (CIFAR-shaped)."
)
FLAGS = flags.FLAGS

PHASES = ("train", "score", "search", "pick")


def _pad(dataset, size, data):
  """The dataset's images zero-padded to size x size and repeated to 3 channels."""
  import numpy as np

  def pad(x):
    h, w = x.shape[1:3]
    top, left = (size - h) // 2, (size - w) // 2
    x = np.pad(x, ((0, 0), (top, size - h - top), (left, size - w - left), (0, 0)))
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x

  return data.from_arrays(
    pad(dataset.train_images),
    dataset.train_labels,
    pad(dataset.test_images),
    dataset.test_labels,
    num_classes=dataset.info.num_classes,
    name=f"{dataset.info.name} padded to {size}x{size}x3",
  )


def main(argv):
  del argv
  import jax
  import numpy as np

  config = FLAGS.config
  if config.jax_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(config.jax_cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  from autoal_jax import data, loop, models, train
  from experiments import common

  train_config = train.TrainConfig(**config.train.to_dict())
  search_config = common.search_config(config, train_config)
  dataset = data.load_dataset(config.dataset, config.data_dir or None, config.imbalance_ratio)
  dataset = data.subsample(jax.random.key(0), dataset, config.pool_size, config.test_size)
  if FLAGS.pad_to:
    dataset = _pad(dataset, FLAGS.pad_to, data)
  al_config = loop.ALConfig(config.num_initial, config.query_size, config.quota, config.num_mc)
  model = models.get_model(config.model, dataset.info.num_classes)
  trainer = train.Trainer(model, dataset.info, train_config, config.steps_per_call or None)
  learner = loop.ActiveLearner(dataset, trainer, al_config, search_config)
  names = FLAGS.strategies.split(",")
  print(
    f"{dataset.info.name}: pool {dataset.train_labels.shape[0]}, model {config.model}, "
    f"{al_config.num_initial} initial, b = {al_config.query_size}, search: "
    f"{search_config.steps or 'the objective default (autoal 50, autoal-paper 150)'} steps "
    f"of {search_config.batch_size}, warm-up "
    f"{search_config.warmup.min_steps} steps, SearchNet {search_config.backbone}; "
    f"devices {jax.devices()}",
    flush=True,
  )
  rows = {}
  for name in names:
    state = learner.init(jax.random.key(0), name)
    start = time.perf_counter()
    state, _ = learner.round(state, name)
    first = time.perf_counter() - start
    timings = []
    for _ in range(FLAGS.rounds):
      state, log = learner.round(state, name)
      timings.append([log.train_seconds, log.score_seconds, log.search_seconds, log.pick_seconds])
      print(f"{name} round {log.round} ({log.num_labels} labels): {timings[-1]}", flush=True)
    rows[name] = (np.mean(timings, axis=0), first)

  base = rows[names[0]][0].sum()
  header = "| strategy | " + " | ".join(f"{p} s" for p in PHASES)
  print(f"\n{header} | round s | ratio to {names[0]} | round 0 (compiles) s |")
  print("|---" * (len(PHASES) + 4) + "|")
  for name, (means, first) in rows.items():
    cells = " | ".join(f"{v:.2f}" for v in means)
    print(f"| {name} | {cells} | {means.sum():.2f} | {means.sum() / base:.2f} | {first:.1f} |")


if __name__ == "__main__":
  sys.exit(app.run(main))
