"""Summary metrics of an active-learning curve: AUBC and final accuracy (F-acc)."""

from __future__ import annotations

import numpy as np


def aubc(num_labels, accuracy) -> float:
  """Area under the budget curve (DeepAL+, Zhan et al. 2022; AutoAL's ``get_aubc``).

  The trapezoid area under test accuracy against the number of labels, divided by the
  number of labels queried after the initial set (the quota). With R equal rounds this is
  ``(acc0 / 2 + acc1 + ... + acc_{R-1} + accR / 2) / R``; a partial last round is a
  narrower trapezoid. Full precision: round only when printing.

  Args:
    num_labels: [R + 1] labeled-set size after each round (round 0 = initial set),
      strictly increasing.
    accuracy: [R + 1] test accuracy after each round.

  Returns:
    The AUBC in the units of ``accuracy``.
  """
  n = np.asarray(num_labels, dtype=np.float64)
  acc = np.asarray(accuracy, dtype=np.float64)
  if n.ndim != 1 or n.shape != acc.shape:
    raise ValueError(f"num_labels {n.shape} and accuracy {acc.shape} must be equal 1-D shapes")
  if n.size < 2:
    raise ValueError("AUBC needs at least two points (the initial set and one round)")
  widths = np.diff(n)
  if np.any(widths <= 0):
    raise ValueError(f"num_labels must be strictly increasing, got {n.tolist()}")
  area = np.sum(widths * (acc[1:] + acc[:-1]) / 2.0)
  return float(area / (n[-1] - n[0]))


def final_accuracy(accuracy) -> float:
  """F-acc: the test accuracy after the last round."""
  acc = np.asarray(accuracy, dtype=np.float64)
  if acc.ndim != 1 or acc.size == 0:
    raise ValueError(f"accuracy must be a non-empty 1-D sequence, got shape {acc.shape}")
  return float(acc[-1])
