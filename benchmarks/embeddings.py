r"""Quality and cost of each fixed pool embedding (`autoal_jax.embeddings`) on one split.

  python -m benchmarks.embeddings                                   # Fashion-MNIST, 20k pool
  python -m benchmarks.embeddings --dataset=digits --pool_size=0 --ssl_steps=300

For each option (the raw inputs, PCA, the SimCLR encoder): the seconds to compute it on
this machine (for ssl: training on the pool and embedding it), and two standard measures
of how well it serves a classifier when every pool label is known: the k-NN test accuracy
(cosine similarity, k = 20, majority vote) and the linear-probe test accuracy (the
library's `linear` model trained on the standardised embedding with every pool label,
Adam, 30 epochs). The coverage strategies measure distances on it, so k-NN is the closer
of the two to what they use.
"""

from __future__ import annotations

import time

import numpy as np
from absl import app, flags

flags.DEFINE_string("dataset", "fashion_mnist", "A dataset name (autoal_jax.load_dataset).")
flags.DEFINE_integer("pool_size", 20_000, "Pool subsample (0: the whole training split).")
flags.DEFINE_integer("test_size", 0, "Test subsample (0: all).")
flags.DEFINE_integer("pca_dim", 50, "PCA components.")
flags.DEFINE_integer("ssl_steps", 600, "SimCLR steps (SSLConfig.steps).")
flags.DEFINE_integer("ssl_batch", 128, "SimCLR images per step.")
flags.DEFINE_string("only", "pixels,pca,ssl", "Options to measure.")
FLAGS = flags.FLAGS


def knn_accuracy(pool, labels, test, test_labels, k: int = 20, chunk: int = 1024) -> float:
  """Cosine k-NN (majority vote, ties to the lowest class) test accuracy."""
  pool = pool / np.maximum(np.linalg.norm(pool, axis=1, keepdims=True), 1e-12)
  test = test / np.maximum(np.linalg.norm(test, axis=1, keepdims=True), 1e-12)
  num_classes = int(labels.max()) + 1
  correct = 0
  for start in range(0, len(test), chunk):
    sims = test[start : start + chunk] @ pool.T
    nearest = np.argpartition(-sims, k, axis=1)[:, :k]
    votes = np.zeros((len(sims), num_classes))
    np.add.at(votes, (np.arange(len(sims))[:, None], labels[nearest]), 1)
    correct += int((votes.argmax(1) == test_labels[start : start + chunk]).sum())
  return correct / len(test)


def probe_accuracy(pool, labels, test, test_labels) -> float:
  """The library's linear model on the standardised embedding, every pool label."""
  import jax
  import jax.numpy as jnp

  from autoal_jax import from_arrays, models, train

  data = from_arrays(pool, labels, test, test_labels)
  model = models.get_model("linear", data.info.num_classes, dropout_rate=0.0)
  config = train.TrainConfig(batch_size=256, epochs=30, learning_rate=1e-2, eval_chunk=4096)
  trainer = train.Trainer(model, data.info, config)
  x, y = jnp.asarray(data.train_images), jnp.asarray(data.train_labels)
  state = trainer.fit(jax.random.key(0), x, y, jnp.ones(len(labels), bool), len(labels))
  accuracy = trainer.evaluate(state, jnp.asarray(data.test_images), jnp.asarray(data.test_labels))
  return float(accuracy)


def main(argv):
  del argv
  import jax

  from autoal_jax import data, embeddings

  dataset = data.load_dataset(FLAGS.dataset)
  dataset = data.subsample(jax.random.key(0), dataset, FLAGS.pool_size, FLAGS.test_size)
  labels, test_labels = dataset.train_labels, dataset.test_labels
  print(
    f"{dataset.info.name}: pool {len(labels)}, test {len(test_labels)}, inputs "
    f"{dataset.info.image_shape}; {jax.device_count()} {jax.default_backend()} device(s)"
  )
  rows = []
  for option in FLAGS.only.split(","):
    start = time.perf_counter()
    if option == "pixels":
      pool = embeddings._flat_inputs(dataset.train_images, dataset.info)
      test = embeddings._flat_inputs(dataset.test_images, dataset.info)
    elif option == "pca":
      project = embeddings.pca(dataset, FLAGS.pca_dim)
      pool, test = project(dataset.train_images), project(dataset.test_images)
    elif option == "ssl":
      config = embeddings.SSLConfig(steps=FLAGS.ssl_steps, batch_size=FLAGS.ssl_batch)
      embed = embeddings.simclr(
        dataset, config, log=lambda i, loss: print(f"  ssl step {i}: loss {loss:.3f}", flush=True)
      )
      pool, test = embed(dataset.train_images), embed(dataset.test_images)
    else:
      raise ValueError(f"unknown option {option!r}")
    seconds = time.perf_counter() - start
    knn = knn_accuracy(pool, labels, test, test_labels)
    probe = probe_accuracy(pool, labels, test, test_labels)
    rows.append((option, pool.shape[1], seconds, knn, probe))
    print(f"  {option}: done in {seconds:.1f} s", flush=True)

  print("\n| embedding | D | seconds | k-NN acc | linear probe acc |\n|---|---|---|---|---|")
  for option, dim, seconds, knn, probe in rows:
    name = {"pca": f"pca:{FLAGS.pca_dim}", "ssl": f"ssl ({FLAGS.ssl_steps} steps)"}.get(
      option, option
    )
    print(f"| {name} | {dim} | {seconds:.1f} | {100 * knn:.2f} | {100 * probe:.2f} |")


if __name__ == "__main__":
  app.run(main)
