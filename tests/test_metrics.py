import numpy as np
import pytest

from autoal_jax import metrics


def test_aubc_equal_rounds_hand_computed():
  # (0.5 / 2 + 0.6 + 0.8 / 2) / 2 = 0.625
  assert metrics.aubc([100, 200, 300], [0.5, 0.6, 0.8]) == pytest.approx(0.625, abs=1e-12)


def test_aubc_matches_deepal_formula_for_many_rounds():
  acc = np.array([0.41, 0.52, 0.58, 0.66, 0.7, 0.73])
  labels = 1000 + 500 * np.arange(6)
  expected = (acc[0] / 2 + acc[1:-1].sum() + acc[-1] / 2) / 5
  assert metrics.aubc(labels, acc) == pytest.approx(expected, abs=1e-12)


def test_aubc_partial_last_round():
  # Trapezoids 100 * 0.55 + 100 * 0.7 + 50 * 0.85 = 167.5 over a quota of 250.
  assert metrics.aubc([100, 200, 300, 350], [0.5, 0.6, 0.8, 0.9]) == pytest.approx(0.67, abs=1e-12)


def test_aubc_constant_curve_is_that_constant():
  assert metrics.aubc([10, 30, 35], [0.7, 0.7, 0.7]) == pytest.approx(0.7)


@pytest.mark.parametrize(
  "labels, acc",
  [([100], [0.5]), ([100, 100], [0.5, 0.6]), ([200, 100], [0.5, 0.6]), ([1, 2, 3], [0.1, 0.2])],
)
def test_aubc_rejects_bad_curves(labels, acc):
  with pytest.raises(ValueError):
    metrics.aubc(labels, acc)


def test_final_accuracy():
  assert metrics.final_accuracy([0.1, 0.5, 0.75]) == 0.75
  with pytest.raises(ValueError):
    metrics.final_accuracy([])


def test_the_table_gives_the_paired_difference_to_the_best_other_strategy():
  from experiments import reporting

  runs = [
    {"strategy": s, "seed": seed, "aubc": a, "f_acc": a}
    for s, values in (("autoal", (0.80, 0.82, 0.81)), ("margin", (0.81, 0.825, 0.815)))
    for seed, a in enumerate(values)
  ]
  table = reporting.format_table(reporting.summarize_runs(runs))
  # Differences -1.0, -0.5, -0.5 points: mean -0.67, SE 0.17.
  diff = np.array([-1.0, -0.5, -0.5])
  se = diff.std(ddof=1) / np.sqrt(3)  # 0.1667
  assert table.splitlines()[-1] == (
    f"autoal: rank 2 of 2 by mean AUBC; the best other strategy is margin "
    f"({diff.mean():+.2f} +- {se:.2f} points paired over 3 seeds, more than one SE)"
  )
  bump = {("autoal", 0): 0.015}  # differences +0.5, -0.5, -0.5: -0.17 +- 0.33, a tie
  tie = [dict(r, aubc=r["aubc"] + bump.get((r["strategy"], r["seed"]), 0)) for r in runs]
  assert "a tie: inside one SE" in reporting.format_table(reporting.summarize_runs(tie))


def test_the_plots_give_every_strategy_its_own_line_style(tmp_path, monkeypatch):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.axes

  from experiments import reporting

  runs = [
    {"strategy": f"s{i}", "seed": 0, "labels": [10, 20], "accuracy": [0.5, 0.6]} for i in range(13)
  ]
  seen = []
  plot = matplotlib.axes.Axes.plot

  def record(ax, *args, **kwargs):
    seen.append((kwargs["color"], kwargs["linestyle"]))
    return plot(ax, *args, **kwargs)

  monkeypatch.setattr(matplotlib.axes.Axes, "plot", record)
  reporting.plot_learning_curves(str(tmp_path / "curves.png"), runs)
  assert len(seen) == 13 and len(set(seen)) == 13  # tab10 alone repeats the 11th colour
  assert seen[10] == ("C0", "--") and (tmp_path / "curves.png").stat().st_size > 0
