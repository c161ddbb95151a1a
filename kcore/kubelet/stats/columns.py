"""The columns of one container sample: cumulative cgroup counters and gauges as int64.

Every reader (the Cython kernel, the pure-Python reference) fills the same row layout, so a
sampling pass writes straight into the history ring. A column a cgroup layout cannot provide
stays `ABSENT`. CPU times are nanoseconds whatever unit the kernel file uses.
"""

from __future__ import annotations

from typing import Final

ABSENT: Final = -1

CPU_NS: Final = 0
CPU_USER_NS: Final = 1
CPU_SYSTEM_NS: Final = 2
CFS_PERIODS: Final = 3
CFS_THROTTLED_PERIODS: Final = 4
CFS_THROTTLED_NS: Final = 5
MEM_USAGE: Final = 6
MEM_RSS: Final = 7
MEM_CACHE: Final = 8
MEM_INACTIVE_FILE: Final = 9
MEM_PGFAULT: Final = 10
MEM_PGMAJFAULT: Final = 11
MEM_SWAP: Final = 12
OOM_KILLS: Final = 13
PIDS: Final = 14
MEM_WORKING_SET: Final = 15  # derived after a pass: usage - inactive_file, floored at 0

COUNT: Final = 16

NAMES: Final = (
    "cpu_ns",
    "cpu_user_ns",
    "cpu_system_ns",
    "cfs_periods",
    "cfs_throttled_periods",
    "cfs_throttled_ns",
    "mem_usage",
    "mem_rss",
    "mem_cache",
    "mem_inactive_file",
    "mem_pgfault",
    "mem_pgmajfault",
    "mem_swap",
    "oom_kills",
    "pids",
    "mem_working_set",
)
