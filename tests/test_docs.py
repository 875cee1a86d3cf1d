"""The runnable examples of docs/ run as written, and do what their text says."""

import pathlib
import re

import numpy as np

from autoal_jax import strategies

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def python_blocks(name: str) -> list[str]:
  """The ```python blocks of docs/NAME, in order."""
  return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), re.S)


def test_the_strategies_page_registers_a_score_and_a_strategy_that_run_vmapped():
  (block,) = python_blocks("strategies.md")
  scope = {}
  exec(compile(block, "docs/strategies.md", "exec"), scope)
  assert {"doc_class0", "doc_counter"} <= set(strategies.names())
  # The second query bought by the registered score: the top 4 of p(class 0), per seed.
  for seed in range(3):
    context = scope["context"](seed)
    probs = np.asarray(context.outputs.probs)[:, 0]
    unlabeled = ~np.asarray(context.labeled)
    best = np.argsort(-np.where(unlabeled, probs, -1.0))[:4]
    assert sorted(np.asarray(scope["picks"][seed]).tolist()) == sorted(best.tolist())
  # Its info is an array per seed (the first query's count was 0, the second's 1).
  np.testing.assert_array_equal(scope["info"].metrics["queries"], [1.0, 1.0, 1.0])


def test_the_search_page_swaps_the_searchnet_objective():
  (block,) = python_blocks("search.md")
  scope = {}
  exec(compile(block, "docs/search.md", "exec"), scope)
  swapped = np.asarray(scope["metrics"].search_loss)[1::2]  # SearchNet's steps
  # The easy-samples loss is a weighted mean of s CE plus a square: never negative.
  assert np.isfinite(swapped).all() and (swapped >= 0).all()
  # The paper's update from the same start: -mean(s CE) + a square, negative here.
  from autoal_jax.search import step

  run = scope["functools"].partial(
    scope["search"].bilevel_steps, mean=(0.5,), std=(0.25,), config=scope["config"], num_steps=2
  )
  state = scope["state"]
  start = scope["search"].BilevelState(scope["fitnet"], state.search, state.loss)
  data, images, labels = scope["data"], scope["images"], scope["labels"]
  _, paper = run(start, scope["jax"].random.key(2), data, images, labels, np.int32(0))
  assert step.default_updates(scope["config"])[1] is step.search_update
  assert float(paper.search_loss[1]) < 0 <= swapped[0]
