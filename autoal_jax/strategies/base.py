"""One interface for every strategy: an (init, query) pair, built by name.

The way every optax optimiser is a ``GradientTransformation``, every active-learning
strategy is a `Strategy`:

    state = strategy.init(key, context)                        # once, before round 0
    picks, state, info = strategy.query(state, key, context, k)  # once per query

- ``context`` is a `types.Context`: the task model's pool outputs (with what the
  strategy's ``needs`` declared), the labeled mask, the labels of the labeled samples
  and the pool images. ``init`` gets the context of the initial labeled set, whose
  ``outputs`` is None (no model is trained yet).
- ``state`` is any pytree whose structure never changes: ``()`` for the single strategies
  and ``uniform-mix``, ALBL's bandit, AutoAL's networks. A run's state keeps one structure
  from round 0 to the end (checkpoints, scans and vmaps need that).
- ``picks`` are k distinct unlabeled indices (int32[k]); ``info`` a `types.QueryInfo`.

The loop asks nothing else of a strategy: it trains the task model, computes the pool
outputs its ``needs`` ask for, calls ``query`` and labels the picks.

A strategy is made by its constructor from a `Setup` (what the experiment fixes: pool
size, query size, candidates, the task model, ...); `register` maps a name to a
constructor (the single strategies of `registry` are registered as strategies too), and
`build` makes one by name. A constructor jits what can be jitted (the boundary of the
house rule): the stateless strategies and ALBL are one compiled call per query size;
AutoAL's search runs host-driven steps that are each compiled once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from autoal_jax.strategies import decisions, registry
from autoal_jax.types import Context, DatasetInfo, Needs, QueryInfo


class Setup(NamedTuple):
  """What an experiment fixes for every strategy it runs (a constructor's input).

  Attributes:
    num_pool: N.
    query_size: b, the largest k a query is asked for (the last query may be smaller).
    num_mc: T, the MC-dropout passes a strategy needing them gets.
    max_labeled: the largest labeled set a query will see.
    candidates: the single strategies a mixture combines.
    model: the task model (a flax module), for strategies that train copies of it.
    info: the dataset's `DatasetInfo`.
    search: `search.SearchConfig` of AutoAL's strategies (None: its default).
    eval_chunk: images per chunk of forward passes.
    mesh: the device mesh of the task model's training (data parallel).
    init_variables: the task model's starting variables (a user's pretrained weights),
      None for a fresh initialisation.
  """

  num_pool: int
  query_size: int
  num_mc: int = 10
  max_labeled: int = 0
  candidates: tuple = registry.DEFAULT_CANDIDATES
  model: Any = None
  info: DatasetInfo | None = None
  search: Any = None
  eval_chunk: int = 1024
  mesh: Any = None
  init_variables: Any = None


class Strategy(NamedTuple):
  """An active-learning strategy: a pure-state (init, query) pair and what it needs.

  Attributes:
    name: the registry name.
    init: ``init(key, context) -> state``.
    query: ``query(state, key, context, k) -> (int32[k] picks, state, QueryInfo)``.
    needs: the `Needs` of its pool outputs, declared once here.
    doc: one line for listings.
    weight_names: the names of ``QueryInfo.weights``' entries (empty: no weights).
    candidates: the single strategies it combines (empty for a single strategy).
  """

  name: str
  init: Callable[[jax.Array, Context], Any]
  query: Callable[[Any, jax.Array, Context, int], tuple[jax.Array, Any, QueryInfo]]
  needs: Needs = Needs()
  doc: str = ""
  weight_names: tuple = ()
  candidates: tuple = ()


class Registered(NamedTuple):
  """A registry entry: the constructor ``build(setup) -> Strategy`` and a line of doc."""

  name: str
  build: Callable[[Setup], Strategy]
  doc: str


_STRATEGIES: dict[str, Registered] = {}


def register(name: str, build: Callable[[Setup], Strategy], doc: str = "") -> Registered:
  """Registers the constructor of a strategy (names are unique among all strategies)."""
  if name in _STRATEGIES or registry.is_picker(name):
    raise ValueError(f"strategy {name!r} is already registered")
  _STRATEGIES[name] = Registered(name, build, doc)
  registry._OTHER_STRATEGIES.add(name)
  return _STRATEGIES[name]


def is_registered(name: str) -> bool:
  return name in _STRATEGIES


def names() -> list[str]:
  """Every registered strategy name (single strategies and the others), sorted."""
  return sorted(set(_STRATEGIES) | set(registry.picker_names()))


def get(name: str) -> Registered:
  """The registry entry of ``name``; an unknown name lists the valid ones."""
  if name in _STRATEGIES:
    return _STRATEGIES[name]
  if registry.is_picker(name):
    picker = registry.get_picker(name)
    return Registered(name, lambda setup: from_picker(name), picker.doc)
  raise ValueError(f"Unknown strategy {name!r}. Valid strategies: {names()}")


def build(name: str, setup: Setup) -> Strategy:
  """The strategy ``name`` made for ``setup`` (its constructor checks the setup)."""
  return get(name).build(setup)


def no_state(key: jax.Array, context: Context) -> tuple:
  """``init`` of a strategy that carries nothing across rounds."""
  del key, context
  return ()


def stateless(
  name: str,
  pick_fn: Callable,
  needs: Needs,
  doc: str = "",
  candidates: tuple = (),
) -> Strategy:
  """A `Strategy` from ``pick_fn(key, outputs, candidate_mask, k) -> int32[k]``: no state,
  one compiled program per k, the unlabeled samples as candidates."""
  compiled = {}

  def query(state, key, context: Context, k: int):
    if k not in compiled:
      compiled[k] = jax.jit(lambda key, outputs, mask: pick_fn(key, outputs, mask, k))
    return compiled[k](key, context.outputs, ~context.labeled), state, QueryInfo()

  return Strategy(name, no_state, query, needs, doc, candidates=candidates)


def compiled_query(make: Callable[[int], Callable], report: Callable) -> Callable:
  """The ``query(state, key, context, k)`` of a strategy with a state, jitted once per k.

  ``make(k)`` is a pure function ``(state, key, outputs, labels, labeled) -> (state, picks,
  *extra)``; ``report(state, *extra)`` turns what it returned into the `QueryInfo` (host
  values).
  """
  compiled = {}

  def query(state, key, context: Context, k: int):
    if k not in compiled:
      compiled[k] = jax.jit(make(k))
    state, picks, *extra = compiled[k](state, key, context.outputs, context.labels, context.labeled)
    return picks, state, report(state, *extra)

  return query


def from_picker(name: str) -> Strategy:
  """The single strategy ``name`` (`registry`) as a `Strategy`."""
  picker = registry.get_picker(name)
  return stateless(name, picker.pick, picker.needs, picker.doc)


def _uniform_mix(setup: Setup) -> Strategy:
  candidates = registry.check_candidates(setup.candidates)

  def pick(key, outputs, mask, k):
    return decisions.uniform_mix(key, outputs, mask, k, candidates)

  needs = registry.candidates_needs(candidates)
  return stateless("uniform-mix", pick, needs, _UNIFORM_MIX_DOC, candidates)


_UNIFORM_MIX_DOC = "the candidates' 0/1 decisions summed with equal weights (no search)"
register("uniform-mix", _uniform_mix, _UNIFORM_MIX_DOC)
