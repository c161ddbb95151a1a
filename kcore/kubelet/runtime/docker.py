"""The Docker runtime: kubelet containers on the local Docker engine, host network only.

The docker SDK blocks, so every call runs in a private thread pool; log streams are pumped
from a thread into an asyncio queue and closed from the loop when the reader goes away.
Containers carry the labels of `types` so a restarted kubelet adopts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import docker
import docker.errors
from docker.utils.socket import frames_iter

from kcore.api import timeutil
from kcore.kubelet.runtime.engine import EngineClient, EngineError, socket_path
from kcore.kubelet.runtime.types import (
    EXIT,
    LABEL_NODE,
    ContainerInfo,
    ContainerSpec,
    ExecInput,
    ImagePullError,
    LogOptions,
    RuntimeError_,
    State,
)

T = TypeVar("T")
_ZERO_TIME = "0001-01-01T00:00:00Z"
_STATES: dict[str, State] = {
    "created": "created",
    "running": "running",
    "restarting": "running",
    "paused": "running",
    "exited": "exited",
    "dead": "exited",
}


def _time(value: str | None) -> str:
    """Docker's nanosecond RFC 3339 time as Kubernetes' second-precision metav1.Time."""
    if not value or value.startswith("0001-"):
        return ""
    return value[:19] + "Z"


def _info(attrs: dict[str, Any]) -> ContainerInfo:
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    return ContainerInfo(
        id=attrs["Id"],
        labels=dict(config.get("Labels") or {}),
        state=_STATES.get(str(state.get("Status", "")), "unknown"),
        image=str(config.get("Image", "")),
        image_id=str(attrs.get("Image", "")),
        exit_code=int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        error=str(state.get("Error") or ""),
        created_at=_time(attrs.get("Created")),
        started_at=_time(state.get("StartedAt")),
        finished_at=_time(state.get("FinishedAt")),
    )


def _summary(row: dict[str, Any]) -> ContainerInfo:
    return ContainerInfo(
        id=row["Id"],
        labels=dict(row.get("Labels") or {}),
        state=_STATES.get(str(row.get("State", "")), "unknown"),
        image=str(row.get("Image", "")),
        image_id=str(row.get("ImageID", "")),
    )


class DockerRuntime:
    """Runtime on the Docker engine at `base_url` (default: the environment's DOCKER_HOST)."""

    name = "docker"
    hollow = False

    def __init__(self, *, base_url: str | None = None, threads: int = 16) -> None:
        kw: dict[str, Any] = {"base_url": base_url} if base_url else {}
        self._api = (
            docker.APIClient(**kw, max_pool_size=threads)
            if base_url
            else docker.from_env(max_pool_size=threads).api
        )
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="kubelet-docker")
        self._images: dict[str, str] = {}
        self._inspecting: dict[str, asyncio.Future[str]] = {}
        self._engine: EngineClient | None = None
        self._socket = (base_url or "").removeprefix("unix://") or socket_path()

    async def _call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kw))

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self._api.close)

    async def version(self) -> str:
        info = await self._call(self._api.version)
        return str(info.get("Version", "unknown"))

    async def images(self) -> list[tuple[list[str], int]]:
        """Local images as (repo tags and digests, size), for the Node's status.images."""
        rows = await self._call(self._api.images)
        found = []
        for row in rows:
            names = [*(row.get("RepoDigests") or []), *(row.get("RepoTags") or [])]
            names = [n for n in names if "<none>" not in n]
            if names:
                found.append((names, int(row.get("Size") or 0)))
        return found

    async def list_containers(self, node: str) -> list[ContainerInfo]:
        rows = await self._call(
            self._api.containers, all=True, filters={"label": f"{LABEL_NODE}={node}"}
        )
        return [_summary(r) for r in rows]

    async def inspect(self, container_id: str) -> ContainerInfo | None:
        try:
            attrs = await self._call(self._api.inspect_container, container_id)
        except docker.errors.NotFound:
            return None
        return _info(attrs)

    async def ensure_image(self, image: str, policy: str) -> str:
        """The image's id, pulling it when the policy asks; ImagePullError when unavailable."""
        if policy != "Always":
            present = await self._present(image)
            if present:
                return present
            if policy == "Never":
                raise ImagePullError(f'image "{image}" is not present with pull policy of Never')
        try:
            await self._call(self._api.pull, image)
        except docker.errors.DockerException as e:
            raise ImagePullError(f'failed to pull image "{image}": {e}') from None
        present = await self._present(image)
        if not present:
            raise ImagePullError(f'image "{image}" is not present after a pull')
        return present

    async def _present(self, image: str) -> str:
        """The image's id if present ("" if not); concurrent asks share one inspect."""
        cached = self._images.get(image)
        if cached:
            return cached
        pending = self._inspecting.get(image)
        if pending is None:
            pending = asyncio.ensure_future(self._inspect_image(image))
            self._inspecting[image] = pending
            pending.add_done_callback(lambda _: self._inspecting.pop(image, None))
        return await asyncio.shield(pending)

    async def _inspect_image(self, image: str) -> str:
        try:
            attrs = await self._call(self._api.inspect_image, image)
        except docker.errors.ImageNotFound:
            return ""
        except docker.errors.APIError as e:
            raise ImagePullError(f'invalid image "{image}": {e}') from None
        self._images[image] = str(attrs["Id"])
        return self._images[image]

    async def run(self, spec: ContainerSpec) -> ContainerInfo:
        """Create and start the container. Raises RuntimeError_ with Docker's message.

        The answer is what Docker just confirmed (created, started now), not a fresh inspect:
        a container that dies at once is seen by the next inspect or relist.
        """
        try:
            cid = await self._create_and_start_async(spec)
        except EngineError as e:
            raise RuntimeError_(str(e)) from None
        now = timeutil.now()
        return ContainerInfo(
            id=cid,
            labels=dict(spec.labels),
            state="running",
            image=spec.image,
            image_id=self._images.get(spec.image, ""),
            created_at=now,
            started_at=now,
        )

    async def _create_and_start_async(self, spec: ContainerSpec) -> str:
        engine = self._engine_client()
        try:
            cid = await engine.create(spec)
        except EngineError as e:
            if e.status != 409:  # a leftover of the same name: replace it
                raise
            await engine.remove(spec.name)
            cid = await engine.create(spec)
        await engine.start(cid)
        return cid

    def _engine_client(self) -> EngineClient:
        if self._engine is None:
            path = self._socket or "/var/run/docker.sock"
            self._engine = EngineClient(path, api_version=str(self._api._version))
        return self._engine

    async def stop(self, container_id: str, grace_seconds: int) -> None:
        """SIGTERM, then SIGKILL after the grace period (Docker's stop does exactly this)."""
        with contextlib.suppress(docker.errors.NotFound):
            await self._call(self._api.stop, container_id, timeout=max(grace_seconds, 0))

    async def remove(self, container_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            await self._call(self._api.remove_container, container_id, force=True, v=True)

    async def exec(self, container_id: str, command: list[str], limit: float) -> int:
        """Run `command` in the container; its exit code (-1 on timeout or error)."""
        try:
            return await asyncio.wait_for(self._call(self._exec, container_id, command), limit)
        except (TimeoutError, docker.errors.APIError):
            return -1

    async def exec_stream(
        self,
        container_id: str,
        command: list[str],
        *,
        stdin: asyncio.Queue[ExecInput] | None = None,
        tty: bool = False,
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Run `command`; its output as (1 stdout | 2 stderr, bytes), then (EXIT, code).

        With `stdin`, bytes from the queue go to the command's standard input, None closes
        it and (width, height) resizes its terminal.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        closed = threading.Event()

        def put(item: tuple[int, bytes]) -> None:
            if not closed.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, item)

        exec_id, sock = await self._call(
            self._exec_open, container_id, command, stdin is not None, tty
        )
        threading.Thread(
            target=self._pump_exec, args=(exec_id, sock, tty, put), daemon=True
        ).start()
        feeder = asyncio.create_task(self._feed_exec(exec_id, sock, stdin)) if stdin else None
        try:
            while True:
                channel, data = await queue.get()
                yield channel, data
                if channel == EXIT:
                    return
        finally:
            closed.set()
            if feeder is not None:
                feeder.cancel()
                await asyncio.gather(feeder, return_exceptions=True)
            with contextlib.suppress(OSError):
                sock.close()

    def _exec_open(
        self, container_id: str, command: list[str], stdin: bool, tty: bool
    ) -> tuple[str, Any]:
        exec_id = self._api.exec_create(
            container_id, command, stdout=True, stderr=True, stdin=stdin, tty=tty
        )
        return str(exec_id["Id"]), self._api.exec_start(exec_id, socket=True, tty=tty)

    async def _feed_exec(self, exec_id: str, sock: Any, stdin: asyncio.Queue[ExecInput]) -> None:
        raw = getattr(sock, "_sock", sock)
        while True:
            item = await stdin.get()
            if item is None:
                with contextlib.suppress(OSError):
                    raw.shutdown(socket.SHUT_WR)
                return
            if isinstance(item, tuple):
                width, height = item
                with contextlib.suppress(docker.errors.APIError):
                    await self._call(self._api.exec_resize, exec_id, height=height, width=width)
                continue
            await self._call(raw.sendall, item)

    def _pump_exec(
        self, exec_id: str, sock: Any, tty: bool, put: Callable[[tuple[int, bytes]], None]
    ) -> None:
        try:
            for stream, data in frames_iter(sock, tty):
                put((stream, data))
            code = self._api.exec_inspect(exec_id).get("ExitCode")
            put((EXIT, str(code if code is not None else -1).encode()))
        except (OSError, docker.errors.DockerException) as e:
            put((2, str(e).encode()))
            put((EXIT, b"-1"))

    def _exec(self, container_id: str, command: list[str]) -> int:
        exec_id = self._api.exec_create(container_id, command, stdout=True, stderr=True)
        self._api.exec_start(exec_id)
        code = self._api.exec_inspect(exec_id).get("ExitCode")
        return int(code) if code is not None else -1

    async def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]:
        """The container's output (stdout and stderr merged) as chunks, ending with the stream."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        opened: list[Any] = []
        closed = threading.Event()
        thread = threading.Thread(
            target=self._pump_logs,
            args=(container_id, options, loop, queue, opened, closed),
            daemon=True,
        )
        thread.start()
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
        finally:
            closed.set()
            for stream in opened:
                with contextlib.suppress(Exception):
                    stream.close()

    def _pump_logs(
        self,
        container_id: str,
        options: LogOptions,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[bytes | None],
        opened: list[Any],
        closed: threading.Event,
    ) -> None:
        def put(item: bytes | None) -> None:
            if not closed.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, item)

        try:
            for chunk in self._log_stream(container_id, options, opened):
                if closed.is_set():
                    break
                put(chunk)
        except Exception:
            pass
        with contextlib.suppress(Exception):
            put(None)

    def _log_stream(
        self, container_id: str, options: LogOptions, opened: list[Any]
    ) -> Iterator[bytes]:
        kw: dict[str, Any] = {"timestamps": options.timestamps, "follow": options.follow}
        kw["tail"] = options.tail_lines if options.tail_lines is not None else "all"
        if options.since_seconds is not None:
            kw["since"] = int(time.time()) - options.since_seconds
        stream = self._api.logs(container_id, stream=True, **kw)
        opened.append(stream)
        yield from stream
