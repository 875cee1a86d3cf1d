r"""Runs an active-learning experiment: every strategy x every seed, then the AUBC table.

  python -m experiments.main --config=experiments/configs/default.py --workdir=runs/default \
      --config.strategies=random,entropy --config.seeds=3

Writes to the workdir, atomically and after every finished run: results.json, curves.csv
and learning_curve.png (and strategy_weights.png when AutoAL's strategies run); after
every round, an orbax checkpoint of the run's whole state in checkpoints/STRATEGY-seedS.
Running the same command again skips the finished runs and resumes an interrupted one
from its last complete round, with exactly the results of an uninterrupted run; a
workdir holding results or checkpoints of another config is refused before any training.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time

from absl import app, flags, logging
from ml_collections import config_flags

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Path to a config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Folder for results.json, curves.csv and the plots.")
flags.mark_flags_as_required(["config", "workdir"])

# Config keys that may differ between invocations sharing a workdir: which runs to do,
# where the compilation cache lives, how many devices share the work and whether seeds run
# vmapped do not change any run's result (the device count up to float rounding: the same
# picks, tested; vmapped seeds: the same picks and accuracies, tested).
_FREE_KEYS = (
  "strategies", "seeds", "jax_cache_dir", "vmap_seeds", "embeddings_cache",
  "num_devices", "distributed", "coordinator_address", "num_processes", "process_id",
)  # fmt: skip


def _experiment_identity(config: dict) -> dict:
  return {k: v for k, v in config.items() if k not in _FREE_KEYS}


def _load_previous(workdir: str, config: dict) -> list[dict]:
  """Finished runs of this config in the workdir; refuses results of another config."""
  path = os.path.join(workdir, "results.json")
  if not os.path.exists(path):
    return []
  try:
    with open(path) as f:
      previous = json.load(f)
    stored = previous["config"]
    runs = previous["runs"]
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise SystemExit(
      f"error: {path} exists but is not a readable results file ({e}). Nothing was changed; "
      "move it away or choose another --workdir."
    ) from None
  from experiments import common

  old, new = _experiment_identity(stored), _experiment_identity(config)
  old = common.with_new_defaults(old, new)
  if old != new:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    raise SystemExit(
      f"error: {workdir} holds results of another config (differs in: {', '.join(keys)}). "
      "Nothing was changed; choose another --workdir or move the old results away."
    )
  return runs


def _parse_strategies(text: str) -> list[str]:
  from autoal_jax import strategies

  names = [name.strip() for name in text.split(",") if name.strip()]
  if not names:
    raise SystemExit("error: --config.strategies is empty")
  for name in names:
    try:
      strategies.get(name)
    except ValueError as e:
      raise SystemExit(f"error: {e}") from None
  if len(set(names)) != len(names):
    raise SystemExit(f"error: a strategy is listed twice in {text!r}")
  return names


def _check(condition: bool, message: str) -> None:
  if not condition:
    raise SystemExit(f"error: {message}")


def _run_one(learner, name: str, seed: int, checkpointer) -> dict:
  """One strategy and seed from the initial set to the quota (resumed from
  ``checkpointer``'s last round when it has one), with progress bars."""
  import jax
  from tqdm.auto import tqdm

  from experiments import reporting

  al_config = learner.config
  weight_names = learner.strategy(name).weight_names
  # Bars only where a person watches; in a log, the per-round lines and the summary.
  quiet = not sys.stderr.isatty()
  rounds = tqdm(
    total=al_config.num_rounds + 1, desc=f"{name} seed {seed}", unit="round", disable=quiet
  )
  epochs = None

  def progress(epoch, total, loss):
    nonlocal epochs
    if epochs is None:
      epochs = tqdm(total=total, desc="  training", unit="epoch", leave=False, disable=quiet)
    epochs.update(epoch - epochs.n)
    epochs.set_postfix(loss=f"{loss:.3f}")
    if epoch == total:
      epochs.close()
      epochs = None

  def on_round(log):
    bought = ""
    if log.round < al_config.num_rounds:
      k = al_config.round_size(log.round)
      bought = f", bought {k}"
      if k < al_config.query_size:
        bought += f" (last round: the {k} labels left of the quota {al_config.quota})"
    rounds.write(
      f"{name} seed {seed} round {log.round}/{al_config.num_rounds}: {log.num_labels} labels, "
      f"accuracy {log.accuracy:.4f}, train {log.train_seconds:.1f}s, "
      f"query {log.query_seconds:.1f}s{bought}"
    )
    entry = reporting.info_entry(log.info, weight_names)
    if entry is not None:
      rounds.write(f"  {name} {reporting.format_info(entry, log.search_seconds)}")
    rounds.update(1)

  resumed = checkpointer.latest_round()
  if resumed:
    rounds.write(f"{name} seed {seed}: resuming after round {resumed - 1} from its checkpoint")
  state, logs = learner.run(jax.random.key(seed), name, on_round, progress, checkpointer)
  rounds.close()
  return _run_result(name, seed, state, logs, weight_names)


def _run_result(name: str, seed: int, state, logs, weight_names) -> dict:
  """A finished run's results.json entry."""
  from autoal_jax import loop
  from experiments import reporting

  result = loop.summarize(state)
  searched = [reporting.info_entry(log.info, weight_names) for log in logs[:-1]]
  searched = [entry for entry in searched if entry is not None]
  return {
    "strategy": name,
    "seed": seed,
    "labels": [log.num_labels for log in logs],
    "accuracy": [log.accuracy for log in logs],
    "aubc": result["aubc"],
    "f_acc": result["f_acc"],
    "seconds": {
      "train": [log.train_seconds for log in logs],
      "query": [log.query_seconds for log in logs],
      "score": [log.score_seconds for log in logs],
      "search": [log.search_seconds for log in logs],
      "pick": [log.pick_seconds for log in logs],
    },
    "picks": [log.picks.tolist() for log in logs[:-1]],
    **({"search": searched} if searched else {}),
  }


def _run_seeds(learner, name: str, seeds: list[int], checkpointer) -> list[dict]:
  """The seeds of one strategy as one vmapped program per round (``vmap_seeds``), resumed
  from ``checkpointer``'s last round when it has one; one results entry per seed."""
  import jax
  import jax.numpy as jnp

  from experiments import reporting

  al_config = learner.config
  weight_names = learner.strategy(name).weight_names
  label = f"{name} seeds {seeds[0]}-{seeds[-1]} (vmapped)"
  resumed = checkpointer.latest_round()
  if resumed:
    print(f"{label}: resuming after round {resumed - 1} from its checkpoint", flush=True)

  def on_round(r, logs):
    accuracy = ", ".join(f"{log.accuracy:.4f}" for log in logs)
    print(
      f"{label} round {r}/{al_config.num_rounds}: {logs[0].num_labels} labels, accuracy "
      f"{accuracy}, {logs[0].train_seconds:.1f}s for the {len(logs)} seeds",
      flush=True,
    )
    for seed, log in zip(seeds, logs, strict=True):
      entry = reporting.info_entry(log.info, weight_names)
      if entry is not None:
        print(f"  {name} seed {seed} {reporting.format_info(entry, 0.0)}", flush=True)

  keys = jnp.stack([jax.random.key(seed) for seed in seeds])
  states, logs = learner.run_seeds(keys, name, on_round, checkpointer)
  return [
    _run_result(name, seed, jax.tree.map(lambda x, i=i: x[i], states), logs[i], weight_names)
    for i, seed in enumerate(seeds)
  ]


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:  # orbax logs every save at INFO
    logging.set_verbosity(logging.WARNING)
  config = FLAGS.config
  workdir = FLAGS.workdir
  config_dict = config.to_dict()

  # Everything that can be checked without data or compute, first.
  import jax
  import jax.numpy as jnp

  if config.distributed:  # before any other JAX call
    # CPU processes talk through gloo (GPU and TPU ignore this setting).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
      coordinator_address=config.coordinator_address or None,
      num_processes=config.num_processes or None,
      process_id=None if config.process_id < 0 else config.process_id,
    )
  if config.jax_cache_dir:
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(config.jax_cache_dir))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

  from autoal_jax import checkpoint, data, loop, models, search, sharding, train
  from experiments import common, reporting

  names = _parse_strategies(config.strategies)
  _check(config.seeds >= 1, f"seeds must be >= 1, got {config.seeds}")
  _check(
    config.model in models.MODELS,
    f"Unknown model {config.model!r}. Valid models: {sorted(models.MODELS)}",
  )
  train_config = train.TrainConfig(**config.train.to_dict())
  try:
    mesh = sharding.make_mesh(config.num_devices)
    train.make_optimizer(train_config)  # checks the optimizer and schedule names
    search_config = common.search_config(config, train_config)
    if any(name in search.STRATEGIES for name in names):  # only where it is used
      search.check_config(search_config)
  except ValueError as e:
    raise SystemExit(f"error: {e}") from None
  try:  # a real write: os.access says yes to root on a read-only file system
    os.makedirs(workdir, exist_ok=True)
    with tempfile.TemporaryFile(dir=workdir):
      pass
  except OSError as e:
    raise SystemExit(f"error: the workdir {workdir} is not writable ({e})") from None
  previous = _load_previous(workdir, config_dict)

  try:
    cache = os.path.expanduser(config.embeddings_cache) if config.embeddings_cache else None
    dataset = common.load_dataset(config, cache, print)
  except (data.DataNotFoundError, ValueError, TypeError) as e:
    raise SystemExit(f"error: {e}") from None
  al_config = loop.ALConfig(config.num_initial, config.query_size, config.quota, config.num_mc)
  try:
    model = models.get_model(config.model, dataset.info.num_classes)
    init_variables = None
    if config.pretrained:  # a user's weights, never a download
      like = model.init(jax.random.key(0), jnp.zeros((1, *dataset.info.image_shape)))
      init_variables = models.load_variables(os.path.expanduser(config.pretrained), like)
    _check(
      init_variables is not None or not train_config.freeze_backbone,
      "train.freeze_backbone needs pretrained weights (--config.pretrained=PATH)",
    )
    trainer = train.Trainer(
      model,
      dataset.info,
      train_config,
      config.steps_per_call or None,
      mesh=mesh,
      init_variables=init_variables,
    )
    learner = loop.ActiveLearner(
      dataset, trainer, al_config, search_config, candidates=search_config.candidates
    )
    _check(
      not config.vmap_seeds or mesh.size == 1,
      f"vmap_seeds runs on one device: add --config.num_devices=1 (the mesh has {mesh.size})",
    )
    for name in names:
      learner.check_strategy(name)
  except (ValueError, TypeError, OSError) as e:
    raise SystemExit(f"error: {e}") from None

  print(
    f"{dataset.info.name}: pool {dataset.train_labels.shape[0]}, test "
    f"{dataset.test_labels.shape[0]}, {dataset.info.num_classes} classes, {dataset.info.kind} "
    f"{dataset.info.image_shape}; model {config.model}; {al_config.num_initial} initial + "
    f"{al_config.quota} queried in {al_config.num_rounds} rounds of {al_config.query_size}; "
    f"data parallel over {mesh.size} of {len(jax.devices())} {jax.default_backend()} devices"
    f" ({jax.process_count()} processes)",
    flush=True,
  )
  wanted = [(name, seed) for name in names for seed in range(config.seeds)]
  done = {(run["strategy"], run["seed"]): run for run in previous}
  identity = {
    "config": _experiment_identity(config_dict),
    "dataset": data.fingerprint(dataset),
  }
  checkpointers = {
    (name, seed): checkpoint.RunCheckpointer(
      os.path.join(workdir, "checkpoints", f"{name}-seed{seed}"),
      {**identity, "strategy": name, "seed": seed},
    )
    for name, seed in wanted
  }
  # vmap_seeds: a strategy's unfinished seeds run together (two or more, a traceable
  # query), checkpointed together in checkpoints/STRATEGY-seedsA-B-...
  grouped, group_checkpointers = {}, {}
  for name in names if config.vmap_seeds else ():
    todo = [seed for seed in range(config.seeds) if (name, seed) not in done]
    if len(todo) < 2:
      continue
    for seed in todo:
      grouped[name, seed] = todo
    group_checkpointers[name] = checkpoint.RunCheckpointer(
      os.path.join(workdir, "checkpoints", f"{name}-seeds{'-'.join(map(str, todo))}"),
      {**identity, "strategy": name, "seeds": todo},
    )
  try:  # every checkpoint this invocation would resume, before any training
    for checkpointer in group_checkpointers.values():
      checkpointer.check()
    for run_key, checkpointer in checkpointers.items():
      if run_key not in done and run_key not in grouped:
        checkpointer.check()
  except checkpoint.CheckpointError as e:
    raise SystemExit(f"error: {e}") from None
  # Every finished run stays in results.json from the first save on: those of a strategy
  # later in the list too (until 2026-12-04 they were re-added only when their turn came,
  # so a run killed before then left them out of the file).
  runs = list(previous)
  title = f"{dataset.info.name}, {config.model}"

  def save():
    if jax.process_index() != 0:  # on several hosts, one writes
      return reporting.summarize_runs(runs)
    try:
      summary = reporting.write_results(workdir, config_dict, runs)
      reporting.plot_learning_curves(os.path.join(workdir, "learning_curve.png"), runs, title)
      if any(reporting.has_weights(run) for run in runs):
        path = os.path.join(workdir, "strategy_weights.png")
        reporting.plot_strategy_weights(path, runs, title)
    except OSError as e:
      raise SystemExit(
        f"error: could not write the results in {workdir} ({e}). The files there are whole "
        "(each is replaced atomically) and every run's checkpoint is kept: fix the cause and "
        "run the same command again to finish."
      ) from None
    return summary

  start_all = time.perf_counter()
  for name, seed in wanted:
    if (name, seed) in done:
      print(f"{name} seed {seed}: already in {workdir}, skipped", flush=True)
      continue
    if (name, seed) in grouped:
      if seed != grouped[name, seed][0]:
        continue  # ran with the group's first seed
      seeds = grouped[name, seed]
      try:
        runs.extend(_run_seeds(learner, name, seeds, group_checkpointers[name]))
      except checkpoint.CheckpointError as e:
        raise SystemExit(f"error: {e}") from None
      save()
      continue
    try:
      runs.append(_run_one(learner, name, seed, checkpointers[name, seed]))
    except checkpoint.CheckpointError as e:
      raise SystemExit(f"error: {e}") from None
    save()

  summary = save()
  print(
    f"\nwrote {workdir}/results.json, curves.csv, learning_curve.png "
    f"({time.perf_counter() - start_all:.0f}s)"
  )
  print(f"\n{reporting.format_table(summary)}", flush=True)


# absl's words for a value it could not convert, and the type each means.
_TYPE_WORDS = (("int()", "int"), ("float", "float"), ("boolean", "bool (true or false)"))


def _parse_flags(argv):
  """absl's parsing, with a config typo or a wrong-typed value as one line instead of a
  traceback."""
  try:
    return FLAGS(argv)
  except flags.IllegalFlagValueError as e:
    text = str(e)
    match = re.match(r"flag --config\.([\w.]+)=(.*?): ", text)
    if match is None:
      raise SystemExit(f"error: {text}") from None
    field, value = match.groups()
    expected = next((t for word, t in _TYPE_WORDS if word in text), None)
    what = f"expected {expected}" if expected else text[match.end() :]
    raise SystemExit(f"error: config field {field!r} got {value!r}: {what}") from None
  except (AttributeError, KeyError) as e:  # ml_collections: a field the config lacks
    text = str(e.args[0] if e.args else e)
    name = re.search(r"[\w.]+", text)
    hint = re.search(r'Did you mean "([^"]+)"', text)
    raise SystemExit(
      f"error: unknown config field {name.group(0) if name else text!r}"
      + (f"; did you mean {hint.group(1)!r}?" if hint else "")
      + " (the config is locked: a field cannot be added from the command line)"
    ) from None


if __name__ == "__main__":
  sys.exit(app.run(main, flags_parser=_parse_flags))
