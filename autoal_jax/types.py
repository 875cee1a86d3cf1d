"""Small immutable containers passed between the library's pure functions.

Shape alphabet (used in every docstring of the package): N pool samples, V validation
samples, K candidate strategies, C classes, D embedding size, T Monte-Carlo samples,
b query budget per round, H/W/Ch image height/width/channels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np


class DatasetInfo(NamedTuple):
  """Metadata of a dataset, everything a model and the normaliser need.

  Attributes:
    name: the source the data came from (``fashion_mnist``, ``npz:/path``, ...).
    num_classes: C.
    image_shape: the shape of one input: (H, W, Ch) of an image, F of a feature vector
      (e.g. (D,)).
    mean: per-channel mean of the training images in [0, 1], length Ch ((0.0,) for
      features, standardised when the dataset was made).
    std: per-channel standard deviation of the training images in [0, 1], length Ch
      ((1.0,) for features).
    class_names: optional human-readable class names, length C.
    kind: ``images`` (uint8) or ``features`` (float32; `data.from_arrays`).
  """

  name: str
  num_classes: int
  image_shape: tuple[int, ...]
  mean: tuple[float, ...]
  std: tuple[float, ...]
  class_names: tuple[str, ...] | None = None
  kind: str = "images"


class Dataset(NamedTuple):
  """Train (the active-learning pool) and test arrays on the host.

  Attributes:
    train_images: uint8[N, H, W, Ch] images or float32[N, *F] features, the pool.
    train_labels: int32[N] in [0, C).
    test_images: uint8[N_test, H, W, Ch] or float32[N_test, *F].
    test_labels: int32[N_test] in [0, C).
    info: the `DatasetInfo`.
    embeddings: float32[N, E], a fixed embedding of the pool for the coverage and
      clustering strategies (`PoolOutputs.pool_embeddings`), or None (the model's).
  """

  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray
  info: DatasetInfo
  embeddings: np.ndarray | None = None


class PoolOutputs(NamedTuple):
  """One chunked forward pass of a task model over the pool.

  Attributes:
    logits: float32[N, C].
    probs: float32[N, C], softmax of the logits.
    embeddings: float32[N, D], the penultimate features (before dropout).
    mc_probs: float32[T, N, C] from T MC-dropout passes (BatchNorm in inference mode),
      or None when T = 0 was asked for.
    losses: float32[N], the loss a LossNet trained with the task model predicts (LL4AL;
      `TrainConfig.loss_prediction`), or None.
    pool_embeddings: float32[N, E], an embedding of the pool fixed for the run (a
      user's, PCA's, a self-supervised encoder's: `Dataset.embeddings`) on which the
      coverage and clustering strategies measure distances (`strategies.distance_space`);
      None: they use ``embeddings``. Gradient embeddings (BADGE, the alignment search)
      stay the model's.
  """

  logits: jax.Array
  probs: jax.Array
  embeddings: jax.Array
  mc_probs: jax.Array | None = None
  losses: jax.Array | None = None
  pool_embeddings: jax.Array | None = None


class Needs(NamedTuple):
  """What a strategy needs in its `PoolOutputs` beyond logits, probs and embeddings.

  Attributes:
    mc: T >= 2 MC-dropout passes (``mc_probs``); the task model must accept
      ``mc_dropout=True`` (docs/models.md).
    loss: predicted losses (``losses``) of a LossNet trained with the task model (LL4AL);
      the task model must accept ``return_features=True``.
  """

  mc: bool = False
  loss: bool = False

  def __or__(self, other: Needs) -> Needs:
    return Needs(self.mc or other.mc, self.loss or other.loss)


class Context(NamedTuple):
  """What a round knows when a strategy queries (a pytree of arrays).

  Attributes:
    outputs: the task model's `PoolOutputs` over the pool, with what the strategy's
      `Needs` declared; None in the context given to ``init`` (before any model).
    labeled: bool[N], the labeled mask.
    labels: int32[N], the labels of the labeled samples, -1 everywhere else (a strategy
      cannot read a label it has not bought).
    images: uint8[N, H, W, Ch] or float32[N, *F], the pool's inputs (for strategies that
      train networks).
  """

  outputs: PoolOutputs | None
  labeled: jax.Array
  labels: jax.Array
  images: jax.Array


class QueryInfo(NamedTuple):
  """What a query reports besides its picks: a pytree of arrays, so that a query stays a
  traceable function (under jit and vmap its fields are arrays; `loop.host_info` turns
  them into Python values for logs and results.json).

  Attributes:
    weights: float32[W], the strategy weights of a mixture: the mean weight per column over
      the picks (AutoAL), the arm probabilities of the draw (ALBL); length 0 for a single
      strategy. The column names are the strategy's ``weight_names``.
    arm: int32 scalar, the index into ``weight_names`` of the arm a bandit drew, -1 for none.
    reward: float32 scalar, the reward a bandit gave its previous arm, NaN for none.
    metrics: named float32 scalars of a strategy (AutoAL's search, TAILOR's batch
      reward); NaN for a metric this query did not measure (left out of the results).
    search_seconds: the part of the query spent training networks (AutoAL's search, whose
      query is driven from the host; 0 for a traceable query).
  """

  weights: Any = np.zeros(0, np.float32)
  arm: Any = np.int32(-1)
  reward: Any = np.float32(np.nan)
  metrics: dict = {}
  search_seconds: Any = 0.0


class Picker(NamedTuple):
  """A registered single strategy (`strategies.registry`).

  Attributes:
    name: the registry name.
    pick: ``pick(key, outputs, candidate_mask, k) -> int32[k]``.
    needs: the `Needs` of its outputs (MC passes, predicted losses).
    doc: one line for listings.
    score: ``score(outputs) -> float32[N]`` for score strategies (higher first), else None.
    pick_n: ``pick_n(key, outputs, candidate_mask, k, n) -> int32[k]`` with a traced count
      n <= k: the first n entries are the strategy's n picks, the rest -1. One compiled
      program then serves every n (AutoAL's decisions on a growing validation half).
  """

  name: str
  pick: Callable
  needs: Needs
  doc: str
  score: Callable | None = None
  pick_n: Callable | None = None


class Setup(NamedTuple):
  """What an experiment fixes for every strategy it runs (a constructor's input).

  Attributes:
    num_pool: N.
    query_size: b, the largest k a query is asked for (the last query may be smaller).
    num_mc: T, the MC-dropout passes a strategy needing them gets.
    max_labeled: the largest labeled set a query will see.
    candidates: the names of the single strategies a mixture combines (empty: the
      registry's ``DEFAULT_CANDIDATES``).
    model: the task model (a flax module), for strategies that train copies of it.
    info: the dataset's `DatasetInfo`.
    search: the config of AutoAL's strategies (`search.SearchConfig`; None: its default),
      read only by their constructors.
    eval_chunk: images per chunk of forward passes.
    mesh: the device mesh of the task model's training (data parallel).
    init_variables: the task model's starting variables (a user's pretrained weights),
      None for a fresh initialisation.
    pickers: the `Picker` of each candidate, resolved once by `registry.build` (a
      constructor combines these, never names looked up again at every trace).
    train: the task model's `train.TrainConfig`, for strategies that train copies of it
      the way the task model is trained (Uncertainty Herding's calibration model); None:
      `TrainConfig()`.
  """

  num_pool: int
  query_size: int
  num_mc: int = 10
  max_labeled: int = 0
  candidates: tuple = ()
  model: Any = None
  info: DatasetInfo | None = None
  search: Any = None
  eval_chunk: int = 1024
  mesh: Any = None
  init_variables: Any = None
  pickers: tuple = ()
  train: Any = None


class Strategy(NamedTuple):
  """An active-learning strategy: a pure-state (init, query) pair and what it needs.

  Attributes:
    name: the registry name.
    init: ``init(key, context) -> state``.
    query: ``query(state, key, context, k) -> (int32[k] picks, state, QueryInfo)``, a
      traceable function of arrays (the caller jits it with k static, and may vmap it
      over a leading axis of states, keys and contexts).
    needs: the `Needs` of its pool outputs, declared once here.
    doc: one line for listings.
    weight_names: the names of ``QueryInfo.weights``' entries (empty: no weights).
    candidates: the single strategies it combines (empty for a single strategy).
    host_query: None, or the same computation as ``query`` driven from the host (one
      compiled call per piece and per training step; AutoAL's search), with the same
      picks: the loop runs it where `train.dispatch_per_step` says per-step dispatch is
      faster (CPU), as it is, never under jit or vmap.
  """

  name: str
  init: Callable
  query: Callable
  needs: Needs = Needs()
  doc: str = ""
  weight_names: tuple = ()
  candidates: tuple = ()
  host_query: Callable | None = None
