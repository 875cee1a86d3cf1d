r"""How many cells the budget sweep's bar fails by chance alone: a paired bootstrap over
each cell's seeds.

  python -m benchmarks.bar_null \
    --stored=docs/results/in_progress/sweep --also=docs/results/sweep \
--compose='autoal@v12=uherding_cvswitch,50:uherding_cvswitch_agree|uherding_cvswitch_k50_agree3' \
    --strategies=autoal@v12,uherding_cvswitch,uherding,maxherding,dropquery,margin [--tie=2]

The bar (issue 28): a strategy fails a cell when its paired regret to the cell's best
single strategy is more than two standard errors above zero; the best is picked after the
fact, among the cell's single strategies (`experiments/configs/sweep.py`'s ``SINGLE``),
from the same noisy means. So even a strategy whose picks were those of the cell's true
best would fail some cells: the maximum of a dozen noisy means sits above the true best's.

Per cell, the seeds are drawn again with replacement (all strategies together: the
pairing kept), ``--draws`` times; in each draw the best single strategy is picked anew and
each strategy's fail decided as the sweep's tables decide it (`sweep.regrets`). Printed:
per strategy, the cells it ran in, its fails in the stored runs, the mean (5th-95th
percentile) number of fails over the draws and the share of draws where it fails none
(the issue's "in no cell"), then cell by cell where one of them fails the stored runs;
and the same for **the oracle**, the cell's
best single strategy in the stored runs, taken as the truth (in each draw it is scored as
a strategy of its own). The oracle's count is what the bar costs a strategy that always
matched the best single strategy. It is low rather than high: the stored best's lead is
itself inflated by the same after-the-fact pick, so the draws' leaders are farther apart
than the true ones, and a seed drawn twice shrinks the paired spread the SE sees the same
way for every strategy. ``--tie=2`` gives the other end: every single strategy the
stored runs cannot tell from the best (within 2 SE) raised to the best's mean, so the
oracle's rivals are as good as it and the after-the-fact pick costs it most.

``--bar=held_out``: the bar against **the best single strategy chosen on the other
seeds** instead: on each seed, the reference is the AUBC of the single strategy whose mean
over the cell's other seeds is the highest (leave one seed out), so the seed a regret is
read on never chose its reference, and the winner's curse of the after-the-fact pick is
gone: the reference is a strategy one could have run (given the cell's other seeds).
A strategy fails where its paired regret to that reference is more than 2 SE above zero.
In the bootstrap draws a seed drawn twice is not among its own "other seeds". The oracle
is scored against it as any strategy (it fails where the held-out choice beats it).
"""

from __future__ import annotations

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
ORACLE = "(oracle)"
BARS = ("after", "held_out")


def reference(runs: np.ndarray, index: np.ndarray, bar: str) -> np.ndarray:
  """Each draw's and seed's reference AUBC. ``runs``: the single strategies' drawn runs
  float[S, D, n] (D draws of n seeds); ``index``: the seeds drawn int[D, n]. ``bar``
  "after": the single strategy with the best mean over the draw's seeds, on every seed;
  "held_out": on each seed, the one with the best mean over the draw's other seeds (the
  seeds of another number; with none, all). -> float[D, n]."""
  if bar not in BARS:
    raise ValueError(f"Unknown bar {bar!r}: {BARS}")
  if bar == "after":
    best = np.argmax(runs.mean(axis=2), axis=0)  # [D]
    return runs[best, np.arange(runs.shape[1])]
  other = (index[:, :, None] != index[:, None, :]).astype(runs.dtype)  # [D, n, n]
  other = np.where(other.sum(axis=2, keepdims=True) > 0, other, 1.0)
  means = np.einsum("sdj,dij->sdi", runs, other) / other.sum(axis=2)[None]  # [S, D, n]
  best = np.argmax(means, axis=0)  # [D, n]
  return np.take_along_axis(runs, best[None], axis=0)[0]


def cell_fails(
  cell: dict, single, strategies, draws: int, rng, tie: float = 0.0, bar: str = "after"
) -> dict:
  """{strategy: bool[draws]}, whether it fails the cell in each bootstrap draw of the
  seeds, for each of ``strategies`` that ran every seed the single strategies ran, and
  for `ORACLE` (the stored best single strategy). ``cell``: {strategy: {seed: AUBC}}.

  ``tie`` > 0: first, every single strategy whose stored paired regret to the best is
  under ``tie`` SE has its runs raised by that regret (its mean the best's, its spread
  its own): the leaders the stored runs cannot tell apart taken as truly tied. ``bar``:
  `reference`'s."""
  singles = [s for s in single if s in cell]
  seeds = sorted(set.intersection(*(set(cell[s]) for s in singles)))
  names = [s for s in strategies if s in cell and set(seeds) <= set(cell[s])]
  table = np.asarray([[cell[s][i] for i in seeds] for s in singles + names])  # [S, n]
  oracle = int(np.argmax(table[: len(singles)].mean(axis=1)))
  if tie > 0.0:
    regret = table[oracle][None] - table[: len(singles)]
    mean = regret.mean(axis=1)
    se = regret.std(axis=1, ddof=1) / np.sqrt(len(seeds))
    tied = mean < tie * se
    table[: len(singles)] += np.where(tied, mean, 0.0)[:, None]
  rows = np.concatenate([table, table[oracle : oracle + 1]])  # the oracle as its own row
  index = rng.integers(0, len(seeds), (draws, len(seeds)))
  drawn = rows[:, index]  # [S', draws, n]
  regret = reference(drawn[: len(singles)], index, bar)[None] - drawn  # [S', draws, n]
  mean = regret.mean(axis=2)
  se = regret.std(axis=2, ddof=1) / np.sqrt(len(seeds))
  fails = mean > 2 * se
  out = {name: fails[len(singles) + i] for i, name in enumerate(names)}
  out[ORACLE] = fails[-1]
  return out


def stored_fail(cell: dict, single, strategy: str, bar: str = "after") -> bool:
  """Whether ``strategy`` fails the stored cell (``bar`` "after": the sweep's tables'
  decision; "held_out": against `reference`'s held-out choice, on the seeds every single
  strategy and it ran)."""
  from benchmarks import sweep

  if bar != "after":
    singles = [s for s in single if s in cell]
    if strategy not in cell:
      return False
    seeds = sorted(set.intersection(*(set(cell[s]) for s in [*singles, strategy])))
    runs = np.asarray([[cell[s][i] for i in seeds] for s in singles])[:, None]
    ref = reference(runs, np.arange(len(seeds))[None], bar)[0]
    diff = ref - np.asarray([cell[strategy][i] for i in seeds])
    return len(seeds) > 1 and diff.mean() > 2 * diff.std(ddof=1) / np.sqrt(len(seeds))
  best, table = sweep.regrets(cell, single)
  if strategy not in table or strategy == best:
    return False
  mean, se, _ = table[strategy]
  return mean > 2 * se


def table(cells: dict, single, strategies, draws=2000, seed=0, tie=0.0, bar="after") -> str:
  """The markdown table of the module's doc string (``tie``, ``bar``: `cell_fails`')."""
  rng = np.random.default_rng(seed)
  counts, stored, ran, failed = {}, {}, {}, []
  for key in sorted(cells):
    cell = cells[key]
    if not any(s in cell for s in single):
      continue
    rates = {}
    here = {name: stored_fail(cell, single, name, bar) for name in strategies}
    for name, fails in cell_fails(cell, single, strategies, draws, rng, tie, bar).items():
      counts[name] = counts.get(name, 0) + fails.astype(np.int64)
      ran[name] = ran.get(name, 0) + 1
      rates[name] = float(fails.mean())
      if name != ORACLE:
        stored[name] = stored.get(name, 0) + here[name]
    if any(here.values()):
      failed.append((key, rates, here))
  tied = f"; single strategies within {tie:g} SE of the best raised to it" if tie else ""
  against = {
    "after": "the cell's best single strategy",
    "held_out": "the single strategy chosen on the cell's other seeds",
  }[bar]
  lines = [
    f"Fails of the bar (more than 2 SE under {against}) in {draws} "
    f"paired bootstrap draws of each cell's seeds{tied}\n",
    "| strategy | cells | fails (stored runs) | fails over the draws: mean (5th-95th pct) "
    "| draws with no fail |",
    "|---|---|---|---|---|",
  ]
  for name in [ORACLE, *[s for s in strategies if s in counts]]:
    low, high = np.percentile(counts[name], [5, 95])
    shown = "-" if name == ORACLE else str(stored[name])
    none = np.mean(counts[name] == 0)
    lines.append(
      f"| {name} | {ran[name]} | {shown} | {counts[name].mean():.1f} ({low:.0f}-{high:.0f}) "
      f"| {100 * none:.0f}% |"
    )
  lines += [
    "\nThe cells where one of them fails in the stored runs: each one's share of the draws "
    "where it fails the cell (* it fails the stored runs)\n",
    f"| cell | {ORACLE} | " + " | ".join(strategies) + " |",
    "|---|---|" + "---|" * len(strategies),
  ]
  for (dataset, budget), rates, here in failed:
    entries = []
    for name in strategies:
      star = "*" if here[name] else ""
      entries.append(f"{100 * rates[name]:.0f}%{star}" if name in rates else "")
    lines.append(
      f"| {dataset}-{budget} | {100 * rates[ORACLE]:.0f}% | " + " | ".join(entries) + " |"
    )
  return "\n".join(lines)


def main(argv):
  del argv
  from benchmarks import sweep
  from experiments.configs import sweep as config

  cells = sweep.composed_cells([*FLAGS.also, FLAGS.stored], FLAGS.compose)
  print(
    table(cells, config.SINGLE, FLAGS.strategies, FLAGS.draws, FLAGS.seed, FLAGS.tie, FLAGS.bar)
  )


if __name__ == "__main__":
  flags.DEFINE_string("stored", "docs/results/sweep", "Where finished cells are stored.")
  flags.DEFINE_list("also", [], "More folders of stored cells, merged with --stored's.")
  flags.DEFINE_multi_string("compose", [], "A composed row (benchmarks.sweep --compose).")
  flags.DEFINE_list("strategies", [], "The strategies to count (beside the oracle).")
  flags.DEFINE_integer("draws", 2000, "Bootstrap draws per cell.")
  flags.DEFINE_integer("seed", 0, "The draws' seed.")
  flags.DEFINE_float("tie", 0.0, "Single strategies within this many SE of the best: tied.")
  flags.DEFINE_enum("bar", "after", BARS, "The reference: picked after the fact, or held out.")
  app.run(main)
