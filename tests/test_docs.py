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
