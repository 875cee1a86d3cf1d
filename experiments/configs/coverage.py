"""The low-budget coverage suite: the coverage strategies against margin, TypiClust and
random at a few labels per class, on one dataset, one budget and one pool embedding.

The argument is ``DATASET,LABELS_PER_CLASS``: the initial set and every query are
LABELS_PER_CLASS x C labels, six queries (seven evaluations, from m to 7m labels per
class). The embedding the coverage strategies measure distances on is
``--config.embeddings`` (model | pca | ssl | npz:PATH; docs/results.md, "Coverage at low
budgets", runs each):

  python -m experiments.main --config=experiments/configs/coverage.py:digits,2 \
      --config.embeddings=pca --workdir=runs/coverage/digits-2-pca

Datasets: ``digits`` (the whole 1,297-image pool, the small CNN at its default training)
and ``fashion_mnist`` (the default config's 20,000-image pool and training). Five seeds.
Expected runtime on 2 CPU cores: about 4 minutes for digits at 2 labels per class with
pca (7 strategies x 5 seeds), longer with ssl (the encoder trains once, then is cached).
"""

from experiments.configs import default

STRATEGIES = (
  "random",
  "margin",
  "typiclust",
  "probcover",
  "maxherding",
  "uherding",
  "dropquery",
)


def get_config(argument: str = "digits,2"):
  """The suite for ``argument`` = 'DATASET,LABELS_PER_CLASS', optionally followed by
  ',VARIANT': `autoal` alone with the search values of a budget-sweep variant
  (`experiments.configs.sweep.VARIANTS`, e.g. v5), the task model and training this
  suite's: the image model's check of a frozen autoal, paired by seed with the suite's
  cells (the same initial sets and first models)."""
  from experiments.configs import sweep

  dataset, _, per_class = argument.partition(",")
  per_class, _, variant = per_class.partition(",")
  if dataset not in ("digits", "fashion_mnist") or not per_class.isdigit():
    raise ValueError(f"expected 'digits,M' or 'fashion_mnist,M', got {argument!r}")
  if variant and variant not in sweep.VARIANTS:
    raise ValueError(f"unknown variant {variant!r}; valid: {sorted(sweep.VARIANTS)}")
  config = default.get_config()
  config.dataset = dataset
  if dataset == "digits":
    config.pool_size = 0
  size = 10 * int(per_class)  # both datasets have 10 classes
  config.num_initial, config.query_size, config.quota = size, size, 6 * size
  config.strategies = ",".join(STRATEGIES)
  config.seeds = 5
  if variant:
    config.strategies = "autoal"
    for key, value in sweep.VARIANTS[variant].items():
      config.search[key] = value
  return config
