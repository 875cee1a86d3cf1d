"""Turning an experiment config into the library's config objects (shared by the CLI and
the benchmarks; library modules never read configs)."""

from __future__ import annotations


def search_config(config, train_config):
  """The `SearchConfig` described by ``config.search``."""
  from autoal_jax import search, train

  c = config.search

  def net(optimizer, learning_rate):
    return train.TrainConfig(
      optimizer=optimizer,
      learning_rate=learning_rate,
      weight_decay=c.weight_decay,
      schedule="constant",
      eval_chunk=train_config.eval_chunk,
    )

  # Config keys that are SearchConfig fields of the same name and meaning.
  same = (
    "relaxation", "hard", "candidate_signal", "use_loss_prediction", "order", "tau",
    "tau_final", "tau_s", "lambda_fit", "lambda_search", "steps", "batch_size",
    "unroll_learning_rate", "loss_margin", "backbone", "steps_per_call", "gamma",
    "lambda_delta", "lambda_prior", "prior_decay", "eliminate", "guardrail", "fallback",
    "low_budget_per_class", "low_budget_leader", "low_budget_balance", "balance_counts",
  )  # fmt: skip
  return search.SearchConfig(
    **{key: c[key] for key in same},
    candidates=_names(c.candidates),
    leaders=_names(c.leaders),
    # The warm-up trains like the task model (batch size, augmentation, chunks) except in
    # what config.search sets for it: epochs, steps, optimiser, rate, no decay, constant.
    warmup=train_config._replace(
      epochs=c.warmup_epochs,
      min_steps=c.warmup_steps,
      optimizer=c.warmup_optimizer,
      learning_rate=c.warmup_learning_rate,
      weight_decay=0.0,
      schedule="constant",
      loss_prediction=False,
    ),
    fit=net(c.fit_optimizer, c.fit_learning_rate),
    search_net=net(c.search_optimizer, c.search_learning_rate),
    loss_net=net(c.loss_optimizer, c.loss_learning_rate),
  )


def load_dataset(config, cache_dir: str | None, log=print):
  """The `Dataset` an experiment config describes, as the CLI runs on it: loaded, its
  pool and test set subsampled with key 0, as the fixed embedding ``config.inputs`` says
  (`embeddings.as_features`), with the embedding the strategies measure distances on
  (``config.embeddings``). ``cache_dir``: where embedded pools are kept (None: not
  cached); ``log``: progress messages (None: silent). Raises `data.DataNotFoundError`,
  ValueError or TypeError on a config the data cannot satisfy."""
  import jax
  import numpy as np

  from autoal_jax import data
  from autoal_jax import embeddings as embeddings_lib

  # 'inputs': the distances on the fixed embedding the inputs are (--config.inputs), or
  # on a feature dataset's own (standardised) features.
  on_inputs = config.embeddings == "inputs"
  kind, _ = ("model", 0) if on_inputs else embeddings_lib.parse(config.embeddings)
  dataset = data.load_dataset(
    config.dataset, config.data_dir or None, config.imbalance_ratio, seed=0
  )
  if kind in ("model", "npz"):  # a user's rows are the training split's: before subsample
    dataset = embeddings_lib.attach(dataset, "model" if on_inputs else config.embeddings)
  dataset = data.subsample(jax.random.key(0), dataset, config.pool_size, config.test_size)
  ssl = embeddings_lib.SSLConfig(**config.ssl.to_dict())
  # The frozen-feature protocol: pool and test set as a fixed embedding (cached).
  dataset = embeddings_lib.as_features(dataset, config.inputs, cache_dir, ssl, log, on_inputs)
  if on_inputs and config.inputs == "raw":
    if dataset.info.kind != data.FEATURES:
      raise ValueError(
        "embeddings=inputs on images needs --config.inputs=pca, pca:DIM or ssl (the "
        "distances on that fixed embedding); on float features it is the features"
      )
    flat = np.asarray(dataset.train_images, np.float32).reshape(len(dataset.train_labels), -1)
    dataset = dataset._replace(embeddings=flat)
  if kind in ("pca", "ssl"):  # of the pool, once per pool and config (cached)
    dataset = embeddings_lib.attach(dataset, config.embeddings, cache_dir, ssl)
  return dataset


def _names(text: str) -> tuple:
  """'a, b,c' -> ('a', 'b', 'c')."""
  return tuple(n.strip() for n in text.split(",") if n.strip())


def with_new_defaults(stored: dict, config: dict, defaults: dict | None = None) -> dict:
  """``stored`` with each key it lacks that ``config`` sets to the default config's value
  filled in: a key added to the library after those results were written, whose default
  keeps the old behaviour, does not make their workdir another experiment's."""
  if defaults is None:
    from experiments.configs import default

    defaults = default.get_config().to_dict()
  filled = dict(stored)
  for key, value in config.items():
    if key not in defaults:
      continue
    if key not in stored:
      if value == defaults[key]:
        filled[key] = value
    elif isinstance(value, dict) and isinstance(stored[key], dict):
      if isinstance(defaults[key], dict):
        filled[key] = with_new_defaults(stored[key], value, defaults[key])
  return filled
