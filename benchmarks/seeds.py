r"""Seeds as one vmapped program against seeds one after another: a step, or whole runs.

  python -m benchmarks.seeds                       # small_cnn and mlp, S = 3
  python -m benchmarks.seeds --models=resnet18 --seeds=2 --steps=3
  python -m benchmarks.seeds --mode=runs --config=experiments/configs/compare.py:digits \
      --config.model=mlp --sizes=1,4,16           # whole runs: the MLP on digits
  python -m benchmarks.seeds --mode=runs --config=experiments/configs/demo.py --sizes=1,4
  python -m benchmarks.seeds --mode=runs --sizes=1,4,16 --warm_max=4  # the small CNN, demo

``--mode=runs`` times whole active-learning runs of ``--strategy`` on the experiment of
``--config``: S seeds one after another (`ActiveLearner.run`, the host-driven path the
CLI takes: per-step dispatch on CPU) against the same S seeds as one vmapped program per
round (`ActiveLearner.run_seeds`), each first cold (compiling; no persistent cache) and
then warm. The ratio is the vmapped warm time over the sequential warm time: below 1 the
vmapped runs are faster; the last column is the vmapped warm time over one seed's warm
run (the GPU target of 16 seeds: at most 3). The round-0 model cache is cleared before
every timing. Above ``--warm_max`` seeds the vmapped runs are timed once, cold, and that
time stands in the warm column too (marked ``cold``).

Times one jitted `train.train_step` (batch 64, Fashion-MNIST-shaped 28x28x1 inputs, or
32x32x3 for resnet18) for one seed, and `jax.vmap` of it over S seeds (S models, S
batches: what running S seeds of an experiment as one program would execute per step).
The ratio is the vmapped step's time over S single steps: below 1 the vmapped program
is faster, above 1 slower. Compilation is excluded (a warm-up call first).
"""

from __future__ import annotations

import functools
import sys
import time

from absl import app, flags
from ml_collections import config_flags

flags.DEFINE_enum("mode", "step", ["step", "runs"], "A training step, or whole runs.")
config_flags.DEFINE_config_file(
  "config", "experiments/configs/demo.py", "Experiment config (--mode=runs).", lock_config=True
)
flags.DEFINE_list("sizes", ["1", "4", "16"], "Numbers of seeds S (--mode=runs).")
flags.DEFINE_string("strategy", "margin", "The strategy of the runs (--mode=runs).")
flags.DEFINE_integer(
  "warm_max",
  1 << 30,
  "Above this S the vmapped runs are timed once, cold (--mode=runs): their compile is a "
  "small part of long runs, and a warm repeat would double the table's cost.",
)
flags.DEFINE_list("models", ["small_cnn", "mlp"], "Task models to time.")
flags.DEFINE_integer("seeds", 3, "S, the seeds of the vmapped program.")
flags.DEFINE_integer("steps", 20, "Timed calls per measurement.")
flags.DEFINE_integer("batch_size", 64, "Examples per step and seed.")
FLAGS = flags.FLAGS


def _time(fn, args, steps):
  import jax

  jax.block_until_ready(fn(*args))
  start = time.perf_counter()
  for _ in range(steps):
    out = fn(*args)
  jax.block_until_ready(out)
  return (time.perf_counter() - start) / steps


def _learner(config):
  """The `ActiveLearner` of an experiment config (as the CLI builds it, one device)."""
  import jax

  from autoal_jax import data, loop, models, sharding, train
  from experiments import common

  train_config = train.TrainConfig(**config.train.to_dict())
  search_config = common.search_config(config, train_config)
  dataset = data.load_dataset(
    config.dataset, config.data_dir or None, config.imbalance_ratio, seed=0
  )
  dataset = data.subsample(jax.random.key(0), dataset, config.pool_size, config.test_size)
  model = models.get_model(config.model, dataset.info.num_classes)
  trainer = train.Trainer(
    model, dataset.info, train_config, config.steps_per_call or None, sharding.make_mesh(1)
  )
  al_config = loop.ALConfig(config.num_initial, config.query_size, config.quota, config.num_mc)
  learner = loop.ActiveLearner(
    dataset, trainer, al_config, search_config, candidates=search_config.candidates
  )
  return learner, dataset


def runs(config, sizes, strategy, warm_max=1 << 30):
  """The whole-run table (``--mode=runs``)."""
  import jax

  learner, dataset = _learner(config)
  al = learner.config
  print(
    f"{dataset.info.name}: pool {dataset.train_labels.shape[0]}, model {config.model}, "
    f"{al.num_initial} + {al.num_rounds} x {al.query_size}, {strategy}, {jax.devices()}"
  )
  keys = jax.random.split(jax.random.key(0), max(sizes))

  def sequential(num):
    learner._first_models.clear()
    start = time.perf_counter()
    for s in range(num):
      state, _ = learner.run(keys[s], strategy)
    jax.block_until_ready(state)
    return time.perf_counter() - start

  def vmapped(num):
    learner._first_models.clear()
    start = time.perf_counter()
    states, _ = learner.run_seeds(keys[:num], strategy)
    jax.block_until_ready(states)
    return time.perf_counter() - start

  cold = sequential(1)
  one = sequential(1)
  print(f"one seed, host-driven: {cold:.1f} s cold (compiling), {one:.1f} s warm")
  print(
    "| S | one after another s | vmapped s (cold: compiling) | vmapped s | ratio "
    "| vmapped / one seed |"
  )
  print("|---|---|---|---|---|---|")
  for num in sizes:
    seq = sequential(num)
    first = vmapped(num)
    warm = vmapped(num) if num <= warm_max else first
    mark = "" if num <= warm_max else " (cold)"
    print(
      f"| {num} | {seq:.1f} | {first:.1f} | {warm:.1f}{mark} | {warm / seq:.2f} "
      f"| {warm / one:.2f} |",
      flush=True,
    )


def main(argv):
  del argv
  import jax
  import numpy as np

  from autoal_jax import models, train

  if FLAGS.mode == "runs":
    return runs(FLAGS.config, [int(x) for x in FLAGS.sizes], FLAGS.strategy, FLAGS.warm_max)

  s, b = FLAGS.seeds, FLAGS.batch_size
  print(f"S = {s} seeds, batch {b} per seed, devices {jax.devices()}")
  print("| model | one seed ms/step | S vmapped ms/step | S one after another ms | ratio |")
  print("|---|---|---|---|---|")
  for name in FLAGS.models:
    shape = (32, 32, 3) if name == "resnet18" else (28, 28, 1)
    model = models.get_model(name, 10)
    config = train.TrainConfig(batch_size=b)
    init = functools.partial(
      train.init_train_state, model=model, tx=train.make_optimizer(config), image_shape=shape
    )
    step = functools.partial(train.train_step, mean=(0.5,), std=(0.25,), config=config)
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (s, b, *shape)).astype(np.uint8)
    labels = rng.randint(0, 10, (s, b)).astype(np.int32)
    weights = np.ones((s, b), np.float32)
    keys = jax.random.split(jax.random.key(0), s)
    one = _time(
      jax.jit(step),
      (jax.jit(init)(keys[0]), keys[0], images[0], labels[0], weights[0]),
      FLAGS.steps,
    )
    states = jax.jit(jax.vmap(init))(keys)
    many = _time(jax.jit(jax.vmap(step)), (states, keys, images, labels, weights), FLAGS.steps)
    print(
      f"| {name} | {1e3 * one:.1f} | {1e3 * many:.1f} | {1e3 * s * one:.1f} | "
      f"{many / (s * one):.2f} |",
      flush=True,
    )


if __name__ == "__main__":
  sys.exit(app.run(main))
