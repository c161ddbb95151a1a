"""The client library against the real kcore API server (kcore.Cluster, in-process, TLS)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import kcore
from kcore.api.apps import Deployment
from kcore.api.codec import from_dict
from kcore.api.coordination import Lease
from kcore.api.core import ConfigMap, Event, Pod
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import (
    Client,
    ElectionTimings,
    EventRecorder,
    LeaderElector,
    SharedInformerFactory,
    WatchEvent,
)
from kcore.client.clock import FakeClock
from kcore.client.kubeconfig import load_kubeconfig
from kcore.client.rest import resource_info

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def cluster() -> AsyncIterator[Any]:
    async with kcore.Cluster() as c:
        yield c


def config_map(name: str, ns: str = "default", **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=ns), data=data)


def pod(name: str, node: str = "") -> Pod:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return from_dict(Pod, {"metadata": {"name": name, "namespace": "default"}, "spec": spec})


async def test_crud_round_trip_with_conflicts(cluster: Any) -> None:
    client: Client = cluster.client
    created = await client.create(config_map("cm", a="1"))
    assert created.metadata.uid and created.metadata.resource_version
    got = await client.get(ConfigMap, "cm", namespace="default")
    assert got.data == {"a": "1"}
    got.data = {"a": "2"}
    updated = await client.update(got)
    assert updated.metadata.resource_version != created.metadata.resource_version
    created.data = {"a": "stale"}
    with pytest.raises(StatusError) as info:
        await client.update(created)  # carries the old resourceVersion
    assert info.value.code == 409 and info.value.reason == "Conflict"
    patched = await client.patch(ConfigMap, "cm", {"data": {"b": "3"}}, namespace="default")
    assert patched.data == {"a": "2", "b": "3"}
    with pytest.raises(StatusError) as info:
        await client.create(config_map("cm"))
    assert info.value.reason == "AlreadyExists"
    await client.delete(ConfigMap, "cm", namespace="default")
    with pytest.raises(StatusError) as info:
        await client.get(ConfigMap, "cm", namespace="default")
    assert info.value.code == 404


async def test_list_pages_and_label_selectors(cluster: Any) -> None:
    client: Client = cluster.client
    for i in range(5):
        cm = config_map(f"cm-{i}")
        cm.metadata.labels = {"parity": "even" if i % 2 == 0 else "odd"}
        await client.create(cm)
    page = await client.list(ConfigMap, namespace="default", limit=2)
    assert len(page.items) == 2 and page.continue_
    everything = await client.list_all(ConfigMap, namespace="default", page_size=2)
    assert sorted(c.metadata.name for c in everything.items) == [f"cm-{i}" for i in range(5)]
    odd = await client.list(ConfigMap, namespace="default", label_selector="parity=odd")
    assert sorted(c.metadata.name for c in odd.items) == ["cm-1", "cm-3"]


@pytest.mark.parametrize("wire", ["json", "msgpack"])
async def test_watch_sees_changes_after_the_list(cluster: Any, wire: str) -> None:
    async with cluster.new_client(wire=wire) as client:
        page = await client.list(ConfigMap, namespace="default")
        events: list[tuple[str, str]] = []

        async def consume() -> None:
            stream = client.watch(
                ConfigMap, namespace="default", resource_version=page.resource_version
            )
            async with aclosing(stream) as s:
                async for event in s:
                    if isinstance(event, WatchEvent):
                        events.append((event.type, event.object.metadata.name))
                        if event.type == "DELETED":
                            return

        watcher = asyncio.create_task(consume())
        await client.create(config_map("w", x="1"))
        await client.patch(ConfigMap, "w", {"data": {"x": "2"}}, namespace="default")
        await client.delete(ConfigMap, "w", namespace="default")
        await asyncio.wait_for(watcher, 30)
    assert events == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


async def test_watch_from_an_expired_version_raises_gone(cluster: Any) -> None:
    client: Client = cluster.client
    for i in range(3):
        await client.create(config_map(f"old-{i}"))
    with pytest.raises(StatusError) as info:
        async with aclosing(client.watch(ConfigMap, resource_version="1")) as stream:
            async for _ in stream:
                pass
    assert info.value.code == 410 and info.value.reason == "Expired"


@pytest.mark.parametrize("wire", ["json", "msgpack"])
async def test_shared_informer_tracks_the_server(cluster: Any, wire: str) -> None:
    async with cluster.new_client(wire=wire) as client:
        await _informer_tracks_the_server(client)


async def _informer_tracks_the_server(client: Client) -> None:
    await client.create(pod("before", node="n1"))
    factory = SharedInformerFactory(client)
    informer = factory.informer(Pod, indexers={"node": lambda p: [p.spec.node_name or ""]})
    assert factory.informer(Pod) is informer  # shared
    seen: list[tuple[str, str]] = []
    deleted = asyncio.Event()

    def on_delete(p: Pod) -> None:
        seen.append(("delete", p.metadata.name))
        deleted.set()

    informer.add_event_handler(
        on_add=lambda p: seen.append(("add", p.metadata.name)),
        on_update=lambda old, new: seen.append(("update", new.metadata.name)),
        on_delete=on_delete,
    )
    factory.start()
    try:
        async with asyncio.timeout(30):
            await factory.wait_for_sync()
            assert informer.get("default/before") is not None
            await client.create(pod("after", node="n2"))
            await client.delete(Pod, "before", namespace="default", grace_period_seconds=0)
            await deleted.wait()
    finally:
        await factory.stop()
    assert seen[0] == ("add", "before") and ("add", "after") in seen
    assert informer.get("default/before") is None
    assert [p.metadata.name for p in informer.indexer.by_index("node", "n2")] == ["after"]


async def test_leader_election_hands_over_on_release(cluster: Any) -> None:
    client: Client = cluster.client
    timings = ElectionTimings(lease_duration=2.0, renew_deadline=1.5, retry_period=0.2)
    leading: list[str] = []
    started = {name: asyncio.Event() for name in ("a", "b")}

    def elector(name: str) -> LeaderElector:
        async def lead() -> None:
            leading.append(name)
            started[name].set()
            await asyncio.Event().wait()

        return LeaderElector(
            client,
            name="ctrl",
            namespace="default",
            identity=name,
            on_started_leading=lead,
            timings=timings,
        )

    first, second = elector("a"), elector("b")
    run_a = asyncio.create_task(first.run())
    await asyncio.wait_for(started["a"].wait(), 30)
    run_b = asyncio.create_task(second.run())
    await asyncio.sleep(0.5)  # b keeps trying while a renews
    assert leading == ["a"] and not second.is_leader()
    run_a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run_a
    await asyncio.wait_for(started["b"].wait(), 30)
    lease = await client.get(Lease, "ctrl", namespace="default")
    assert lease.spec.holder_identity == "b" and lease.spec.lease_transitions == 1
    run_b.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run_b
    released = await client.get(Lease, "ctrl", namespace="default")
    assert not released.spec.holder_identity


async def test_leader_takes_over_an_expired_lease(cluster: Any) -> None:
    client: Client = cluster.client
    timings = ElectionTimings(lease_duration=1.0, renew_deadline=0.8, retry_period=0.1)
    became = asyncio.Event()

    async def lead() -> None:
        became.set()
        await asyncio.Event().wait()

    stale = Lease(metadata=ObjectMeta(name="ctrl", namespace="default"))
    stale.spec.holder_identity = "crashed"
    stale.spec.lease_duration_seconds = 1
    await client.create(stale)
    elector = LeaderElector(
        client,
        name="ctrl",
        namespace="default",
        identity="new",
        on_started_leading=lead,
        timings=timings,
    )
    task = asyncio.create_task(elector.run())
    await asyncio.wait_for(became.wait(), 30)
    assert elector.leader == "new"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_event_recorder_aggregates_repeats(cluster: Any) -> None:
    client: Client = cluster.client
    target = await client.create(config_map("subject"))
    recorder = EventRecorder(client, component="tester", host="127.0.0.1")
    for _ in range(3):
        recorder.event(target, "Warning", "Broken", "it broke")
    recorder.event(target, "Normal", "Fixed", "all good")
    await asyncio.wait_for(recorder.flush(), 30)
    await recorder.close()
    events = (await client.list(Event, namespace="default")).items
    by_reason = {e.reason: e for e in events}
    assert by_reason["Broken"].count == 3 and by_reason["Fixed"].count == 1
    involved = by_reason["Broken"].involved_object
    assert involved.kind == "ConfigMap" and involved.name == "subject"
    assert involved.uid == target.metadata.uid
    assert by_reason["Broken"].source.component == "tester"


async def test_bind_sets_the_node_once(cluster: Any) -> None:
    client: Client = cluster.client
    await client.create(pod("unbound"))
    await client.bind("unbound", "node-1", namespace="default")
    bound = await client.get(Pod, "unbound", namespace="default")
    assert bound.spec is not None and bound.spec.node_name == "node-1"
    with pytest.raises(StatusError) as info:
        await client.bind("unbound", "node-2", namespace="default")
    assert info.value.code == 409


async def test_update_status_changes_only_status(cluster: Any) -> None:
    client: Client = cluster.client
    created = await client.create(pod("st"))
    assert created.status is not None
    created.status.phase = "Running"
    created.metadata.labels = {"ignored": "by status"}
    updated = await client.update_status(created)
    assert updated.status is not None and updated.status.phase == "Running"
    assert "ignored" not in updated.metadata.labels


async def test_scale_subresource_of_a_deployment(cluster: Any) -> None:
    client: Client = cluster.client
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    doc = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }
    await client.create(from_dict(Deployment, doc))
    assert (await client.get_scale(Deployment, "web", namespace="default"))["spec"] == {
        "replicas": 1
    }
    scaled = await client.scale(Deployment, "web", 4, namespace="default")
    assert scaled["spec"]["replicas"] == 4
    deployment = await client.get(Deployment, "web", namespace="default")
    assert deployment.spec is not None and deployment.spec.replicas == 4


async def test_evict_deletes_an_unscheduled_pod(cluster: Any) -> None:
    client: Client = cluster.client
    await client.create(pod("evictee"))
    await client.evict("evictee", namespace="default")
    with pytest.raises(StatusError) as info:
        await client.get(Pod, "evictee", namespace="default")
    assert info.value.code == 404


async def test_untyped_access_through_a_dict_resource_info(cluster: Any) -> None:
    client: Client = cluster.client
    info = dataclasses.replace(resource_info(ConfigMap), type=dict)
    created = await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "raw"}, "data": {"k": "v"}},
        kind=info,
        namespace="default",
    )
    assert isinstance(created, dict) and created["metadata"]["resourceVersion"]
    page = await client.list(info, namespace="default")
    assert [o["metadata"]["name"] for o in page.items] == ["raw"]
    factory = SharedInformerFactory(client)
    informer = factory.informer_for(info, namespace="default")
    factory.start()
    try:
        async with asyncio.timeout(30):
            await factory.wait_for_sync()
    finally:
        await factory.stop()
    assert informer.get("default/raw")["data"] == {"k": "v"}


async def test_leader_steps_down_when_the_server_goes_away() -> None:
    timings = ElectionTimings(lease_duration=2.0, renew_deadline=1.0, retry_period=0.2)
    started, stopped = asyncio.Event(), asyncio.Event()

    async def lead() -> None:
        started.set()
        await asyncio.Event().wait()

    c = await kcore.Cluster().start()
    try:
        async with c.new_client() as client:
            elector = LeaderElector(
                client,
                name="ctrl",
                namespace="default",
                identity="solo",
                on_started_leading=lead,
                on_stopped_leading=stopped.set,
                timings=timings,
                release_on_cancel=False,
            )
            task = asyncio.create_task(elector.run())
            await asyncio.wait_for(started.wait(), 30)
            await c.stop()
            await asyncio.wait_for(stopped.wait(), 30)
            assert not elector.is_leader()
            await asyncio.wait_for(task, 30)  # run() returns once leadership is lost
    finally:
        await c.stop()


async def test_informer_cache_converges_under_concurrent_writes(cluster: Any) -> None:
    client: Client = cluster.client
    factory = SharedInformerFactory(client)
    informer = factory.informer(ConfigMap, namespace="default")
    expected: dict[str, Any] = {}
    converged = asyncio.Event()

    def check(*_: Any) -> None:
        if expected and {c.metadata.name: c.data for c in informer.list()} == expected:
            converged.set()

    informer.add_event_handler(on_add=check, on_update=check, on_delete=check)
    factory.start()
    try:
        await asyncio.wait_for(factory.wait_for_sync(), 30)
        await asyncio.gather(*(client.create(config_map(f"c{i}", n=str(i))) for i in range(100)))
        await asyncio.gather(
            *(
                client.patch(ConfigMap, f"c{i}", {"data": {"n": "x"}}, namespace="default")
                for i in range(0, 100, 2)
            )
        )
        await asyncio.gather(
            *(client.delete(ConfigMap, f"c{i}", namespace="default") for i in range(0, 100, 5))
        )
        final = await client.list(ConfigMap, namespace="default")
        expected.update({c.metadata.name: c.data for c in final.items})
        check()
        await asyncio.wait_for(converged.wait(), 30)
    finally:
        await factory.stop()
    assert len(expected) == 80 and expected["c2"] == {"n": "x"} and "c5" not in expected


async def test_wrong_token_is_unauthorized(cluster: Any) -> None:
    config = load_kubeconfig(cluster.kubeconfig)
    config.token = "not-the-token"
    async with Client(config) as client:
        with pytest.raises(StatusError) as info:
            await client.list(ConfigMap)
    assert info.value.code == 401


async def test_a_server_outside_the_trusted_ca_is_refused_without_retries(
    cluster: Any, tmp_path: Path
) -> None:
    other_ca = tmp_path / "ca.crt"
    other_ca.write_bytes(_self_signed_ca_pem())
    config = load_kubeconfig(cluster.kubeconfig)
    config.ca_data = other_ca.read_bytes()
    async with Client(config) as client:
        with pytest.raises(aiohttp.ClientSSLError):
            await asyncio.wait_for(client.list(ConfigMap), 10)


def _self_signed_ca_pem() -> bytes:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _apiserver_process(data_dir: Path, port: int) -> asyncio.subprocess.Process:
    """`kcore apiserver` as its own process (so that killing it drops every connection)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from kcore.cli import main; raise SystemExit(main())",
        "apiserver",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


@pytest.mark.slow
async def test_informer_reconnects_after_the_api_server_is_killed(tmp_path: Path) -> None:
    port = _free_port()
    proc = await _apiserver_process(tmp_path, port)
    try:
        kubeconfig = tmp_path / "admin.kubeconfig"
        async with asyncio.timeout(60):
            while not kubeconfig.exists():  # noqa: ASYNC110 - a file from another process
                await asyncio.sleep(0.1)
        async with Client.from_kubeconfig(kubeconfig) as client:
            await client.request("GET", "/readyz")
            factory = SharedInformerFactory(client)
            informer = factory.informer(ConfigMap, namespace="default")
            arrived = asyncio.Event()
            informer.add_event_handler(
                on_add=lambda c: arrived.set() if c.metadata.name == "after" else None
            )
            factory.start()
            await asyncio.wait_for(factory.wait_for_sync(), 30)
            await client.create(config_map("before"))
            await _kill(proc)
            proc = await _apiserver_process(tmp_path, port)  # same data dir and port
            await client.request("GET", "/readyz")  # retried until the new process listens
            await client.create(config_map("after"))
            await asyncio.wait_for(arrived.wait(), 60)
            await factory.stop()
            assert {c.metadata.name for c in informer.list()} == {"before", "after"}
    finally:
        await _kill(proc)


async def test_event_recorder_drops_floods_per_object(cluster: Any) -> None:
    client: Client = cluster.client
    target = await client.create(config_map("noisy"))
    other = await client.create(config_map("quiet"))
    clock = FakeClock()
    recorder = EventRecorder(client, component="tester", clock=clock)
    for i in range(30):
        recorder.event(target, "Normal", f"Reason{i}", "flood")
    recorder.event(other, "Normal", "Calm", "unaffected by the other object's flood")
    assert recorder.dropped == 5
    clock.step(300.0)  # one more token after five minutes
    recorder.event(target, "Normal", "Later", "allowed again")
    recorder.event(target, "Normal", "TooSoon", "dropped")
    await asyncio.wait_for(recorder.flush(), 30)
    await recorder.close()
    events = (await client.list(Event, namespace="default")).items
    about_target = [e for e in events if e.involved_object.name == "noisy"]
    assert len(about_target) == 26 and recorder.dropped == 6
    assert [e.reason for e in events if e.involved_object.name == "quiet"] == ["Calm"]


async def test_informer_with_a_field_selector_sees_only_its_node(cluster: Any) -> None:
    client: Client = cluster.client
    await client.create(pod("mine", node="node-a"))
    await client.create(pod("theirs", node="node-b"))
    factory = SharedInformerFactory(client)
    informer = factory.informer(Pod, field_selector="spec.nodeName=node-a")
    assert factory.informer(Pod) is not informer  # different selector, different informer
    added = asyncio.Event()
    informer.add_event_handler(
        on_add=lambda p: added.set() if p.metadata.name == "mine-2" else None
    )
    factory.start()
    try:
        await asyncio.wait_for(factory.wait_for_sync(), 30)
        await client.create(pod("mine-2", node="node-a"))
        await client.create(pod("theirs-2", node="node-b"))
        await asyncio.wait_for(added.wait(), 30)
    finally:
        await factory.stop()
    assert sorted(p.metadata.name for p in informer.list()) == ["mine", "mine-2"]
