"""Real Docker containers for the stats sampler, labelled and always removed.

`run_container(command)` starts a kcore-test/busybox:1 container with the host network and the
label io.kcore.test=stats; teardown removes every container carrying the label and fails the
test if any outlived it unremoved (a leak).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import docker
import docker.errors
import pytest

IMAGE = "kcore-test/busybox:1"
LABEL = "io.kcore.test"
VALUE = "stats"

RunContainer = Callable[..., Any]


@pytest.fixture
def docker_client() -> Iterator[Any]:
    client = docker.from_env()
    yield client
    client.close()


def labelled(client: Any) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"{LABEL}={VALUE}"}))


@pytest.fixture
def run_container(docker_client: Any) -> Iterator[RunContainer]:
    started: list[Any] = []

    def run(command: str, **kw: Any) -> Any:
        container = docker_client.containers.run(
            IMAGE, ["sh", "-c", command], detach=True, network_mode="host",
            labels={LABEL: VALUE}, **kw,
        )  # fmt: skip
        started.append(container)
        return container

    yield run
    for container in started:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    leaked = labelled(docker_client)
    for container in leaked:
        container.remove(force=True)
    assert not leaked, f"containers left behind: {[c.name for c in leaked]}"
