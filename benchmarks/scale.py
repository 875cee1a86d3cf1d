r"""Pool size from 50,000 to 1,000,000 embeddings (D = 512): time and memory grow linearly.

  python -m benchmarks.scale                          # N = 50k, 100k, 200k, 500k, 1M
  python -m benchmarks.scale --sizes=50000,100000 --k=200

Each size runs in a fresh subprocess that builds the pool of embeddings (float32 [N, D],
2 GB at 1M; drawn on device in chunks from a 50-component Gaussian mixture), resets the
kernel's peak-RSS mark, then times, after one compiling call:

- score: the pool pass of a linear classifier head in chunks of 8,192 rows (the
  library's `train` chunking), softmax, the entropy score and the top-k pick: what a
  single-pass strategy does with a pool of embeddings;
- kcenter: `strategies.kcenter_greedy` from a labeled set of ``--labeled`` samples,
  ``--k`` picks (distances to the labeled set in chunks, then k farthest-first steps).

The reference is the smallest size of the same run: "x time/N" and "x MB/N" are the
time and the peak memory above the pool itself, per sample, relative to that size (1.0:
exactly linear). "MB" is the peak resident memory above the process's RSS once the pool
exists (VmHWM after a reset; includes compilation).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from absl import app, flags

from benchmarks import memory

flags.DEFINE_string("sizes", "50000,100000,200000,500000,1000000", "Pool sizes N.")
flags.DEFINE_integer("d", 512, "Embedding size D.")
flags.DEFINE_integer("c", 10, "Classes C of the linear head.")
flags.DEFINE_integer("k", 500, "Picks k.")
flags.DEFINE_integer("labeled", 1000, "Labeled samples (k-center's initial centres).")
flags.DEFINE_integer("chunk", 8192, "Rows per chunk of the head pass.")
flags.DEFINE_integer("worker", 0, "Internal: run one size in this process.")
FLAGS = flags.FLAGS


def _best_of(fn, *args, repeats=2):
  import jax

  jax.block_until_ready(fn(*args))  # compiles
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - start)
  return best, out


def _worker(n: int) -> dict:
  import jax
  import jax.numpy as jnp
  import numpy as np

  from autoal_jax import strategies, train

  d, c, k, chunk = FLAGS.d, FLAGS.c, FLAGS.k, FLAGS.chunk
  key = jax.random.key(0)
  centres = jax.random.normal(jax.random.fold_in(key, 1), (50, d)) * 3
  head = jax.random.normal(jax.random.fold_in(key, 2), (d, c)) / np.sqrt(d)

  @jax.jit
  def make_pool(key):
    def rows(index, _):
      k1, k2 = jax.random.split(jax.random.fold_in(key, index))
      which = jax.random.randint(k1, (chunk,), 0, 50)
      return (centres[which] + jax.random.normal(k2, (chunk, d)),)

    return train._chunked(rows, jnp.zeros((n, 1), jnp.int8), chunk)[0]

  embeddings = jax.block_until_ready(make_pool(jax.random.fold_in(key, 3)))
  labeled = np.zeros(n, bool)
  labeled[np.random.default_rng(0).choice(n, FLAGS.labeled, replace=False)] = True
  labeled = jnp.asarray(labeled)
  pick_key = jax.random.fold_in(key, 4)

  @jax.jit
  def score(key, embeddings, labeled):
    def forward(_, x):
      return (jax.nn.softmax(x @ head, -1),)

    (probs,) = train._chunked(forward, embeddings, chunk)
    return strategies.top_k_masked(key, strategies.entropy(probs), ~labeled, k)

  kcenter = jax.jit(lambda e, m: strategies.kcenter_greedy(e, m, k))

  before = memory.reset_peak()
  score_s, picks = _best_of(score, pick_key, embeddings, labeled)
  kcenter_s, centres_picked = _best_of(kcenter, embeddings, labeled, repeats=1)
  for name, chosen in (("score", picks), ("kcenter", centres_picked)):
    chosen = np.asarray(chosen)
    if len(set(chosen.tolist())) != k or np.asarray(labeled)[chosen].any() or chosen.min() < 0:
      raise AssertionError(f"{name} broke the pick contract at N = {n}")
  return {
    "n": n,
    "pool_mb": n * d * 4 / 2**20,
    "score_s": score_s,
    "kcenter_s": kcenter_s,
    "peak_mb": memory.peak_mb() - before,
  }


def main(argv):
  del argv
  if FLAGS.worker:
    print(json.dumps(_worker(FLAGS.worker)))
    return
  passed = [a for a in sys.argv[1:] if not a.startswith("--sizes")]
  rows = []
  for n in (int(s) for s in FLAGS.sizes.split(",")):
    argv = [sys.executable, "-m", "benchmarks.scale", f"--worker={n}", *passed]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
      raise SystemExit(f"N = {n} failed:\n{out.stderr[-3000:]}")
    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"N = {n}: done", file=sys.stderr, flush=True)
  ref = rows[0]
  print(
    f"D = {FLAGS.d}, C = {FLAGS.c}, k = {FLAGS.k}, labeled = {FLAGS.labeled}, chunk {FLAGS.chunk}"
  )
  print("| N | pool MB | score s | x time/N | k-center s | x time/N | peak MB | x MB/N |")
  print("|---|---|---|---|---|---|---|---|")
  for r in rows:
    scale = ref["n"] / r["n"]
    print(
      f"| {r['n']:,} | {r['pool_mb']:,.0f} | {r['score_s']:.3f} | "
      f"{r['score_s'] / ref['score_s'] * scale:.2f} | {r['kcenter_s']:.2f} | "
      f"{r['kcenter_s'] / ref['kcenter_s'] * scale:.2f} | {r['peak_mb']:,.0f} | "
      f"{r['peak_mb'] / ref['peak_mb'] * scale:.2f} |"
    )


if __name__ == "__main__":
  app.run(main)
