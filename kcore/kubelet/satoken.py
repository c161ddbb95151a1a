"""Service account credentials in each container: the token Secret's files and the API's address.

As in Kubernetes (where the ServiceAccount admission plugin adds a projected volume that the
kubelet fills), every container of a pod gets /var/run/secrets/kubernetes.io/serviceaccount
with `token`, `ca.crt` and `namespace` from its account's token Secret (type
kubernetes.io/service-account-token, made by the controller manager's token controller and
listed in the account's `secrets`), unless automountServiceAccountToken is false on the pod or,
when the pod does not say, on the account. KUBERNETES_SERVICE_HOST/_PORT/_PORT_HTTPS point at
the API server: the `kubernetes` Service's ClusterIP when the default namespace has one, else
the address this kubelet reaches it at (pods run on the host network, so it works as is).

An account that has no token Secret yet holds the pod in ContainerCreating (`MountPending`)
until one appears. A pod of an absent `default` account (a cluster running without the
controller manager) runs without credentials, as do static pods, which never see admission.
The kubelet answers account lookups from a ServiceAccount informer: a `default` account created
a moment before its pod reached the node may not be in it yet (Kubernetes' admission would have
refused such a pod); token Secrets are read by GET.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from kcore.api.core import Pod, Secret, Service, ServiceAccount
from kcore.kubelet import sources
from kcore.kubelet.envvars import EnvError

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_KEY = "kube-api-access (kubelet)"  # not a valid volume name: cannot clash with the spec's
TOKEN_TYPE = "kubernetes.io/service-account-token"
ACCOUNT_KEY = "kubernetes.io/service-account.name"


class MountPending(EnvError):
    """A volume's source is not there yet: the pod waits in ContainerCreating."""


class AccountLookup(Protocol):
    async def service_account(self, namespace: str, name: str) -> ServiceAccount | None: ...
    async def secret(self, namespace: str, name: str) -> Secret | None: ...


@dataclass(frozen=True, slots=True)
class ApiAccess:
    """How pods of one kubelet reach the API server, and with what credentials."""

    lookup: AccountLookup
    host: str
    port: str
    ca: bytes = b""

    @classmethod
    def from_server(cls, lookup: AccountLookup, server: str, ca: bytes | None) -> ApiAccess:
        url = urlsplit(server)
        port = url.port or (443 if url.scheme == "https" else 80)
        return cls(lookup=lookup, host=url.hostname or "127.0.0.1", port=str(port), ca=ca or b"")

    def env(self, services: Iterable[Service]) -> dict[str, str]:
        """KUBERNETES_SERVICE_HOST and friends, as Kubernetes gives every container."""
        host, port = self.host, self.port
        master = next((s for s in services if _is_master(s)), None)
        if master is not None:
            host, port = master.spec.cluster_ip, str(_https_port(master))
        url = f"tcp://{host}:{port}"
        return {
            "KUBERNETES_SERVICE_HOST": host,
            "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port,
            "KUBERNETES_PORT": url,
            f"KUBERNETES_PORT_{port}_TCP": url,
            f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
            f"KUBERNETES_PORT_{port}_TCP_PORT": port,
            f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
        }

    async def files(self, pod: Pod) -> dict[str, bytes] | None:
        """token, ca.crt and namespace for the pod; None when it gets none; MountPending when
        its account's token Secret does not exist yet."""
        if pod.metadata.annotations.get(sources.CONFIG_SOURCE, "api") != "api":
            return None
        if pod.spec.automount_service_account_token is False:
            return None
        ns, name = pod.metadata.namespace, pod.spec.service_account_name or "default"
        account = await self.lookup.service_account(ns, name)
        if account is None:
            if name == "default":
                return None
            raise MountPending(f'serviceaccount "{name}" not found')
        if pod.spec.automount_service_account_token is None and (
            account.automount_service_account_token is False
        ):
            return None
        secret = await self._token_secret(account)
        if secret is None:
            raise MountPending(f'no token Secret for serviceaccount "{name}" yet')
        return self._secret_files(secret, ns)

    async def _token_secret(self, account: ServiceAccount) -> Secret | None:
        ns, name = account.metadata.namespace, account.metadata.name
        for ref in account.secrets:
            secret = await self.lookup.secret(ns, ref.name)
            if secret is not None and _is_token_of(secret, name):
                return secret
        return None

    def _secret_files(self, secret: Secret, namespace: str) -> dict[str, bytes]:
        data = {k: base64.b64decode(v) for k, v in secret.data.items()}
        return {
            "token": data["token"],
            "ca.crt": data.get("ca.crt") or self.ca,
            "namespace": data.get("namespace") or namespace.encode(),
        }


def _is_token_of(secret: Secret, account: str) -> bool:
    return (
        secret.type == TOKEN_TYPE
        and secret.metadata.annotations.get(ACCOUNT_KEY) == account
        and bool(secret.data.get("token"))
    )


def _is_master(svc: Service) -> bool:
    meta, ip = svc.metadata, svc.spec.cluster_ip
    return meta.namespace == "default" and meta.name == "kubernetes" and ip not in ("", "None")


def _https_port(svc: Service) -> int:
    ports = svc.spec.ports
    return next((p.port for p in ports if p.name == "https"), ports[0].port if ports else 443)
