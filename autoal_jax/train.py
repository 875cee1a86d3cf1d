"""Task-model training (the forward passes live in `passes`, the shared losses in `losses`).

The functions here are pure and un-jitted (house rule: the step that uses them jits).
`Trainer` is that step for the active-learning loop: it jits them once per experiment, so
every round and every seed reuses the same compiled programs. Shapes never depend on the
labeled-set size: an epoch draws batches from the whole pool through the labeled mask (the
last batch padded and masked), so the second round compiles nothing new.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from jax.sharding import Mesh

from autoal_jax import data as data_lib
from autoal_jax import models, sharding
from autoal_jax.losses import ranking_loss, weighted_mean
from autoal_jax.passes import evaluate, pool_outputs
from autoal_jax.passes import variables_of as _variables
from autoal_jax.types import DatasetInfo


class TrainConfig(NamedTuple):
  """How a task model is trained from scratch every round (hashable: a static jit argument).

  Attributes:
    batch_size: examples per step (fixed; the last batch of an epoch is padded and masked).
    epochs: passes over the labeled set.
    min_steps: train at least this many steps (adds epochs), so tiny labeled sets still get
      a trained model.
    optimizer: ``adam``, ``adamw`` or ``sgd``.
    learning_rate: the peak learning rate.
    schedule: ``cosine`` (decay to 0 over the run's steps, Loshchilov & Hutter 2017) or
      ``constant``. The run's length changes with the labeled set, so the rate is a traced
      hyperparameter of the optimiser state (`optax.inject_hyperparams`), not a recompile.
    weight_decay: decoupled for adamw, coupled L2 for adam and sgd.
    momentum: for sgd.
    augment: random crop and horizontal flip during training.
    crop_padding: padding of the random crop.
    eval_chunk: examples per chunk of the evaluation and pool forward passes.
    loss_prediction: train a LossNet with the task model (LL4AL, Yoo & Kweon 2019;
      `models.WithLossNet`): the loss is ``CE + loss_weight * ranking_loss`` and the pool
      passes also predict each sample's loss (`PoolOutputs.losses`).
    loss_weight: lambda of the ranking loss (1 in the paper).
    loss_margin: the ranking loss's margin (1 in the paper).
    loss_detach: the fraction of the run's steps after which the ranking loss's gradient
      no longer reaches the task model (the paper: epoch 120 of 200, 0.6).
    loss_hidden: LossNet's units per feature map (128 in the paper).
    freeze_backbone: train only the head (the submodule named ``head``, and a LossNet)
      on frozen features: the other parameters and the BatchNorm statistics stay those
      the model started from (a user's pretrained weights, `Trainer(init_variables=)`),
      and no gradient is computed for them.
  """

  batch_size: int = 64
  epochs: int = 20
  min_steps: int = 0
  optimizer: str = "adam"
  learning_rate: float = 1e-3
  schedule: str = "cosine"
  weight_decay: float = 0.0
  momentum: float = 0.9
  augment: bool = False
  crop_padding: int = 4
  eval_chunk: int = 1024
  loss_prediction: bool = False
  loss_weight: float = 1.0
  loss_margin: float = 1.0
  loss_detach: float = 0.6
  loss_hidden: int = 128
  freeze_backbone: bool = False


class TrainState(train_state.TrainState):
  """flax's TrainState plus BatchNorm statistics (an empty dict for models without BN)."""

  batch_stats: Any = None


OPTIMIZERS = ("adam", "adamw", "sgd")


SCHEDULES = ("cosine", "constant")


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
  """The optax optimiser named by ``config.optimizer``, its learning rate injectable.

  The state's ``hyperparams["learning_rate"]`` is what `train_steps` sets every step.
  """
  wd = config.weight_decay
  if config.optimizer not in OPTIMIZERS:
    raise ValueError(
      f"Unknown optimizer {config.optimizer!r}. Valid optimizers: {list(OPTIMIZERS)}"
    )
  if config.schedule not in SCHEDULES:
    raise ValueError(f"Unknown schedule {config.schedule!r}. Valid schedules: {list(SCHEDULES)}")

  def build(learning_rate):
    if config.optimizer == "adamw":
      return optax.adamw(learning_rate, weight_decay=wd)
    if config.optimizer == "adam":
      base = optax.adam(learning_rate)
    else:
      base = optax.sgd(learning_rate, momentum=config.momentum or None)
    return optax.chain(optax.add_decayed_weights(wd), base) if wd else base

  return optax.inject_hyperparams(build)(learning_rate=config.learning_rate)


def learning_rate_at(step: jax.Array, total_steps: jax.Array, config: TrainConfig) -> jax.Array:
  """The learning rate of global step ``step`` out of ``total_steps`` (float32 scalar)."""
  if config.schedule == "constant":
    return jnp.asarray(config.learning_rate, jnp.float32)
  progress = step.astype(jnp.float32) / jnp.maximum(total_steps, 1).astype(jnp.float32)
  return config.learning_rate * 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(progress, 1.0)))


def init_train_state(
  key: jax.Array, model: nn.Module, tx: optax.GradientTransformation, image_shape
) -> TrainState:
  """Fresh parameters (and BatchNorm statistics) for ``model`` on images of ``image_shape``."""
  variables = model.init(key, jnp.zeros((1, *image_shape), jnp.float32))
  return TrainState.create(
    apply_fn=model.apply,
    params=variables["params"],
    tx=tx,
    batch_stats=variables.get("batch_stats", {}),
  )


TRAINABLE_WITH_FROZEN_BACKBONE = ("head", "loss_net")


def trainable_mask(params) -> Any:
  """A bool pytree like ``params``: True for the parameters a frozen-backbone run trains
  (those under a submodule named ``head`` or ``loss_net``)."""

  def trainable(path, _):
    return any(getattr(k, "key", None) in TRAINABLE_WITH_FROZEN_BACKBONE for k in path)

  return jax.tree_util.tree_map_with_path(trainable, params)


def start_from(state: TrainState, variables: dict, wrapped: bool = False) -> TrainState:
  """``state`` with the parameters and BatchNorm statistics of ``variables`` (the task
  model's; with ``wrapped`` they go under `models.WithLossNet`'s ``model``, its LossNet
  keeping its fresh parameters). The optimiser state is made anew for them."""
  params = variables["params"]
  batch_stats = variables.get("batch_stats", {})
  if wrapped:
    params = {**state.params, "model": params}
    batch_stats = {**state.batch_stats, "model": batch_stats} if batch_stats else {}
  return state.replace(params=params, batch_stats=batch_stats, opt_state=state.tx.init(params))


def apply_model(state: TrainState, params, x, train: bool, key=None, **kwargs):
  """Applies ``state``'s network with ``params``: (outputs, BatchNorm statistics after).

  In training mode dropout draws from ``key`` and BatchNorm uses (and updates) batch
  statistics; otherwise the statistics come back unchanged.
  """
  variables = _variables(params, state.batch_stats)
  if not train:
    return state.apply_fn(variables, x, **kwargs), state.batch_stats
  rngs = {"dropout": key}
  if state.batch_stats:
    out, updates = state.apply_fn(
      variables, x, train=True, rngs=rngs, mutable=["batch_stats"], **kwargs
    )
    return out, updates["batch_stats"]
  return state.apply_fn(variables, x, train=True, rngs=rngs, **kwargs), state.batch_stats


def apply_updates(state: TrainState, grads, batch_stats) -> TrainState:
  """One optimiser step with ``grads``, then the new BatchNorm statistics."""
  # optax's bias correction raises a Python float to an int32 power, which users running
  # with jax_numpy_dtype_promotion='strict' (as our tests do) would otherwise see fail.
  with jax.numpy_dtype_promotion("standard"):
    state = state.apply_gradients(grads=grads)
  return state.replace(batch_stats=batch_stats)


class StepLosses(NamedTuple):
  """The losses of S consecutive training steps (`train_steps`).

  Attributes:
    loss: float32[S], each step's batch loss (0 for a step that did not run).
    ran: bool[S], whether the step ran (steps at or past the run's end do not).
  """

  loss: jax.Array
  ran: jax.Array


def mean_loss(losses: list[StepLosses]) -> float:
  """The mean loss over the steps that ran (NaN if none), from host `StepLosses`."""
  loss = np.concatenate([np.asarray(x.loss) for x in losses])
  ran = np.concatenate([np.asarray(x.ran) for x in losses])
  return float(loss[ran].mean()) if ran.any() else float("nan")


def train_step(
  state: TrainState,
  key: jax.Array,
  images: jax.Array,
  labels: jax.Array,
  weights: jax.Array,
  mean,
  std,
  config: TrainConfig,
  loss_gate: jax.Array | float = 1.0,
) -> tuple[TrainState, jax.Array]:
  """One optimiser step on a weighted batch.

  Args:
    state: the task model's state.
    key: PRNG key for dropout and augmentation.
    images: uint8[B, H, W, Ch] or float32[B, *F].
    labels: int32[B].
    weights: float32[B], 1 for real examples and 0 for padding; the loss is the weighted
      mean, so padding changes nothing but BatchNorm's batch statistics (see `train_epoch`).
    mean, std: per-channel normalisation statistics.
    config: `TrainConfig`.
    loss_gate: with ``config.loss_prediction``, how much of the ranking loss's gradient
      reaches the task model (`models.WithLossNet`; `train_steps` sets 1, then 0).

  Returns:
    (new state, the batch loss: CE, plus the weighted ranking loss with loss prediction).
  """
  chex.assert_rank([images, labels, weights], [data_lib.INPUT_RANKS, 1, 1])
  dropout_key, augment_key = jax.random.split(key)
  x = data_lib.normalize(images, mean, std)
  if config.augment:
    x = data_lib.augment(augment_key, x, config.crop_padding, flip=True)

  frozen = trainable_mask(state.params) if config.freeze_backbone else None

  def loss_fn(params):
    if frozen is not None:  # no gradient (and no backward pass) for the frozen part
      params = jax.tree.map(lambda t, p: p if t else jax.lax.stop_gradient(p), frozen, params)
    if not config.loss_prediction:
      (logits, _), batch_stats = apply_model(state, params, x, True, dropout_key)
      ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
      return weighted_mean(ce, weights), batch_stats
    (logits, _, predicted), batch_stats = apply_model(
      state, params, x, True, dropout_key, predict_loss=True, loss_gate=loss_gate
    )
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    target = jax.lax.stop_gradient(ce)
    ranking, _ = ranking_loss(predicted, target, weights, config.loss_margin)
    return weighted_mean(ce, weights) + config.loss_weight * ranking, batch_stats

  (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  new_state = apply_updates(state, grads, batch_stats)
  if frozen is not None:  # weight decay would still move them: keep them exactly
    params = jax.tree.map(lambda t, n, o: n if t else o, frozen, new_state.params, state.params)
    new_state = new_state.replace(params=params, batch_stats=state.batch_stats)
  return new_state, loss


def epoch_order(key: jax.Array, labeled: jax.Array) -> jax.Array:
  """A random order of the pool with the labeled samples first: bool[N] -> int32[N].

  One argsort over the whole pool keeps the shape fixed whatever the labeled-set size.
  """
  chex.assert_rank(labeled, 1)
  noise = jax.random.uniform(key, labeled.shape)
  return jnp.argsort(jnp.where(labeled, noise, 2.0)).astype(jnp.int32)


def train_steps(
  state: TrainState,
  key: jax.Array,
  images: jax.Array,
  labels: jax.Array,
  orders: jax.Array,
  num_labeled: jax.Array,
  first_step: jax.Array,
  total_steps: jax.Array,
  mean,
  std,
  config: TrainConfig,
  mesh: Mesh | None = None,
) -> tuple[TrainState, jax.Array]:
  """S consecutive steps of a training run (one `lax.scan`), fixed shapes throughout.

  A run is ``epochs * ceil(n / B)`` steps. Global step g belongs to epoch
  ``e = g // ceil(n / B)`` and takes positions ``[j * B, (j + 1) * B)`` of that epoch's
  order, j = g mod ceil(n / B). The number of steps per epoch is a traced value, so one
  program serves every labeled-set size. The last batch of an epoch is topped up by
  wrapping around to its first examples with weight 0: they add nothing to the loss, and
  BatchNorm only ever sees labeled images. Steps at or past ``total_steps`` leave the state
  untouched (a select, not `lax.cond`: XLA:CPU runs nested computations about 5x slower).

  S = 1 runs the step without a loop. That is the fast choice on CPU: XLA:CPU runs a rolled
  loop of convolution steps about 7x slower than separate calls, and even unrolled ones
  about 1.4x slower (measured on 2 cores, jax 0.10.2; see `Trainer`). On GPU/TPU a scan of
  several steps saves the per-call dispatch.

  Args:
    state: the task model's state.
    key: PRNG key of the run; step g uses ``fold_in(key, g)``.
    images: uint8[N, H, W, Ch] or float32[N, *F], the whole pool.
    labels: int32[N].
    orders: int32[S + 1, N], the orders (`epoch_order`) of epochs ``e0 .. e0 + S`` where
      ``e0`` is the epoch of ``first_step``; S + 1 rows cover any S steps.
    num_labeled: int32 scalar n >= 1.
    first_step: int32 scalar, the global index of the first step run here.
    total_steps: int32 scalar, the number of steps of the whole run.
    mean, std: normalisation statistics.
    config: `TrainConfig`.
    mesh: the batch is split over its devices (`sharding.constrain_batch`); None or one
      device: no constraint.

  Returns:
    (new state, `StepLosses` of the S steps: the batch losses and which steps ran).
  """
  chex.assert_rank([images, labels, orders], [data_lib.INPUT_RANKS, 1, 2])
  num_steps = orders.shape[0] - 1
  batch = config.batch_size
  steps_per_epoch = (num_labeled + batch - 1) // batch
  first_epoch = first_step // steps_per_epoch

  def body(state, step):
    position = (step % steps_per_epoch) * batch + jnp.arange(batch, dtype=jnp.int32)
    index = orders[step // steps_per_epoch - first_epoch, position % num_labeled]
    weights = (position < num_labeled).astype(jnp.float32)
    hyperparams = dict(state.opt_state.hyperparams)
    hyperparams["learning_rate"] = learning_rate_at(step, total_steps, config)
    scheduled = state.replace(opt_state=state.opt_state._replace(hyperparams=hyperparams))
    joint = step.astype(jnp.float32) < config.loss_detach * total_steps.astype(jnp.float32)
    new_state, loss = train_step(
      scheduled,
      jax.random.fold_in(key, step),
      sharding.constrain_batch(images[index], mesh),
      sharding.constrain_batch(labels[index], mesh),
      sharding.constrain_batch(weights, mesh),
      mean,
      std,
      config,
      loss_gate=joint.astype(jnp.float32),
    )
    live = step < total_steps
    state = jax.tree.map(lambda new, old: jnp.where(live, new, old), new_state, state)
    return state, StepLosses(jnp.where(live, loss, 0.0), live)

  if num_steps == 1:
    state, loss = body(state, first_step)
    return state, jax.tree.map(lambda v: v[None], loss)
  return jax.lax.scan(body, state, first_step + jnp.arange(num_steps, dtype=jnp.int32))


def fit_program(
  key: jax.Array,
  images: jax.Array,
  labels: jax.Array,
  labeled: jax.Array,
  num_labeled: jax.Array,
  init_fn: Callable[[jax.Array], TrainState],
  mean,
  std,
  config: TrainConfig,
  mesh: Mesh | None = None,
) -> TrainState:
  """`Trainer.fit` as one traceable program: the same steps, keys and batches, the number
  of epochs and steps a traced function of ``num_labeled`` (`lax.fori_loop` with traced
  bounds), so that one compiled program serves every labeled-set size and a caller can
  vmap it over seeds.

  Epoch e draws its order from ``fold_in(order_key, e)`` and global step g its key from
  ``fold_in(step_key, g)``, as the host-driven `Trainer.fit` does: the two train the same
  model, up to the float rounding of a loop compiled whole (XLA:CPU runs such a loop of
  convolution steps several times slower than separate calls: `Trainer` chooses).

  Args:
    key: PRNG key (initialisation and every epoch), split as `Trainer.fit` splits it.
    images: uint8[N, H, W, Ch] or float32[N, *F].
    labels: int32[N].
    labeled: bool[N].
    num_labeled: int32 scalar, the number of True in ``labeled`` (>= 1).
    init_fn: ``init_fn(key) -> TrainState``, the run's starting state (`Trainer.init`).
    mean, std: normalisation statistics.
    config: `TrainConfig`.
    mesh: as in `train_steps`.

  Returns:
    The trained `TrainState`.
  """
  init_key, order_key, step_key = jax.random.split(key, 3)
  state = init_fn(init_key)
  n = jnp.asarray(num_labeled, jnp.int32)
  batch = config.batch_size
  steps_per_epoch = (n + batch - 1) // batch
  epochs = jnp.maximum(config.epochs, (config.min_steps + steps_per_epoch - 1) // steps_per_epoch)
  total_steps = epochs * steps_per_epoch

  def epoch(e, state):
    order = epoch_order(jax.random.fold_in(order_key, e), labeled)
    orders = jnp.stack([order, order])  # `train_steps` of one step reads row 0 only

    def step(j, state):
      first = e * steps_per_epoch + j
      state, _ = train_steps(
        state, step_key, images, labels, orders, n, first, total_steps, mean, std, config, mesh
      )
      return state

    return jax.lax.fori_loop(0, steps_per_epoch, step, state)

  return jax.lax.fori_loop(0, epochs, epoch, state)


def dispatch_per_step() -> bool:
  """Whether training loops run best as one host call per step (True) or compiled whole
  (`lax.scan`, `lax.fori_loop`): True on CPU, where XLA:CPU runs a rolled loop of
  convolution steps about 7x slower than separate calls (measured on 2 cores, jax 0.10.2),
  False on GPU/TPU, where per-step dispatch leaves the device idle. The one place the
  trainer (`Trainer.steps_per_call`), AutoAL's search and the loop (whether a strategy's
  host-driven query is preferred) choose by.
  """
  return jax.default_backend() == "cpu"


def num_epochs(config: TrainConfig, num_labeled: int) -> int:
  """Epochs to run for ``num_labeled`` examples: ``config.epochs``, more if min_steps asks."""
  steps_per_epoch = math.ceil(num_labeled / config.batch_size)
  return max(config.epochs, math.ceil(config.min_steps / steps_per_epoch))


@functools.lru_cache(maxsize=32)
def _programs(network: nn.Module, image_shape, mean, std, config: TrainConfig, mesh: Mesh):
  """The jitted programs of a `Trainer`, shared by every Trainer of an equal network,
  input, configuration and mesh (flax modules, `TrainConfig` and meshes compare by
  value): a second Trainer of the same task (a strategy's copy of the task model, the
  cross-validation's folds, each variant a test builds) traces and compiles nothing the
  first one did. The optimiser is built here too, once: it is a static field of the
  `TrainState`, so states of equal Trainers share one program.

  Returns (fresh state, epoch order, train steps, evaluate, pool outputs), each jitted."""
  tx = make_optimizer(config)
  stats = dict(mean=mean, std=std)
  fresh = jax.jit(
    functools.partial(init_train_state, model=network, tx=tx, image_shape=image_shape)
  )
  steps = jax.jit(functools.partial(train_steps, **stats, config=config, mesh=mesh))
  evaluate_fn = jax.jit(functools.partial(evaluate, **stats, chunk=config.eval_chunk, mesh=mesh))
  outputs = jax.jit(
    functools.partial(
      pool_outputs,
      **stats,
      chunk=config.eval_chunk,
      head=models.mc_head(network),
      predict_loss=config.loss_prediction,
      mesh=mesh,
    ),
    static_argnames="num_mc",
  )
  return fresh, jax.jit(epoch_order), steps, evaluate_fn, outputs


class Trainer:
  """The jitted training, evaluation and pool passes of one task model on one dataset.

  Built once per experiment; holds no state of the run, only compiled functions, so that
  every round and every seed reuses them (no recompilation as the labeled set grows).

  Args:
    model: a task model (see `autoal_jax.models`). With ``config.loss_prediction`` the
      trained network is ``models.WithLossNet(model)`` (``self.network``).
    info: the dataset's `DatasetInfo` (input shape, normalisation).
    config: `TrainConfig`.
    steps_per_call: training steps per jitted call (one `lax.scan`); None picks 1 on CPU,
      where separate calls are fastest (`train_steps`), and 16 on GPU/TPU.
    mesh: the devices that share each batch and pool chunk (data parallel); None: all
      devices (`sharding.make_mesh`). Pass the pool and labels replicated on it.
    init_variables: the variables every run starts from instead of a fresh
      initialisation (a user's pretrained weights: ``{"params": ..., "batch_stats": ...}``
      of ``model``, e.g. from `models.load_variables`); a LossNet, when trained, still
      starts fresh. None: fresh parameters from each run's key.
  """

  def __init__(
    self,
    model: nn.Module,
    info: DatasetInfo,
    config: TrainConfig,
    steps_per_call: int | None = None,
    mesh: Mesh | None = None,
    init_variables: dict | None = None,
  ):
    self.model, self.info, self.config = model, info, config
    # Refused before any training: augmentation of features, a model that cannot take the
    # input (the convolutional nets on features or on images too small to pool).
    if config.augment and info.kind != "images":
      raise ValueError(
        "augmentation (random crop and flip) is for images; set train.augment=False for "
        f"{info.kind} of shape {tuple(info.image_shape)}"
      )
    models.check_input(
      model,
      info.image_shape,
      "the task model",
      f"choose a model that takes any input shape ({', '.join(models.ANY_SHAPE)}: "
      "--config.model=mlp)",
    )
    self.mesh = sharding.make_mesh() if mesh is None else mesh
    if steps_per_call is None:
      steps_per_call = 1 if dispatch_per_step() else 16
    if steps_per_call < 1:
      raise ValueError(f"steps_per_call must be >= 1, got {steps_per_call}")
    self.steps_per_call = steps_per_call
    mean, std = tuple(info.mean), tuple(info.std)
    network = model
    if config.loss_prediction:
      network = models.WithLossNet(model, config.loss_hidden)
    self.network = network
    programs = _programs(network, tuple(info.image_shape), mean, std, config, self.mesh)
    self._fresh, self.order, self.steps, self.evaluate, self.pool_outputs = programs
    self.init_variables = None
    if init_variables is not None:
      shapes = jax.eval_shape(self._fresh, jax.random.key(0))
      self.init_variables = sharding.replicate(
        models.check_variables(model, init_variables, shapes, config.loss_prediction),
        self.mesh,
      )
      self._start_from = jax.jit(functools.partial(start_from, wrapped=config.loss_prediction))
    # The whole fit as one traceable function (un-jitted: a round program composes it).
    self.fit_program = functools.partial(
      fit_program, init_fn=self.init, mean=mean, std=std, config=config, mesh=self.mesh
    )

  def init(self, key: jax.Array) -> TrainState:
    """A run's starting state: fresh parameters from ``key``, or the given variables."""
    state = self._fresh(key)
    if self.init_variables is None:
      return state
    return self._start_from(state, self.init_variables)

  def fit(
    self,
    key: jax.Array,
    images: jax.Array,
    labels: jax.Array,
    labeled: jax.Array,
    num_labeled: int,
    progress: Callable[[int, int, float], None] | None = None,
  ) -> TrainState:
    """Trains a fresh model on the labeled part of the pool.

    Args:
      key: PRNG key (initialisation and every epoch).
      images: uint8[N, H, W, Ch] or float32[N, *F] on device.
      labels: int32[N] on device.
      labeled: bool[N] on device.
      num_labeled: the number of True in ``labeled`` (known on the host; sets the epochs).
      progress: called as ``progress(epoch, num_epochs, loss)`` after each epoch; reading
        the loss waits for the epoch, so pass None for fully asynchronous dispatch.

    Returns:
      The trained `TrainState`.
    """
    if num_labeled < 1:
      raise ValueError("cannot train on an empty labeled set")
    init_key, order_key, step_key = jax.random.split(key, 3)
    state = self.init(init_key)
    epochs = num_epochs(self.config, num_labeled)
    steps_per_epoch = math.ceil(num_labeled / self.config.batch_size)
    total_steps = epochs * steps_per_epoch
    per_call = self.steps_per_call
    n, total = jnp.asarray(num_labeled, jnp.int32), jnp.asarray(total_steps, jnp.int32)
    order_of = {}  # epoch -> its order, each drawn once
    window = (None, None)  # (first epoch, the orders of the S + 1 epochs from it)

    def orders_from(first_epoch):
      nonlocal window
      if window[0] != first_epoch:
        for finished in [e for e in order_of if e < first_epoch]:
          del order_of[finished]
        rows = []
        for epoch in range(first_epoch, first_epoch + per_call + 1):
          epoch = min(epoch, epochs - 1)  # rows past the last epoch are never read
          if epoch not in order_of:
            order_of[epoch] = self.order(jax.random.fold_in(order_key, epoch), labeled)
          rows.append(order_of[epoch])
        window = (first_epoch, jnp.stack(rows))
      return window[1]

    losses = []
    for first in range(0, total_steps, per_call):
      first_epoch = first // steps_per_epoch
      orders = orders_from(first_epoch)
      first_step = jnp.asarray(first, jnp.int32)
      state, loss = self.steps(state, step_key, images, labels, orders, n, first_step, total)
      losses.append(loss)
      done = min(first + per_call, total_steps) // steps_per_epoch
      if progress is not None and done > first_epoch:
        # On the host: eager jnp ops would compile again for every number of steps.
        progress(done, epochs, mean_loss([jax.tree.map(sharding.to_host, x) for x in losses]))
        losses = []
    return state
