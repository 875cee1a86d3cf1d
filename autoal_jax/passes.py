"""Forward passes over many images in fixed-size chunks: prediction, evaluation and the
pool pass (with MC-dropout passes and predicted losses) that feeds the strategies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from autoal_jax import data as data_lib
from autoal_jax import sharding
from autoal_jax.types import PoolOutputs

TrainState = Any  # a `train.TrainState` (train imports this module)


def variables_of(params, batch_stats) -> dict:
  return {"params": params, "batch_stats": batch_stats} if batch_stats else {"params": params}


def chunked(fn: Callable, x: jax.Array, chunk: int):
  """Maps ``fn(chunk_index, x_chunk)`` over fixed-size chunks of ``x`` (zero-padded).

  Every output leaf of ``fn`` has the chunk as its leading axis; the results are
  concatenated and trimmed back to ``x.shape[0]`` rows. One shape, one compilation,
  bounded memory whatever the pool size.
  """
  n = x.shape[0]
  num_chunks = -(-n // chunk)
  padded = jnp.pad(x, [(0, num_chunks * chunk - n)] + [(0, 0)] * (x.ndim - 1))
  chunks = padded.reshape(num_chunks, chunk, *x.shape[1:])
  out = jax.lax.map(lambda args: fn(*args), (jnp.arange(num_chunks), chunks))
  return jax.tree.map(lambda y: y.reshape(num_chunks * chunk, *y.shape[2:])[:n], out)


def predict(state: TrainState, images: jax.Array, mean, std, chunk: int, mesh: Mesh | None = None):
  """Deterministic forward pass in chunks: inputs (uint8[N, H, W, Ch] images or float32
  [N, *F] features) -> (logits[N, C], emb[N, D]).

  Each chunk is split over ``mesh``'s devices (none: one device)."""
  chex.assert_rank(images, data_lib.INPUT_RANKS)
  variables = variables_of(state.params, state.batch_stats)

  def forward(_, x):
    x = sharding.constrain_batch(x, mesh)
    return state.apply_fn(variables, data_lib.normalize(x, mean, std), train=False)

  return chunked(forward, images, chunk)


def evaluate(
  state: TrainState, images: jax.Array, labels: jax.Array, mean, std, chunk: int, mesh=None
):
  """Test accuracy: inputs [N, ...] (images or features), labels int32[N] -> float32 scalar."""
  chex.assert_rank([images, labels], [data_lib.INPUT_RANKS, 1])
  logits, _ = predict(state, images, mean, std, chunk, mesh)
  return jnp.mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32))


def pool_outputs(
  state: TrainState,
  key: jax.Array | None,
  images: jax.Array,
  mean,
  std,
  chunk: int,
  num_mc: int = 0,
  head: Callable | None = None,
  predict_loss: bool = False,
  mesh: Mesh | None = None,
) -> PoolOutputs:
  """One chunked pass over the pool, plus ``num_mc`` MC-dropout passes when asked.

  MC passes keep BatchNorm in inference mode and draw an independent dropout mask per
  pass and per sample: pass t of chunk j uses ``fold_in(fold_in(key, t), j)``, so the masks
  are reproducible for a given key and chunk size (a different chunk size draws others).
  With ``head`` (`models.mc_head`) a pass re-runs only the dropout head on the embedding,
  which is the same computation when dropout sits after the embedding, T times cheaper.

  Args:
    state: the trained task model.
    key: PRNG key for the MC passes (unused when ``num_mc`` is 0).
    images: uint8[N, H, W, Ch] or float32[N, *F].
    mean, std: normalisation statistics.
    chunk: examples per chunk.
    num_mc: T, the number of MC-dropout passes (0: none).
    head: ``head(params, embedding, key) -> logits`` or None (whole-network passes).
    predict_loss: the model is a `models.WithLossNet`: also its predicted losses.
    mesh: each chunk is split over its devices (`sharding.constrain_batch`).

  Returns:
    `PoolOutputs` with logits, probs [N, C], embeddings [N, D], mc_probs [T, N, C] or None,
    losses [N] or None.
  """
  chex.assert_rank(images, data_lib.INPUT_RANKS)
  variables = variables_of(state.params, state.batch_stats)
  mc_keys = (
    None if num_mc == 0 else jax.vmap(lambda t: jax.random.fold_in(key, t))(jnp.arange(num_mc))
  )

  def forward(index, x):
    x = data_lib.normalize(sharding.constrain_batch(x, mesh), mean, std)
    if predict_loss:
      logits, embedding, losses = state.apply_fn(variables, x, train=False, predict_loss=True)
      extra = (losses,)
    else:
      (logits, embedding), extra = state.apply_fn(variables, x, train=False), ()
    if num_mc == 0:
      return logits, embedding, *extra

    def mc_pass(pass_key):
      # A key per chunk, so that chunks do not repeat each other's masks.
      chunk_key = jax.random.fold_in(pass_key, index)
      if head is not None:
        return jax.nn.softmax(head(variables["params"], embedding, chunk_key), -1)
      mc_logits, _ = state.apply_fn(
        variables, x, train=False, mc_dropout=True, rngs={"dropout": chunk_key}
      )
      return jax.nn.softmax(mc_logits, -1)

    mc = jnp.swapaxes(jax.vmap(mc_pass)(mc_keys), 0, 1)  # [chunk, T, C]
    return logits, embedding, *extra, mc

  # The outputs stay split over the mesh along N, so that the scores computed from them
  # are data parallel too (the partitioner would otherwise gather them to every device).
  logits, embeddings, *rest = (
    sharding.constrain_batch(x, mesh) for x in chunked(forward, images, chunk)
  )
  losses = rest.pop(0) if predict_loss else None
  mc_probs = jnp.swapaxes(rest[0], 0, 1) if rest else None
  return PoolOutputs(logits, jax.nn.softmax(logits, -1), embeddings, mc_probs, losses)
