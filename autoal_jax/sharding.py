"""Data parallelism over a device mesh: one ``batch`` axis over the devices.

The task model's training batches and the chunks of every pool pass (forward, MC
dropout, predicted losses) are split over the mesh with `constrain_batch`; parameters,
optimiser states, the pool and the run's state are replicated (`replicate`). XLA's SPMD
partitioner then runs each device on its slice and all-reduces the gradients. The pool
outputs stay split along N, so every per-sample score is data parallel as well; the
pickers' reductions (top_k, argmax, the k-center distances) are partitioned by XLA.

On several hosts, call `jax.distributed.initialize()` first (the CLI does with
``config.distributed``); `make_mesh` then spans every process's devices, the same code
shards across hosts, and `to_host` reads replicated values on each process.

A mesh of one device adds no constraint at all: the programs are those of a plain
single-device run. With the default ``jax_threefry_partitionable`` random bits do not
depend on the sharding, so the same key draws the same dropout masks on any mesh.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

BATCH = "batch"


def make_mesh(num_devices: int = 0) -> Mesh:
  """A 1-D mesh (axis ``batch``) over the first ``num_devices`` devices (0: all of them,
  across every process after `jax.distributed.initialize`).

  Raises:
    ValueError: more devices asked for than exist, or a negative count.
  """
  devices = jax.devices()
  if num_devices < 0 or num_devices > len(devices):
    raise ValueError(
      f"num_devices must be in [0, {len(devices)}] (0: all {len(devices)} devices of "
      f"{jax.default_backend()}), got {num_devices}"
    )
  return Mesh(np.asarray(devices[: num_devices or len(devices)]), (BATCH,))


def constrain_batch(x: jax.Array, mesh: Mesh | None) -> jax.Array:
  """Splits ``x``'s leading (batch) axis over the mesh (inside jit); no-op on one device.

  The batch need not divide the device count (XLA pads the last shard), though equal
  shards waste nothing.
  """
  if mesh is None or mesh.size == 1:
    return x
  spec = P(BATCH, *([None] * (x.ndim - 1)))
  return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))


def replicated(mesh: Mesh) -> NamedSharding:
  """The sharding of an array copied to every device of ``mesh``."""
  return NamedSharding(mesh, P())


def replicate(tree, mesh: Mesh | None):
  """Every array leaf of ``tree`` copied to every device of the mesh (host arrays too).

  On several processes each must pass the same values (it is how the pool and the run's
  state start: from the same files and seeds everywhere).
  """
  if mesh is None:
    return tree
  sharding = replicated(mesh)

  def put(x):
    if x is None:
      return None
    if jax.process_count() == 1:
      return jax.device_put(x, sharding)
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      data = put(jax.random.key_data(x))
      return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

  return jax.tree.map(put, tree)


def to_host(x) -> np.ndarray:
  """A replicated (or single-process) array as a NumPy array, on every process."""
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    if not x.is_fully_replicated:
      raise ValueError(f"to_host needs a replicated array, got sharding {x.sharding}")
    x = x.addressable_data(0)
  return np.asarray(x)
