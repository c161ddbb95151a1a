"""Container runtimes of the kubelet: Docker (real) and fake (hollow nodes).

This package is the only place in kcore that imports `docker` (an import-linter contract).
"""

from __future__ import annotations

from kcore.kubelet.runtime.fake import FakeRuntime
from kcore.kubelet.runtime.types import (
    ContainerInfo,
    ContainerSpec,
    ImagePullError,
    LogOptions,
    Mount,
    Runtime,
    RuntimeError_,
)


def make_runtime(kind: str) -> Runtime:
    """ "docker" or "fake"."""
    if kind == "fake":
        return FakeRuntime()
    if kind == "docker":
        from kcore.kubelet.runtime.docker import DockerRuntime

        return DockerRuntime()
    raise ValueError(f"unknown runtime {kind!r} (docker, fake)")


__all__ = [
    "ContainerInfo",
    "ContainerSpec",
    "FakeRuntime",
    "ImagePullError",
    "LogOptions",
    "Mount",
    "Runtime",
    "RuntimeError_",
    "make_runtime",
]
