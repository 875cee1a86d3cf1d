"""Peak resident memory of this process, from Linux's /proc (shared by the benchmarks)."""

from __future__ import annotations


def _status_mb(field: str) -> float:
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1]) / 1024
  raise KeyError(field)


def reset_peak() -> float:
  """Resets the kernel's peak-RSS mark (VmHWM) and returns the current RSS in MB."""
  with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
  return _status_mb("VmRSS")


def peak_mb() -> float:
  """The peak RSS in MB since the last `reset_peak` (or the start)."""
  return _status_mb("VmHWM")
