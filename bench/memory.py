"""Peak memory of this process, for benchmarks that run each measurement in a child.

``ru_maxrss`` is no good there: Linux carries it across ``exec``, so a child started with
``spawn`` (fork, then exec) reports at least the parent's resident size at the fork. The
high-water mark of the process's own memory map, ``VmHWM``, starts afresh with the new
program.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_mb() -> float:
    """The most resident memory this process has used so far, in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux
