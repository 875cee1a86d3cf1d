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
