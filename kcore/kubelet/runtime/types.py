"""What the kubelet asks of a container runtime, in plain dataclasses (no Docker types).

The pod workers speak only this vocabulary; `docker.py` maps it onto the Docker engine and
`fake.py` onto memory (hollow nodes). Containers are found again after a kubelet restart by
their labels, so everything the kubelet must remember about a container lives in `LABELS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

LABEL_NODE = "io.kcore.node"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_CONTAINER = "io.kubernetes.container.name"
LABEL_RESTARTS = "io.kubernetes.container.restartCount"
LABEL_INIT = "io.kcore.container.init"
LABEL_POD_IP = "io.kcore.pod.ip"
LABEL_MANAGED = "io.kcore.managed"

ExecInput = bytes | tuple[int, int] | None  # stdin data | (width, height) resize | EOF
EXIT = 3  # exec_stream's last item: (EXIT, exit code as ASCII); 1 and 2 are stdout/stderr

State = Literal["created", "running", "exited", "unknown"]


class ImagePullError(Exception):
    """The image is not present and cannot be pulled (no registry answers here)."""


class RuntimeError_(Exception):
    """The runtime refused to create or start a container; the message says why."""


@dataclass(frozen=True, slots=True)
class Mount:
    host_path: str
    container_path: str
    read_only: bool = False


@dataclass(slots=True)
class ContainerSpec:
    """One container to create, already resolved (env expanded, volumes on the host)."""

    name: str
    image: str
    labels: dict[str, str]
    entrypoint: list[str] | None = None
    args: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str = ""
    mounts: list[Mount] = field(default_factory=list)
    cpu_quota: int = 0  # microseconds per 100 ms period; 0 = unlimited
    cpu_shares: int = 0
    memory: int = 0  # bytes; 0 = unlimited


@dataclass(slots=True)
class ContainerInfo:
    """A container as the runtime sees it; times are RFC 3339 strings or ""."""

    id: str
    labels: dict[str, str]
    state: State
    image: str = ""
    image_id: str = ""
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    created_at: str = ""
    started_at: str = ""
    finished_at: str = ""

    @property
    def pod_uid(self) -> str:
        return self.labels.get(LABEL_POD_UID, "")

    @property
    def container_name(self) -> str:
        return self.labels.get(LABEL_CONTAINER, "")

    @property
    def restart_count(self) -> int:
        return int(self.labels.get(LABEL_RESTARTS, "0") or 0)

    @property
    def is_init(self) -> bool:
        return self.labels.get(LABEL_INIT) == "true"


@dataclass(frozen=True, slots=True)
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    timestamps: bool = False


class Runtime(Protocol):
    """The container runtime interface of a kubelet (async; blocking work stays inside)."""

    name: str
    hollow: bool

    async def version(self) -> str: ...
    async def images(self) -> list[tuple[list[str], int]]: ...  # (names, size in bytes)
    async def list_containers(self, node: str) -> list[ContainerInfo]: ...
    async def inspect(self, container_id: str) -> ContainerInfo | None: ...
    async def ensure_image(self, image: str, policy: str) -> str: ...
    async def run(self, spec: ContainerSpec) -> ContainerInfo: ...
    async def stop(self, container_id: str, grace_seconds: int) -> None: ...
    async def remove(self, container_id: str) -> None: ...
    async def exec(self, container_id: str, command: list[str], limit: float) -> int: ...
    def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]: ...
    def exec_stream(
        self,
        container_id: str,
        command: list[str],
        *,
        stdin: asyncio.Queue[ExecInput] | None = None,
        tty: bool = False,
    ) -> AsyncIterator[tuple[int, bytes]]: ...
    async def close(self) -> None: ...
