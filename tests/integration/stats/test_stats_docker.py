"""The sampler against real Docker containers, checked against the Docker engine's own stats.

Windows are aligned: each Docker one-shot stats call is followed at once by a sampling pass,
so both rates cover the same few seconds. The CPU burner competes with everything else on a
shared 2-core machine, so "about one core" is checked as an upper bound of one core and a
clearly busy lower bound; agreement with Docker is the 10% the issue asks for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from kcore.kubelet.stats import ContainerRef, StatsProvider
from kcore.kubelet.stats import columns as c

pytestmark = [pytest.mark.docker]

RunContainer = Callable[..., Any]  # the run_container fixture of this directory's conftest

BURN = "while :; do :; done"
HOLD_64MIB = "dd if=/dev/zero of=/mem/x bs=1M count=64 2>/dev/null; echo held; sleep 600"


def docker_stats(container: Any) -> dict[str, Any]:
    stats: dict[str, Any] = container.client.api.stats(container.id, stream=False, one_shot=True)
    return stats


def docker_working_set(stats: dict[str, Any]) -> int:
    mem = stats["memory_stats"]
    inactive = mem.get("stats", {}).get("total_inactive_file", 0)
    return int(mem["usage"]) - int(inactive)


def wait_for_log(container: Any, text: str) -> None:
    for _ in range(300):
        if text in container.logs().decode():
            return
        time.sleep(0.1)
    raise AssertionError(f"{container.name} never logged {text!r}")


@pytest.fixture
def provider() -> StatsProvider:
    return StatsProvider(node_name="stats-node", interval=10.0)


def test_cpu_burner_shows_about_one_core_and_agrees_with_docker(
    run_container: RunContainer, provider: StatsProvider
) -> None:
    burner = run_container(BURN)
    provider.track(burner.id, ContainerRef("burn", "default", "uid-burn", "burn", "busybox"))
    time.sleep(1.0)
    d0 = docker_stats(burner)
    provider.sample_once()
    time.sleep(4.0)
    d1 = docker_stats(burner)
    provider.sample_once()
    ours = provider.container(burner.id)
    assert ours is not None and ours.cpu_nano_cores is not None
    docker_ns = (
        d1["cpu_stats"]["cpu_usage"]["total_usage"] - d0["cpu_stats"]["cpu_usage"]["total_usage"]
    )
    docker_rate = docker_ns / _seconds_between(d0["read"], d1["read"])
    assert 0.3e9 < ours.cpu_nano_cores <= 1.05e9
    assert abs(ours.cpu_nano_cores - docker_rate) <= 0.10 * docker_rate, (ours, docker_rate)
    summary = provider.summary()
    [pod] = summary["pods"]
    assert pod["containers"][0]["cpu"]["usageNanoCores"] == ours.cpu_nano_cores


def test_memory_holder_working_set_agrees_with_docker(
    run_container: RunContainer, provider: StatsProvider
) -> None:
    holder = run_container(HOLD_64MIB, tmpfs={"/mem": "size=128m"})  # shmem: never inactive
    wait_for_log(holder, "held")
    provider.track(holder.id, ContainerRef("hold", "default", "uid-hold", "hold", "busybox"))
    d = docker_stats(holder)
    provider.sample_once()
    ours = provider.container(holder.id)
    assert ours is not None
    working_set = ours.get(c.MEM_WORKING_SET)
    assert working_set is not None and working_set >= 64 << 20
    assert abs(working_set - docker_working_set(d)) <= 0.10 * docker_working_set(d)
    assert ours.get(c.MEM_USAGE) == pytest.approx(d["memory_stats"]["usage"], rel=0.10)
    assert ours.get(c.PIDS) == d["pids_stats"]["current"]
    text = provider.prometheus_text()
    assert 'container_memory_working_set_bytes{container="hold"' in text


def test_removed_container_leaves_the_table(
    run_container: RunContainer, provider: StatsProvider
) -> None:
    """Held descriptors of a removed cgroup answer ENODEV: the container leaves at once."""
    keep, gone = run_container("sleep 600"), run_container("sleep 600")
    for ctr in (keep, gone):
        provider.track(ctr.id, ContainerRef(ctr.name, "default", ctr.id, "c"))
    provider.sample_once()
    assert {s.container_id for s in provider.containers()} == {keep.id, gone.id}
    gone.remove(force=True)
    provider.sample_once()
    assert [s.container_id for s in provider.containers()] == [keep.id]
    assert provider.history(gone.id) == []
    assert len(provider.history(keep.id)) == 2


def test_discovery_finds_docker_containers(run_container: RunContainer) -> None:
    ctr = run_container("sleep 600")
    provider = StatsProvider(node_name="n", discover=True)
    provider.sample_once()
    found = provider.container(ctr.id)
    assert found is not None and found.get(c.PIDS) == 1
    node = provider.node()
    assert node is not None and node.sample.mem_total > 0


def _cpu_total(stats: dict[str, Any]) -> int:
    return int(stats["cpu_stats"]["cpu_usage"]["total_usage"])


def _seconds_between(a: str, b: str) -> float:
    return _unix(b) - _unix(a)


def _unix(stamp: str) -> float:
    """Docker's RFC 3339 timestamps carry nanoseconds; keep them."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    base = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return base + float("0." + (frac or "0"))
