r"""Uncertainty Herding's two changes to MaxHerding, taken away one at a time: the
experiment CLI (`experiments.main`) with two more strategies registered.

- ``uherding_sigma1``: UHerding at MaxHerding's fixed kernel width (1 on L2-normalised
  embeddings) instead of its shrinking one (the smallest distance between two labeled
  samples); its uncertainty weights kept.
- ``uherding_same``: UHerding unchanged (the control: the two above against it are paired
  by seed and run by the same code, whatever the cell's own UHerding run was run by).
- ``uherding_flat``: UHerding's shrinking width with weights of 1 instead of its
  uncertainties (MaxHerding's greedy step at UHerding's width).
- ``uherding_gated_min``: `uherding_gated` (v8's leader: the greedy step covers and picks
  only where the calibrated model expects its errors) at UHerding's own width (the
  smallest nearest-labeled distance) instead of the median: a development probe for the
  cells at 50 labels per class where v8's and v10's leaders fail and UHerding's narrower
  width passes or fails less (docs/results.md, the eleventh session).
- ``uherding_gated_cover``: `uherding_gated` whose kernel width is the radius at which the
  query's k balls cover the gate (`uherding.cover_width`): set by the query size and the
  gate, not by the labeled set (a development probe, the eleventh session).
- ``uherding_gated_q10``: `uherding_gated` at the lower 10% quantile of the
  nearest-labeled distances (between UHerding's smallest and the median; a development
  probe, the eleventh session: does a width not set by the single densest pair keep the
  smallest one's results at 50 per class without its trap problem?).
- ``uherding_gated_r1``, ``uherding_gated_r25``: `uherding_gated` at the r-th smallest
  nearest-labeled distance, r = 1 or 2.5 per class (`kernel_width(statistic="ranked")`),
  not above the median: the median's width at a few labels per class, narrowing towards
  UHerding's smallest one as the labeled set grows (development probes, the twelfth
  session: the median won below 50 per class, the smallest at 50).
- ``uherding_gated_at50``: `uherding_gated` at the median width while the labeled set has
  under 50 labels per class, at UHerding's smallest from 50 on (`uherding.strategy`'s
  ``narrow_from``; a development probe, the twelfth session: the smallest width passed
  every cell that starts at 50 per class, the median won in those that start at 5-20;
  does a run that crosses 50 per class lose by narrowing there?).
- ``uherding_cvswitch_k50_agree``: v11's leader (`uherding_cvswitch_k50`: v10's, its gate
  at UHerding's smallest width in queries of 50 picks per class) whose narrow gate and
  weights count only the uncertainty labels can reduce (`uherding.label_agreement`: the
  labeled neighbours' agreement beyond chance; a development probe, the thirteenth
  session: v11 won the blobs and tied the margin case at 50, and lost both fresh trap
  draws, where a narrow kernel keeps buying in the cluster of random labels).
  ``uherding_cvswitch_k50_agree2``: the same, each sample wholly reducible from half
  the excess agreement on (`label_agreement`'s ``scale`` = 0.5): the first lost the
  blobs at 50, where overlapping classes agree at 0.3-0.8 of the way from chance to
  perfect and every weight was discounted. ``uherding_cvswitch_k50_agree3``: from a fifth
  on (``scale`` = 0.2): the second lost the blobs at 50 too (0.96 +- 0.49 under
  DropQuery, v11's width 0.38 +- 0.37); over the stored runs of v11's narrow gate
  (`uherding_gated_min`) on the trap at 20 and 50 (two draws), the blobs and the margin
  case at 50, the picks in the trap's cluster had an excess agreement under 0.12 (95th
  percentile), those of the blobs and the margin case over 0.26 (5th), read on the raw
  features; on the standardised ones the strategies measure on
  (`benchmarks/agreement_picks.py`) the cluster's median is 0.16-0.23 and the others' 5th
  percentile 0.17-0.27.
- ``uherding_cvswitch_agree_wide``: v12's leader (`uherding_cvswitch_agree`) whose gate
  counts only reducible uncertainty at the median width too, in every query (a
  development probe for the one-label trap cells, where v10 is 5 points under margin:
  does the cluster of random labels drop out of the gate once a few of its labels
  disagree?).
- ``uherding_gated_flat``: `uherding_gated` whose greedy step weighs every sample of the
  gate alike (MaxHerding's coverage of the expected-error region, as DropQuery clusters
  its uncertain candidates; a development probe, the fourteenth session: the cells v10
  and v14 fail at 10 per class want DropQuery's, Cluster-Margin's or MC dropout's picks).
- ``uherding_cvswitch_agree_q10``: v12's leader whose gate, in queries of 10 to 49 picks
  per class, covers at the 10% quantile of the nearest-labeled distances (`kernel_width`'s
  ``q10``) instead of the median (`uherding.strategy`'s ``mid_query``): where the switch
  keeps the gate it is ``uherding_gated_q10`` pick for pick in those queries (the
  fourteenth session: that probe was 0.70 +- 0.21 ahead of v10 on the margin case at 10,
  behind on the trap at 10 and 20 inside 2 SE). ``uherding_cvswitch_agree_q10r``: the
  same with v12's reducible discount (scale 0.2) in that tier too (``mid_reducible``).
- ``uherding_cvswitch_agree_mc``: v12's leader whose weights and gate read the task
  model's MC-dropout predictive distribution (the mean of its passes' probabilities;
  `uherding.strategy`'s ``mc``) instead of its deterministic pass (a development probe,
  the fifteenth session: the cells v12 fails at 10 per class and 10:1 Fashion-MNIST at 50
  were won by var_ratio_mc, Cluster-Margin and DropQuery, whose uncertainty sees dropout).
- ``uherding_cvswitch_agree_sharp``: v12's leader whose calibration's temperature grid
  reaches down to 0.1 (`uherding.SHARP_TEMPERATURES`; the released code's starts at 1): a
  development probe, the fifteenth session: on both Fashion-MNIST pools at 50 per class
  the fitted temperature sits at the grid's lower bound from the second query on, and
  v12 fails the 10:1 pool there; a sharper temperature counts fewer expected errors and
  narrows the gate.
- ``uherding_cvswitch_agree_errgate``: v12's leader whose gate keeps as many samples as
  the calibration copy's held-out error rate says it gets wrong (`uherding.strategy`'s
  ``gate_count="held_out"``) instead of the errors its calibrated probabilities expect (a
  development probe, the sixteenth session: where the switch keeps the gate, v12's gate
  holds about 1.5 times the test error's share of the pool in the margin case at 10 and
  10:1 Fashion-MNIST at 50, whose fitted temperatures, 2-16 at 10 per class, are set on
  9-12 held-out labels; the cells it fails there are won by margin, DropQuery and
  Cluster-Margin, narrower than its gate). Ran as a probe of this module at 07aa1cd on
  four cells, then moved to the library under the same name, the same options
  (`uherding.cv_switch_agree_errgate_strategy`, v16's leader).
- ``uherding_w025``, ``uherding_w05``, ``uherding_w075``: `uherding_wide` (the weighted
  greedy step over the open pool) at the fixed kernel widths 0.25, 0.5 and 0.75 on the
  L2-normalised embeddings instead of 1: a grid of widths on the raw geometry's twelve
  development cells (the twentieth session), to read off each cell's best width and check
  which statistic of the pool tracks it, before any width rule is written.
- ``uherding_two_scale``: `uherding_median` (the weighted greedy step over the open pool
  at the median nearest-labeled width) whose kernel is the mean of the Gaussians at that
  width and at MaxHerding's 1 (`uherding.strategy`'s ``two_scale``; a development probe,
  the twentieth session: the grid says the blobs want 1 and the low-budget case the
  median; does coverage counted at both scales serve both?).
- ``uherding_median_unnorm``, ``uherding_cvswitch_unnorm``: `uherding_median` and v12's
  leader (`uherding_cvswitch`) with every distance on the embedding as it is instead of
  its L2-normalised rows (`uherding.strategy`'s ``unit_norm``; a development probe, the
  twentieth session: on the raw blobs the narrow-width herdings buy points of large norm,
  the outer blobs, which the normalisation packs densest on the sphere).

Run as a sweep cell's later strategies (paired with the cell's runs by seed):

  python -m benchmarks.sweep --later=uherding_same,uherding_sigma1,uherding_flat \
      --module=benchmarks.herding_ablation --datasets=trap --budgets=1,2,5,10,20

The question (docs/results.md, the synthetic first pass): which of the two draws UHerding
into the trap's cluster of random labels, where MaxHerding is the best single strategy.
"""

from __future__ import annotations

import functools
import sys

from absl import app

from autoal_jax.strategies import registry, uherding


def _agree(scale: float, wide: float = 0.0) -> dict:
  """v11's leader's options with the reducible gate at ``scale`` (``wide``: at the median
  width too)."""
  return dict(
    uherding.CV_SWITCH_OPTIONS,
    narrow_query=uherding.NARROW_QUERY,
    reducible=scale,
    reducible_wide=wide,
  )


ABLATIONS = {
  "uherding_sigma1": dict(sigma=1.0),
  "uherding_flat": dict(weighted=False),
  "uherding_same": dict(),  # the control: UHerding unchanged, by this code, in this folder
  "uherding_gated_min": dict(gate=True),
  "uherding_gated_cover": dict(gate=True, statistic="cover"),
  "uherding_gated_q10": dict(gate=True, statistic="q10"),
  "uherding_gated_r1": dict(gate=True, statistic="ranked", rank_per_class=1.0),
  "uherding_gated_r25": dict(gate=True, statistic="ranked", rank_per_class=2.5),
  "uherding_gated_at50": dict(gate=True, statistic="median", narrow_from=50.0),
  "uherding_cvswitch_k50_agree": _agree(1.0),
  "uherding_cvswitch_k50_agree2": _agree(0.5),
  "uherding_cvswitch_k50_agree3": _agree(0.2),
  "uherding_cvswitch_agree_wide": _agree(uherding.REDUCIBLE_SCALE, uherding.REDUCIBLE_SCALE),
  "uherding_cvswitch_agree_q10": dict(_agree(uherding.REDUCIBLE_SCALE), mid_query=10.0),
  "uherding_gated_flat": dict(gate=True, statistic="median", weighted=False),
  "uherding_cvswitch_agree_q10r": dict(
    _agree(uherding.REDUCIBLE_SCALE), mid_query=10.0, mid_reducible=True
  ),
  "uherding_w025": dict(sigma=0.25),
  "uherding_w05": dict(sigma=0.5),
  "uherding_w075": dict(sigma=0.75),
  "uherding_two_scale": dict(statistic="median", two_scale=1.0),
  "uherding_median_unnorm": dict(statistic="median", unit_norm=False),
  "uherding_cvswitch_unnorm": dict(uherding.CV_SWITCH_OPTIONS, unit_norm=False),
  "uherding_cvswitch_agree_mc": dict(_agree(uherding.REDUCIBLE_SCALE), mc=True),
  "uherding_cvswitch_agree_sharp": dict(
    _agree(uherding.REDUCIBLE_SCALE), temperatures=uherding.SHARP_TEMPERATURES
  ),
}


def register() -> None:
  """Registers the ablations (once)."""
  for name, kwargs in ABLATIONS.items():
    if not registry.is_registered(name):
      build = functools.partial(uherding.strategy, name=name, **kwargs)
      registry.register(name, build, f"ablation of uherding: {kwargs}")


if __name__ == "__main__":
  register()
  from experiments import main as cli

  sys.exit(app.run(cli.main, flags_parser=cli._parse_flags))
