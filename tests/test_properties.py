"""Property tests (hypothesis): for random pool sizes, budgets and masks, every picker and
a whole round keep the invariants: k distinct picks, none labeled, the mask grows by k.

Derandomized: the same examples every run, so that CI is stable and the compilation
cache serves their shapes (run with derandomize=False to explore new ones)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoal_jax import data, loop, models, strategies, train
from autoal_jax.types import PoolOutputs

# Every picker of the registry (the search strategies and ALBL run through the loop below).
PICKERS = strategies.picker_names()


@st.composite
def pools(draw):
  n = draw(st.integers(4, 96))
  num_candidates = draw(st.integers(1, n))
  k = draw(st.integers(1, num_candidates))
  seed = draw(st.integers(0, 2**31 - 1))
  rng = np.random.default_rng(seed)
  mask = np.zeros(n, bool)
  mask[rng.choice(n, num_candidates, replace=False)] = True
  c = draw(st.integers(2, 5))
  ties = draw(st.booleans())  # coarse logits make tied scores and duplicate embeddings
  logits = rng.normal(size=(n, c)) * 3
  embeddings = rng.normal(size=(n, 6))
  if ties:
    logits, embeddings = np.round(logits), np.round(embeddings)
  mc = rng.normal(size=(3, n, c)) + logits
  soft = lambda x: (
    np.exp(x - x.max(-1, keepdims=True))
    / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)
  )  # noqa: E731
  outputs = PoolOutputs(
    jnp.asarray(logits, jnp.float32),
    jnp.asarray(soft(logits), jnp.float32),
    jnp.asarray(embeddings, jnp.float32),
    jnp.asarray(soft(mc), jnp.float32),
    jnp.asarray(rng.normal(size=n), jnp.float32),  # predicted losses, for loss_prediction
  )
  return draw(st.sampled_from(PICKERS)), outputs, jnp.asarray(mask), k, seed


@pytest.mark.slow
@settings(max_examples=9, deadline=None, derandomize=True)
@given(pools())
def test_every_picker_keeps_the_pick_contract(case):
  name, outputs, mask, k, seed = case
  pick = jax.jit(strategies.pick, static_argnums=(0, 4))
  picks = np.asarray(pick(name, jax.random.key(seed), outputs, mask, k))
  assert picks.shape == (k,) and picks.dtype == np.int32
  assert len(set(picks.tolist())) == k, (name, picks)
  assert (picks >= 0).all() and np.asarray(mask)[picks].all(), (name, picks)


@settings(max_examples=4, deadline=None, derandomize=True)
@given(
  n=st.integers(30, 80),
  num_initial=st.integers(1, 10),
  query_size=st.integers(1, 12),
  strategy=st.sampled_from(["random", "entropy", "kcenter_greedy", "badge", "bald", "albl"]),
  seed=st.integers(0, 2**31 - 1),
)
def test_a_round_grows_the_mask_by_exactly_k(n, num_initial, query_size, strategy, seed):
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 255, (n, 6, 6, 1)).astype(np.uint8)
  labels = rng.integers(0, 3, n).astype(np.int32)
  dataset = data.from_arrays(images, labels, images[:20], labels[:20], num_classes=3)
  quota = min(n - num_initial, 2 * query_size - 1)  # the second query is partial
  config = loop.ALConfig(num_initial, query_size, quota, num_mc=3)
  model = models.get_model("mlp", 3, hidden=(8,))
  trainer = train.Trainer(
    model, dataset.info, train.TrainConfig(batch_size=8, epochs=1, min_steps=2, eval_chunk=32)
  )
  learner = loop.ActiveLearner(dataset, trainer, config)
  state = learner.init(jax.random.key(seed), strategy)
  while not learner.done(state):
    before = np.asarray(state.labeled)
    state, log = learner.round(state, strategy)
    after = np.asarray(state.labeled)
    k = config.round_size(log.round) if log.round < config.num_rounds else 0
    assert after.sum() - before.sum() == k == len(log.picks) == len(set(log.picks.tolist()))
    assert not before[log.picks].any() and after[log.picks].all() and (after >= before).all()
  assert int(np.asarray(state.labeled).sum()) == num_initial + quota
