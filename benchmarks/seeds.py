r"""Seeds as one vmapped program against seeds one after another: a training step.

  python -m benchmarks.seeds                       # small_cnn and mlp, S = 3
  python -m benchmarks.seeds --models=resnet18 --seeds=2 --steps=3

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


def main(argv):
  del argv
  import jax
  import numpy as np

  from autoal_jax import models, train

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
