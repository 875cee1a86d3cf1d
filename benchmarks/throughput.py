r"""Training and scoring throughput of the task models, and peak device memory.

  python -m benchmarks.throughput                          # small_cnn and resnet18
  python -m benchmarks.throughput --models=mlp --steps=3 --pool=512   # a CPU smoke size

For each model: images per second of the jitted training step (`train.train_steps`, the
trainer's own program, ``steps_per_call`` steps per call as on this backend) and of the
pool pass (`passes.pool_outputs` with T MC-dropout passes, as the strategies need it), on
random uint8 images of the model's usual shape (28x28x1 for the small CNN and the MLP,
32x32x3 for ResNet-18). Compilation is excluded (a warm-up call first). The peak device
memory is the backend's ``peak_bytes_in_use`` so far, read after each model's runs (GPU /
TPU); on CPU
the backend reports none and the column says so.
"""

from __future__ import annotations

import sys
import time

from absl import app, flags

flags.DEFINE_list("models", ["small_cnn", "resnet18"], "Task models to time.")
flags.DEFINE_integer("steps", 20, "Timed training calls per model.")
flags.DEFINE_integer("batch_size", 128, "Training batch size.")
flags.DEFINE_integer("pool", 20_000, "Images of the pool pass.")
flags.DEFINE_integer("num_mc", 10, "T, MC-dropout passes of the pool pass.")
flags.DEFINE_integer("eval_chunk", 2048, "Images per chunk of the pool pass.")
FLAGS = flags.FLAGS


def _peak_bytes(device) -> str:
  stats = device.memory_stats() if hasattr(device, "memory_stats") else None
  if not stats or "peak_bytes_in_use" not in stats:
    return "n/a (not reported on this backend)"
  return f"{stats['peak_bytes_in_use'] / 2**30:.2f}"


def main(argv):
  del argv
  import jax

  device = jax.devices()[0]
  print(f"devices {jax.devices()}; batch {FLAGS.batch_size}, pool {FLAGS.pool}, T {FLAGS.num_mc}")
  print("| model | train images/s | pool pass images/s (with T MC passes) | peak device GiB |")
  print("|---|---|---|---|")
  for name in FLAGS.models:
    train_rate, score_rate = _measure(name)
    print(f"| {name} | {train_rate:,.0f} | {score_rate:,.0f} | {_peak_bytes(device)} |", flush=True)


def _measure(name: str) -> tuple[float, float]:
  """(training images/s, pool-pass images/s) of the task model ``name``."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  from autoal_jax import data, models, train

  shape = (32, 32, 3) if name == "resnet18" else (28, 28, 1)
  rng = np.random.RandomState(0)
  n = max(FLAGS.pool, FLAGS.batch_size)
  images = rng.randint(0, 256, (n, *shape)).astype(np.uint8)
  labels = rng.randint(0, 10, n).astype(np.int32)
  dataset = data.from_arrays(images, labels, images[:8], labels[:8], num_classes=10)
  config = train.TrainConfig(batch_size=FLAGS.batch_size, eval_chunk=FLAGS.eval_chunk)
  trainer = train.Trainer(models.get_model(name, 10), dataset.info, config)
  images, labels = jnp.asarray(images), jnp.asarray(labels)
  key = jax.random.key(0)
  state = trainer.init(key)
  per_call = trainer.steps_per_call
  orders = jnp.stack([trainer.order(key, jnp.ones(n, bool))] * (per_call + 1))
  count, total = jnp.int32(n), jnp.int32(10**9)

  def steps(state, first):
    return trainer.steps(state, key, images, labels, orders, count, jnp.int32(first), total)

  state, _ = steps(state, 0)  # compiles
  jax.block_until_ready(state)
  start = time.perf_counter()
  for call in range(FLAGS.steps):
    state, _ = steps(state, (call + 1) * per_call)
  jax.block_until_ready(state)
  train_rate = FLAGS.steps * per_call * FLAGS.batch_size / (time.perf_counter() - start)
  jax.block_until_ready(trainer.pool_outputs(state, key, images, num_mc=FLAGS.num_mc))
  start = time.perf_counter()
  jax.block_until_ready(trainer.pool_outputs(state, key, images, num_mc=FLAGS.num_mc))
  return train_rate, n / (time.perf_counter() - start)


if __name__ == "__main__":
  sys.exit(app.run(main))
