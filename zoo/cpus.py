"""How many CPU cores this process may use (without importing TensorFlow: pytest's conftest asks it too)."""

from __future__ import annotations

import os
from pathlib import Path


def usable_cpus() -> int:
    """The CPU cores this process may run on: its affinity mask (``os.sched_getaffinity``), capped by a cgroup
    CPU quota (``/sys/fs/cgroup/cpu.max``, cgroup v2) when one is set; ``os.cpu_count()`` counts the machine's."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux: no affinity to read
        count = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return max(1, count)
    if quota != "max" and int(period) > 0:
        count = min(count, -(-int(quota) // int(period)))
    return max(1, count)
