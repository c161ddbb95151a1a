"""Opening a container's cgroup files as a row of file descriptors for the readers.

A row has one slot per `FileSpec` of the layout; -1 marks an optional file this kernel or
hierarchy does not have (its columns stay absent). A missing required file means the
container has no cgroup (not started yet, or gone), reported as None.
"""

from __future__ import annotations

import os

from kcore.kubelet.stats.layout import Layout

_FLAGS = os.O_RDONLY | os.O_CLOEXEC


def open_row(layout: Layout, rel: str) -> list[int] | None:
    fds: list[int] = []
    for spec in layout.files:
        path = layout.file_path(spec, rel)
        fd = _open(path) if path is not None else -1
        if fd < 0 and spec.required:
            close_row(fds)
            return None
        fds.append(fd)
    return fds


def close_row(fds: list[int]) -> None:
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def _open(path: os.PathLike[str]) -> int:
    try:
        return os.open(path, _FLAGS)
    except OSError:
        return -1
