"""Service account credentials for pods (kcore/kubelet/satoken.py) over canned API objects, and
a pod CIDR taken up while pods run (kcore/kubelet/podip.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kcore.api.core import (
    ConfigMap,
    Container,
    ObjectReference,
    Pod,
    PodSpec,
    Secret,
    Service,
    ServiceAccount,
    ServicePort,
    ServiceSpec,
)
from kcore.api.meta import ObjectMeta
from kcore.kubelet import volumes
from kcore.kubelet.envvars import PodContext
from kcore.kubelet.podip import PodIPAllocator
from kcore.kubelet.satoken import MOUNT_PATH, ApiAccess, MountPending
from kcore.kubelet.sources import CONFIG_SOURCE


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Objects:
    """Canned API objects by (namespace, name)."""

    def __init__(self, *objects: ServiceAccount | Secret) -> None:
        self.accounts = {
            (o.metadata.namespace, o.metadata.name): o
            for o in objects
            if isinstance(o, ServiceAccount)
        }
        self.secrets = {
            (o.metadata.namespace, o.metadata.name): o for o in objects if isinstance(o, Secret)
        }

    async def service_account(self, namespace: str, name: str) -> ServiceAccount | None:
        return self.accounts.get((namespace, name))

    async def secret(self, namespace: str, name: str) -> Secret | None:
        return self.secrets.get((namespace, name))

    async def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        return None


def account(name: str = "default", *tokens: str, automount: bool | None = None) -> ServiceAccount:
    return ServiceAccount(
        metadata=ObjectMeta(name=name, namespace="ns"),
        secrets=[ObjectReference(name=t) for t in tokens],
        automount_service_account_token=automount,
    )


def token_secret(name: str, owner: str = "default", token: str = "s3cret") -> Secret:
    return Secret(
        metadata=ObjectMeta(
            name=name, namespace="ns", annotations={"kubernetes.io/service-account.name": owner}
        ),
        type="kubernetes.io/service-account-token",
        data={"token": _b64(token), "namespace": _b64("ns")},
    )


def a_pod(sa: str = "", automount: bool | None = None, source: str = "") -> Pod:
    annotations = {CONFIG_SOURCE: source} if source else {}
    return Pod(
        metadata=ObjectMeta(name="p", namespace="ns", uid="u1", annotations=annotations),
        spec=PodSpec(
            containers=[Container(name="c", image="i")],
            service_account_name=sa,
            automount_service_account_token=automount,
        ),
    )


def access(*objects: ServiceAccount | Secret) -> ApiAccess:
    return ApiAccess.from_server(Objects(*objects), "https://127.0.0.1:6443", b"CA")


async def test_the_accounts_token_secret_gives_token_ca_and_namespace() -> None:
    got = access(account("default", "default-token-x"), token_secret("default-token-x"))
    files = await got.files(a_pod())
    assert files == {"token": b"s3cret", "ca.crt": b"CA", "namespace": b"ns"}


async def test_a_token_secret_of_another_account_is_not_used() -> None:
    sa = account("default", "other-token")
    with pytest.raises(MountPending):
        await access(sa, token_secret("other-token", owner="other")).files(a_pod())


@pytest.mark.parametrize(
    ("pod_says", "account_says", "mounted"),
    [(None, None, True), (False, None, False), (None, False, False), (True, False, True)],
)
async def test_automount_the_pod_decides_then_the_account(
    pod_says: bool | None, account_says: bool | None, mounted: bool
) -> None:
    sa = account("robot", "robot-token-a", automount=account_says)
    got = await access(sa, token_secret("robot-token-a", owner="robot")).files(
        a_pod("robot", pod_says)
    )
    assert (got is not None) == mounted


async def test_an_account_without_its_token_yet_holds_the_pod() -> None:
    with pytest.raises(MountPending, match="no token Secret"):
        await access(account("default")).files(a_pod())
    with pytest.raises(MountPending, match='"robot" not found'):
        await access().files(a_pod("robot"))


async def test_no_default_account_or_a_static_pod_gets_no_credentials() -> None:
    assert await access().files(a_pod()) is None
    full = access(account("default", "t"), token_secret("t"))
    assert await full.files(a_pod(source="file")) is None


def test_env_points_at_the_api_server_or_the_kubernetes_service() -> None:
    env = access().env([])
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == env["KUBERNETES_SERVICE_PORT_HTTPS"] == "6443"
    master = Service(
        metadata=ObjectMeta(name="kubernetes", namespace="default"),
        spec=ServiceSpec(cluster_ip="127.32.0.1", ports=[ServicePort(name="https", port=443)]),
    )
    env = access().env([master])
    assert env["KUBERNETES_SERVICE_HOST"] == "127.32.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["KUBERNETES_PORT"] == "tcp://127.32.0.1:443"


async def test_token_files_are_mounted_read_only_in_every_container(tmp_path: Path) -> None:
    objects = Objects(account("default", "t"), token_secret("t"))
    api = ApiAccess.from_server(objects, "https://127.0.0.1:6443", b"CA")
    ctx = PodContext(a_pod(), "127.64.1.2", "127.0.1.1")
    vols = await volumes.prepare(tmp_path, ctx, objects, api)
    mounts = volumes.mounts(ctx.pod.spec.containers[0], vols)
    assert [(m.container_path, m.read_only) for m in mounts] == [(MOUNT_PATH, True)]
    assert (Path(mounts[0].host_path) / "token").read_bytes() == b"s3cret"


def test_a_new_pod_cidr_serves_new_pods_and_running_pods_keep_their_ips() -> None:
    old = PodIPAllocator("127.64.1.0/24")
    running = old.allocate("a")
    moved = old.moved_to("127.64.7.0/24")
    assert moved.cidr == "127.64.7.0/24"
    assert moved.allocate("a") == running
    assert moved.allocate("b").startswith("127.64.7.")
    moved.release("a")
    assert moved.ip_of("a") == ""


def test_an_adopted_pod_keeps_its_address_from_an_earlier_cidr() -> None:
    alloc = PodIPAllocator("127.64.7.0/24")
    assert alloc.allocate("old", preferred="127.64.1.5") == "127.64.1.5"
    assert alloc.allocate("new").startswith("127.64.7.")
    assert alloc.allocate("other", preferred="127.64.1.5").startswith("127.64.7.")
