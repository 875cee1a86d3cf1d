"""Writing an experiment's results: results.json, curves.csv, the plots, the AUBC table.

Every file is written atomically (a temporary file in the same folder, then `os.replace`),
so a reader or a killed run never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile

import numpy as np


def atomic_write(path: str, data: bytes) -> None:
  """Writes ``data`` to ``path`` atomically (same-folder temporary file + rename)."""
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(tmp)
    raise


def summarize_runs(runs: list[dict]) -> dict:
  """Per strategy: mean and std (over seeds, ddof=1; 0 for one seed) of AUBC and F-acc, and
  each seed's AUBC (``aubc_values``, in the order of ``seeds``) for paired differences."""
  summary = {}
  for strategy in dict.fromkeys(run["strategy"] for run in runs):
    chosen = [run for run in runs if run["strategy"] == strategy]
    entry = {
      "seeds": [run["seed"] for run in chosen],
      "aubc_values": [run["aubc"] for run in chosen],
    }
    for metric in ("aubc", "f_acc"):
      values = np.asarray([run[metric] for run in chosen], np.float64)
      entry[f"{metric}_mean"] = float(values.mean())
      entry[f"{metric}_std"] = float(values.std(ddof=1)) if values.size > 1 else 0.0
    summary[strategy] = entry
  return summary


def write_results(workdir: str, config: dict, runs: list[dict]) -> dict:
  """Writes results.json (config, runs, summary) and curves.csv; returns the summary."""
  summary = summarize_runs(runs)
  payload = {"config": config, "runs": runs, "summary": summary}
  atomic_write(os.path.join(workdir, "results.json"), json.dumps(payload, indent=1).encode())
  buffer = io.StringIO()
  writer = csv.writer(buffer)
  writer.writerow(
    ["strategy", "seed", "round", "labels", "accuracy", "train_seconds", "query_seconds"]
  )
  for run in runs:
    for r, (labels, accuracy) in enumerate(zip(run["labels"], run["accuracy"], strict=True)):
      seconds = run["seconds"]
      writer.writerow(
        [
          run["strategy"],
          run["seed"],
          r,
          labels,
          f"{accuracy:.6f}",
          f"{seconds['train'][r]:.3f}",
          f"{seconds['query'][r]:.3f}",
        ]
      )
  atomic_write(os.path.join(workdir, "curves.csv"), buffer.getvalue().encode())
  return summary


def _pyplot():
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  return plt


def _save_figure(plt, fig, path: str) -> None:
  fig.tight_layout()
  buffer = io.BytesIO()
  fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")  # room for the legend
  plt.close(fig)
  atomic_write(path, buffer.getvalue())


def line_styles(n: int) -> list[dict]:
  """n distinct matplotlib line styles: the ten default colours, then the same colours
  dashed, dotted, dash-dotted (a comparison runs up to 16 strategies; colour alone
  repeats past ten)."""
  dashes = ("-", "--", ":", "-.")
  return [dict(color=f"C{i % 10}", linestyle=dashes[(i // 10) % len(dashes)]) for i in range(n)]


def plot_learning_curves(path: str, runs: list[dict], title: str = "") -> None:
  """Test accuracy against labels: per strategy the mean over seeds and a +-1 std band."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(7, 4.5))
  strategies = list(dict.fromkeys(run["strategy"] for run in runs))
  for strategy, style in zip(strategies, line_styles(len(strategies)), strict=True):
    chosen = [run for run in runs if run["strategy"] == strategy]
    labels = np.asarray(chosen[0]["labels"])
    accuracy = np.asarray([run["accuracy"] for run in chosen]) * 100
    mean, std = accuracy.mean(0), accuracy.std(0, ddof=1) if len(chosen) > 1 else 0 * labels
    label = f"{strategy} (n={len(chosen)})"
    ax.plot(labels, mean, marker="o", markersize=3, label=label, **style)
    ax.fill_between(labels, mean - std, mean + std, color=style["color"], alpha=0.2)
  ax.set_xlabel("labeled samples")
  ax.set_ylabel("test accuracy (%)")
  ax.set_title(title or "Active learning curves (mean +- 1 std over seeds)")
  ax.grid(alpha=0.3)
  if len(strategies) > 6:  # a long legend would cover the curves: beside the axes
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
  else:
    ax.legend()
  _save_figure(plt, fig, path)


def has_weights(run: dict) -> bool:
  """Whether a run's queries reported strategy weights (a mixture's, a bandit's), not only
  metrics (Uncertainty Herding's temperature and kernel width)."""
  return bool(run.get("search")) and "weights" in run["search"][0]


def plot_strategy_weights(path: str, runs: list[dict], title: str = "") -> None:
  """The weight of each candidate per round (mean over seeds), one panel per mixture.

  AutoAL's strategies (autoal, autoal-code): the mean strategy weight over the round's
  picks, one line per column. ALBL: the bandit's probability of each arm at the draw.
  """
  plt = _pyplot()
  searched = list(dict.fromkeys(run["strategy"] for run in runs if has_weights(run)))
  fig, axes = plt.subplots(1, len(searched), figsize=(7 * len(searched), 4.5), squeeze=False)
  for ax, strategy in zip(axes[0], searched, strict=True):
    chosen = [run for run in runs if run["strategy"] == strategy]
    columns = list(chosen[0]["search"][0]["weights"])
    labels = np.asarray(chosen[0]["labels"][: len(chosen[0]["search"])])
    for column, style in zip(columns, line_styles(len(columns)), strict=True):
      weights = np.asarray([[r["weights"][column] for r in run["search"]] for run in chosen])
      ax.plot(labels, weights.mean(0), marker="o", markersize=3, label=column, **style)
    ax.axhline(1 / len(columns), color="grey", linestyle=":", label="uniform")
    ax.set_xlabel("labeled samples at the search")
    albl = "arm" in chosen[0]["search"][0]
    ax.set_ylabel("arm probability at the draw" if albl else "mean weight over the picks")
    ax.set_title(f"{strategy} (n={len(chosen)})" + (f", {title}" if title else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  _save_figure(plt, fig, path)


def format_table(summary: dict, focus: str = "autoal") -> str:
  """The AUBC table, best mean first: rank, strategy, AUBC and F-acc as mean +- std (%).

  When ``focus`` ran (and others did), a last line gives its rank and the best of the
  others, with the difference in mean AUBC paired by seed (mean +- standard error over the
  seeds both ran; inside one SE it says "a tie").
  """
  rows = sorted(summary.items(), key=lambda item: -item[1]["aubc_mean"])
  width = max([len("strategy")] + [len(name) for name, _ in rows])
  lines = [
    f"{'rank':>4}  {'strategy':<{width}}  {'seeds':>5}  {'AUBC (%)':>15}  {'F-acc (%)':>15}",
    "-" * (width + 47),
  ]
  for rank, (name, entry) in enumerate(rows, 1):
    aubc = f"{100 * entry['aubc_mean']:.2f} +- {100 * entry['aubc_std']:.2f}"
    f_acc = f"{100 * entry['f_acc_mean']:.2f} +- {100 * entry['f_acc_std']:.2f}"
    lines.append(f"{rank:>4}  {name:<{width}}  {len(entry['seeds']):>5}  {aubc:>15}  {f_acc:>15}")
  names = [name for name, _ in rows]
  if focus in summary and len(rows) > 1:
    best = next(name for name in names if name != focus)
    lines.append(
      f"{focus}: rank {names.index(focus) + 1} of {len(rows)} by mean AUBC; the best other "
      f"strategy is {best} ({paired_gap(summary[focus], summary[best])})"
    )
  return "\n".join(lines)


def paired_gap(a: dict, b: dict) -> str:
  """a minus b in AUBC points, paired by seed: 'd +- se points over n seeds', with a verdict."""
  values_a = dict(zip(a["seeds"], a.get("aubc_values", []), strict=False))
  values_b = dict(zip(b["seeds"], b.get("aubc_values", []), strict=False))
  common = sorted(set(values_a) & set(values_b))
  if len(common) < 2:
    return f"{100 * (a['aubc_mean'] - b['aubc_mean']):+.2f} points in mean AUBC, unpaired"
  diff = 100 * np.asarray([values_a[s] - values_b[s] for s in common])
  se = diff.std(ddof=1) / np.sqrt(len(diff))
  verdict = "a tie: inside one SE" if abs(diff.mean()) <= se else "more than one SE"
  return f"{diff.mean():+.2f} +- {se:.2f} points paired over {len(common)} seeds, {verdict}"


def info_entry(info, weight_names) -> dict | None:
  """A query's `QueryInfo` as its results.json entry (the strategy weights by name, a
  bandit's arm and reward, a search's metrics); None when the query reports none of them."""
  if info is None or (len(info.weights) == 0 and not info.metrics):
    return None
  entry = {}
  if len(info.weights):
    entry["weights"] = {n: float(w) for n, w in zip(weight_names, info.weights, strict=True)}
  if info.arm >= 0:
    entry["arm"] = weight_names[info.arm]
  if not math.isnan(info.reward):
    entry["reward"] = float(info.reward)
  entry.update({k: float(v) for k, v in info.metrics.items()})
  return entry


def format_info(entry: dict, search_seconds: float) -> str:
  """One log line of an `info_entry`."""
  weights = ", ".join(f"{k} {v:.2f}" for k, v in entry.get("weights", {}).items())
  if "arm" in entry:
    reward = entry.get("reward", float("nan"))
    return f"drew {entry['arm']} (reward {reward:.3f}); arm probabilities: {weights}"
  metrics = ", ".join(
    f"{k} {v:.4g}" for k, v in entry.items() if k not in ("weights", "arm", "reward")
  )
  head = f"search {search_seconds:.1f}s: {metrics}; " if search_seconds > 0 else ""
  if not head and metrics:
    head = f"{metrics}; "
  if not weights:  # metrics only (Uncertainty Herding's temperature and kernel width)
    return head.rstrip("; ")
  return f"{head}weights over the picks: {weights}"
