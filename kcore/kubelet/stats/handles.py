"""Opening a container's cgroup files as a row of file descriptors for the readers.

A row has one slot per `FileSpec` of the layout; -1 marks an optional file this kernel or
hierarchy does not have (its columns stay absent). A missing required file means the
container has no cgroup (not started yet, or gone), reported as None. Paths are computed once
per container as plain strings, since transient rows reopen them on every pass.
"""

from __future__ import annotations

import os
import resource

from kcore.kubelet.stats.layout import Layout

_FLAGS = os.O_RDONLY | os.O_CLOEXEC
_RESERVED_FDS = 4096  # left to the rest of the kubelet (sockets, Docker, files)


class RowFiles:
    """The file paths of one container, in the layout's FileSpec order."""

    __slots__ = ("paths", "required")

    def __init__(self, layout: Layout, rel: str) -> None:
        paths = (layout.file_path(spec, rel) for spec in layout.files)
        self.paths = [None if p is None else str(p) for p in paths]
        self.required = [spec.required for spec in layout.files]

    def open(self) -> list[int] | None:
        fds: list[int] = []
        for path, required in zip(self.paths, self.required, strict=True):
            fd = _open(path) if path is not None else -1
            if fd < 0 and required:
                close_row(fds)
                return None
            fds.append(fd)
        return fds


def open_row(layout: Layout, rel: str) -> list[int] | None:
    return RowFiles(layout, rel).open()


def close_row(fds: list[int]) -> None:
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def default_open_budget() -> int:
    """Descriptors the sampler may hold: the soft RLIMIT_NOFILE less a reserve."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return max(0, soft - _RESERVED_FDS)


def _open(path: str) -> int:
    try:
        return os.open(path, _FLAGS)
    except OSError:
        return -1
