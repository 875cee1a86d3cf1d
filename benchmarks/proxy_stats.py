"""The proxy check's statistics (`benchmarks.proxy_check`): Spearman correlation and regret
per state, as a markdown table. NumPy only, so that tests import it without flags."""

from __future__ import annotations

PROXIES = ("paper", "align", "align_red", "lookahead")


def spearman(x, y) -> float:
  """Spearman's rank correlation (average ranks for ties)."""
  import numpy as np

  def ranks(v):
    v = np.asarray(v, np.float64)
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    r[order] = np.arange(len(v))
    for value in np.unique(v):  # ties share their mean rank
      r[v == value] = r[v == value].mean()
    return r

  a, b = ranks(x), ranks(y)
  if a.std() == 0 or b.std() == 0:
    return float("nan")
  return float(np.corrcoef(a, b)[0, 1])


def table(results: dict) -> str:
  """Markdown: per state and proxy, Spearman and regret; then the means over states."""
  import numpy as np

  lines = ["| state | real gain, best -> worst (test acc %) | "
           + " | ".join(f"{p}: rho / regret" for p in PROXIES) + " |"]  # fmt: skip
  lines.append("|---" * (2 + len(PROXIES)) + "|")
  summary = {p: ([], []) for p in PROXIES}
  for state, entry in sorted(results.items()):
    gains = entry["gain"]
    best = max(gains.values())
    ranked = sorted(gains, key=gains.get, reverse=True)
    cells = []
    for proxy in PROXIES:
      values = entry["proxies"][proxy]
      names = list(gains)
      rho = spearman([values[n] for n in names], [gains[n] for n in names])
      preferred = max(names, key=lambda n: values[n])
      regret = 100 * (best - gains[preferred])
      summary[proxy][0].append(rho)
      summary[proxy][1].append(regret)
      cells.append(f"{rho:+.2f} / {regret:.2f} ({preferred})")
    real = ", ".join(f"{n} {100 * gains[n]:.2f}" for n in ranked)
    lines.append(f"| {state} (L = {entry['num_labeled']}) | {real} | " + " | ".join(cells) + " |")
  mean = []
  for proxy in PROXIES:
    rho, regret = summary[proxy]
    finite = [v for v in rho if not np.isnan(v)]  # a constant proxy has no correlation
    rho_mean = float(np.mean(finite)) if finite else float("nan")
    mean.append(f"{rho_mean:+.2f} / {np.mean(regret):.2f}" if rho else "-")
  lines.append(f"| mean of {len(results)} states | | " + " | ".join(mean) + " |")
  # The bar a proxy must clear: always the same candidate, whatever the state.
  fixed = {}
  for entry in results.values():
    best = max(entry["gain"].values())
    for name, value in entry["gain"].items():
      fixed.setdefault(name, []).append(100 * (best - value))
  ranked = sorted(fixed, key=lambda n: np.mean(fixed[n]))
  lines += ["", "Mean regret of always choosing one candidate (points):", ""]
  lines.append("| " + " | ".join(ranked) + " |")
  lines.append("|---" * len(ranked) + "|")
  lines.append("| " + " | ".join(f"{np.mean(fixed[n]):.2f}" for n in ranked) + " |")
  return "\n".join(lines)
