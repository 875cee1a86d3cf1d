"""Orbax save / restore of a run's whole active-learning state, after every round.

A `RunCheckpointer` owns one run's folder (one strategy, one seed). After each round the
loop saves the `loop.ALState` (labeled mask, round, key, curves, picks and the strategy's
search state: AutoAL's networks and optimiser states, ALBL's bandit) as arrays, and the
`loop.RoundLog`s so far plus the run's identity as JSON. Orbax writes a step into a
temporary folder and renames it when complete, so a run killed at any moment leaves the
previous round's checkpoint intact; only the newest complete step is kept.

Restoring checks the identity first (config, strategy, seed, dataset fingerprint): a
checkpoint of anything else is a `CheckpointError` naming what differs, never a silent
restart or a mix of two runs. Every round derives its keys from the state's key and the
round index, so a resumed run repeats the uninterrupted one exactly.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from autoal_jax.types import QueryInfo

_ITEMS = ("state", "meta")


class CheckpointError(RuntimeError):
  """A checkpoint cannot be used (foreign, corrupt or unwritable); the message says why
  and what to do, and nothing on disk was changed."""


def log_to_json(log) -> dict:
  """A `loop.RoundLog` as a JSON-able dict (exact: floats survive JSON's round trip)."""
  out = log._asdict()
  out["picks"] = np.asarray(log.picks).tolist()
  if log.info is not None:
    info = log.info._asdict()
    info["weights"] = np.asarray(info["weights"], np.float64).tolist()
    info["reward"] = None if math.isnan(info["reward"]) else info["reward"]
    out["info"] = info
  return out


def log_from_json(entry: dict, log_type):
  """The `loop.RoundLog` (``log_type``) that `log_to_json` wrote."""
  entry = dict(entry)
  entry["picks"] = np.asarray(entry["picks"], np.int32)
  if entry.get("info") is not None:
    info = dict(entry["info"])
    info["weights"] = np.asarray(info["weights"], np.float32)
    info["reward"] = float("nan") if info["reward"] is None else info["reward"]
    entry["info"] = QueryInfo(**info)
  return log_type(**entry)


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
  """Dotted keys whose values differ between two JSON-like dicts."""
  if isinstance(old, dict) and isinstance(new, dict):
    out = []
    for key in sorted(set(old) | set(new)):
      out += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
    return out
  return [] if old == new else [prefix.rstrip(".")]


def _unreadable(where: str, error: Exception) -> CheckpointError:
  return CheckpointError(
    f"the checkpoint {where} cannot be read ({type(error).__name__}: {error}). Nothing was "
    "changed; delete that folder to rerun this run from its start."
  )


def _round_of(state) -> int:
  """The complete rounds of a run's state (of seeds run together: all at the same round)."""
  rounds = np.unique(np.asarray(jax.device_get(state.round)))
  if rounds.size != 1:
    raise CheckpointError(f"the seeds of one checkpoint must be at one round, got {rounds}")
  return int(rounds[0])


def _logs_to_json(logs) -> list:
  if logs and isinstance(logs[0], list):  # one list per seed
    return [[log_to_json(log) for log in seed_logs] for seed_logs in logs]
  return [log_to_json(log) for log in logs]


def _logs_from_json(entries, log_type) -> list:
  if entries and isinstance(entries[0], list):
    return [[log_from_json(entry, log_type) for entry in seed] for seed in entries]
  return [log_from_json(entry, log_type) for entry in entries]


class RunCheckpointer:
  """Save and restore of one run's `loop.ALState` and logs in ``directory``.

  Args:
    directory: the run's folder (created on the first save).
    identity: JSON-able dict that a resumed run must match exactly (the experiment config,
      strategy, seed, dataset fingerprint).
  """

  def __init__(self, directory: str, identity: dict):
    self.directory = os.path.abspath(directory)
    self.identity = identity
    self._manager = None
    self._meta = None

  def _open(self) -> ocp.CheckpointManager:
    if self._manager is None:
      # What a killed or failed save left behind. Orbax's own cleanup fails when a failed
      # save's writer threads still run in this process; what they write later is ignored.
      # With several processes, orbax's cleanup, which they coordinate, does it instead.
      single = jax.process_count() == 1
      if single and os.path.isdir(self.directory):
        for name in os.listdir(self.directory):
          if ".orbax-checkpoint-tmp" in name:
            shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)
      options = ocp.CheckpointManagerOptions(
        max_to_keep=1,
        create=True,
        enable_async_checkpointing=False,  # a round is minutes; a synchronous save is ~50 ms
        cleanup_tmp_directories=not single,
      )
      self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=_ITEMS)
    return self._manager

  def latest_round(self) -> int | None:
    """The number of complete rounds in the newest checkpoint, or None when there is none."""
    if not os.path.isdir(self.directory):
      return None
    return self._open().latest_step()

  def save(self, state, logs) -> None:
    """Saves ``state`` (after ``state.round`` complete rounds) and its logs.

    Seeds run as one program (`loop.ActiveLearner.run_seeds`) save the same way: a state
    with a leading seed axis (every seed at the same round) and a list of logs per seed.

    Raises:
      CheckpointError: the write failed (full disk, no permission); the previous
        checkpoint is intact.
    """
    meta = {"identity": self.identity, "logs": _logs_to_json(logs)}
    step = _round_of(state)
    try:
      self._open().save(
        step,
        args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
        force=True,
      )  # blocking: the manager is synchronous
    except Exception as e:
      self.close()  # a fresh manager re-reads the folder on the next call
      raise CheckpointError(
        f"could not write the checkpoint of round {step - 1} to {self.directory}: {e}. The "
        f"previous checkpoint ({self.latest_round()} rounds) is intact; fix the cause and "
        "run the same command again to resume from it."
      ) from e

  def check(self) -> int | None:
    """The newest checkpoint's round count (None when there is none), after checking that
    it is readable and of this run: cheap, so that a CLI can check every run before any
    compute.

    Raises:
      CheckpointError: the checkpoint belongs to another run or cannot be read.
    """
    step = self.latest_round()
    if step is None:
      return None
    where = os.path.join(self.directory, str(step))
    try:
      meta = self._open().restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
      identity = meta["identity"]
      self._meta = {"logs": list(meta["logs"])}
    except Exception as e:
      raise _unreadable(where, e) from e
    if identity != self.identity:
      keys = ", ".join(_differences(identity, self.identity)) or "?"
      raise CheckpointError(
        f"the checkpoint in {self.directory} belongs to another run (differs in: {keys}). "
        "Nothing was changed; choose another workdir or move the old one away."
      )
    return step

  def restore(self, template: Any, log_type) -> tuple[Any, list] | None:
    """The newest checkpoint's (state, logs), or None when the folder holds none.

    Args:
      template: an `ALState` of the run's shapes and dtypes (its initial state: the
        structure never changes); its values are not used.
      log_type: the class of the logs (`loop.RoundLog`).

    Raises:
      CheckpointError: the checkpoint belongs to another run (config, strategy, seed or
        dataset) or cannot be read.
    """
    step = self.check()
    if step is None:
      return None
    where = os.path.join(self.directory, str(step))
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    try:
      logs = _logs_from_json(self._meta["logs"], log_type)
      state = self._manager.restore(
        step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
      ).state
    except Exception as e:
      raise _unreadable(where, e) from e
    per_seed = logs if logs and isinstance(logs[0], list) else [logs]
    if _round_of(state) != step or any(len(seed_logs) != step for seed_logs in per_seed):
      raise CheckpointError(
        f"the checkpoint {where} is inconsistent (round {_round_of(state)}, "
        f"{[len(x) for x in per_seed]} logs, step {step}). Nothing was changed; delete that "
        "folder to rerun this run."
      )
    return state, logs

  def close(self) -> None:
    if self._manager is not None:
      with contextlib.suppress(Exception):
        self._manager.close()
      self._manager = None
