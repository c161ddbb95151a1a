"""A container's environment: service links, envFrom, env with the downward API, $(VAR) expansion.

Order and precedence follow Kubernetes: service variables first, then envFrom sources, then
`env` entries (later wins); `$(NAME)` refers to variables defined earlier, `$$` escapes `$`.
Config maps and secrets are read through an `ObjectLookup` (the API client in a kubelet).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from kcore.api import quantity
from kcore.api.core import ConfigMap, Container, EnvFromSource, EnvVar, Pod, Secret, Service

_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


class ObjectLookup(Protocol):
    async def config_map(self, namespace: str, name: str) -> ConfigMap | None: ...
    async def secret(self, namespace: str, name: str) -> Secret | None: ...


class EnvError(Exception):
    """A required config map, secret or key is missing (CreateContainerConfigError)."""


@dataclass(frozen=True, slots=True)
class PodContext:
    pod: Pod
    pod_ip: str
    host_ip: str


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: unknown references stay as written, `$$` becomes `$`."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _REF.sub(sub, text)


def service_env(services: Iterable[Service]) -> dict[str, str]:
    """Docker-links style variables for each service with a cluster IP."""
    env: dict[str, str] = {}
    for svc in services:
        ip = svc.spec.cluster_ip
        if not ip or ip == "None" or not svc.spec.ports:
            continue
        prefix = svc.metadata.name.upper().replace("-", "_")
        first = svc.spec.ports[0]
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(first.port)
        env[f"{prefix}_PORT"] = f"{(first.protocol or 'TCP').lower()}://{ip}:{first.port}"
        for port in svc.spec.ports:
            proto = port.protocol or "TCP"
            if port.name:
                env[f"{prefix}_SERVICE_PORT_{port.name.upper().replace('-', '_')}"] = str(port.port)
            base = f"{prefix}_PORT_{port.port}_{proto}"
            env[base] = f"{proto.lower()}://{ip}:{port.port}"
            env[f"{base}_PROTO"] = proto.lower()
            env[f"{base}_PORT"] = str(port.port)
            env[f"{base}_ADDR"] = ip
    return env


def field_value(ctx: PodContext, path: str) -> str:
    """The downward API's fieldRef paths."""
    meta, spec = ctx.pod.metadata, ctx.pod.spec
    simple = {
        "metadata.name": meta.name,
        "metadata.namespace": meta.namespace,
        "metadata.uid": meta.uid,
        "spec.nodeName": spec.node_name,
        "spec.serviceAccountName": spec.service_account_name,
        "status.hostIP": ctx.host_ip,
        "status.hostIPs": ctx.host_ip,
        "status.podIP": ctx.pod_ip,
        "status.podIPs": ctx.pod_ip,
    }
    if path in simple:
        return simple[path]
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        source = meta.labels if m.group(1) == "labels" else meta.annotations
        return source.get(m.group(2), "")
    if path in ("metadata.labels", "metadata.annotations"):
        source = meta.labels if path == "metadata.labels" else meta.annotations
        return "\n".join(f'{k}="{v}"' for k, v in sorted(source.items()))
    raise EnvError(f"unsupported fieldRef path {path!r}")


def resource_value(container: Container, resource: str, divisor: object) -> str:
    """The downward API's resourceFieldRef: limits.cpu, requests.memory, ... / divisor."""
    kind, _, name = resource.partition(".")
    values = container.resources.limits if kind == "limits" else container.resources.requests
    raw = values.get(name)
    if raw is None:
        return "0"
    div = quantity.parse_quantity(divisor if divisor is not None else "1")  # type: ignore[arg-type]
    value = quantity.parse_quantity(raw) / (div or 1)
    return str(-(-value.numerator // value.denominator))  # Kubernetes rounds up


async def container_env(
    ctx: PodContext,
    container: Container,
    *,
    lookup: ObjectLookup,
    services: Iterable[Service] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """`base`: variables every container has, under everything else (KUBERNETES_SERVICE_*)."""
    env: dict[str, str] = dict(base or {})
    if ctx.pod.spec.enable_service_links is not False:
        env.update(service_env(services))
    for source in container.env_from:
        env.update(await _env_from(ctx.pod.metadata.namespace, source.prefix, source, lookup))
    for var in container.env:
        env[var.name] = await _value(ctx, container, var, env, lookup)
    env.setdefault("POD_IP", ctx.pod_ip)
    return env


async def _env_from(
    namespace: str, prefix: str, source: EnvFromSource, lookup: ObjectLookup
) -> dict[str, str]:
    if source.config_map_ref is not None:
        ref = source.config_map_ref
        cm = await lookup.config_map(namespace, ref.name)
        if cm is None:
            return _missing(f'configmap "{ref.name}" not found', ref.optional)
        return {prefix + k: v for k, v in cm.data.items()}
    if source.secret_ref is not None:
        sref = source.secret_ref
        secret = await lookup.secret(namespace, sref.name)
        if secret is None:
            return _missing(f'secret "{sref.name}" not found', sref.optional)
        return {prefix + k: _b64(v) for k, v in secret.data.items()}
    return {}


def _missing(message: str, optional: bool | None) -> dict[str, str]:
    if optional:
        return {}
    raise EnvError(message)


def _b64(value: str) -> str:
    return base64.b64decode(value).decode("utf-8", "replace")


async def _value(
    ctx: PodContext, container: Container, var: EnvVar, env: Mapping[str, str], lookup: ObjectLookup
) -> str:
    src = var.value_from
    if src is None:
        return expand(var.value, env)
    if src.field_ref is not None:
        return field_value(ctx, src.field_ref.field_path)
    if src.resource_field_ref is not None:
        ref = src.resource_field_ref
        return resource_value(container, ref.resource, ref.divisor)
    ns = ctx.pod.metadata.namespace
    if src.config_map_key_ref is not None:
        ck = src.config_map_key_ref
        cm = await lookup.config_map(ns, ck.name)
        if cm is not None and ck.key in cm.data:
            return cm.data[ck.key]
        return _missing_key(f"configmap {ck.name}", ck.key, ck.optional)
    if src.secret_key_ref is not None:
        sk = src.secret_key_ref
        secret = await lookup.secret(ns, sk.name)
        if secret is not None and sk.key in secret.data:
            return _b64(secret.data[sk.key])
        return _missing_key(f"secret {sk.name}", sk.key, sk.optional)
    return ""


def _missing_key(what: str, key: str, optional: bool | None) -> str:
    if optional:
        return ""
    raise EnvError(f"couldn't find key {key} in {what}")
