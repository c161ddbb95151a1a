"""Pod volumes as host directories under the kubelet's data dir, bind-mounted into containers.

emptyDir: one directory per pod shared by its containers (removed with the pod); hostPath: the
host path itself (created for the *OrCreate types); configMap, secret, downwardAPI: files
written before the containers start (re-written on each sync, so updates show up). The
service account's token, ca.crt and namespace (kcore/kubelet/satoken.py) go the same way and are
mounted read-only in every container at /var/run/secrets/kubernetes.io/serviceaccount.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

from kcore.api.core import Container, KeyToPath, Volume
from kcore.kubelet.envvars import EnvError, ObjectLookup, PodContext, field_value
from kcore.kubelet.runtime import Mount
from kcore.kubelet.satoken import MOUNT_PATH, VOLUME_KEY, ApiAccess


def pod_dir(data_dir: Path, uid: str) -> Path:
    return data_dir / "pods" / uid


async def prepare(
    data_dir: Path, ctx: PodContext, lookup: ObjectLookup, access: ApiAccess | None = None
) -> dict[str, tuple[str, bool]]:
    """Each volume's host path and whether it is read-only; EnvError when a source is missing."""
    paths = await _spec_volumes(data_dir, ctx, lookup)
    files = await access.files(ctx.pod) if access is not None else None
    if files is not None:
        where = pod_dir(data_dir, ctx.pod.metadata.uid) / "volumes" / "kube-api-access"
        _write_files(where, files)
        paths[VOLUME_KEY] = (str(where), True)
    return paths


async def _spec_volumes(
    data_dir: Path, ctx: PodContext, lookup: ObjectLookup
) -> dict[str, tuple[str, bool]]:
    paths: dict[str, tuple[str, bool]] = {}
    base = pod_dir(data_dir, ctx.pod.metadata.uid) / "volumes"
    for vol in ctx.pod.spec.volumes:
        where = base / vol.name
        if vol.empty_dir is not None:
            _mkdir(where)
            paths[vol.name] = (str(where), False)
        elif vol.host_path is not None:
            paths[vol.name] = (_host_path(vol), False)
        elif vol.config_map is not None or vol.secret is not None:
            files = await _object_files(ctx.pod.metadata.namespace, vol, lookup)
            _write_files(where, files)
            paths[vol.name] = (str(where), True)
        elif vol.downward_api is not None:
            fields = {
                i.path: field_value(ctx, i.field_ref.field_path).encode()
                for i in vol.downward_api.items
                if i.field_ref is not None
            }
            _write_files(where, fields)
            paths[vol.name] = (str(where), True)
    return paths


def mounts(container: Container, volumes: dict[str, tuple[str, bool]]) -> list[Mount]:
    result = []
    for vm in container.volume_mounts:
        if vm.name not in volumes:
            continue
        host, read_only = volumes[vm.name]
        if vm.sub_path:
            host = os.path.join(host, vm.sub_path)
            _mkdir(Path(host))
        result.append(Mount(host, vm.mount_path, read_only or bool(vm.read_only)))
    token = volumes.get(VOLUME_KEY)
    if token is not None and all(m.container_path != MOUNT_PATH for m in result):
        result.append(Mount(token[0], MOUNT_PATH, True))
    return result


def cleanup(data_dir: Path, uid: str) -> None:
    shutil.rmtree(pod_dir(data_dir, uid), ignore_errors=True)


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)


def _host_path(vol: Volume) -> str:
    assert vol.host_path is not None
    path, kind = Path(vol.host_path.path), vol.host_path.type or ""
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    elif kind in ("Directory", "File") and not path.exists():
        raise EnvError(f"hostPath type check failed: {path} does not exist")
    return str(path)


async def _object_files(namespace: str, vol: Volume, lookup: ObjectLookup) -> dict[str, bytes]:
    if vol.config_map is not None:
        src = vol.config_map
        cm = await lookup.config_map(namespace, src.name)
        if cm is None:
            return _absent(f'configmap "{src.name}" not found', src.optional)
        data = {k: v.encode() for k, v in cm.data.items()}
        data.update({k: base64.b64decode(v) for k, v in cm.binary_data.items()})
        return _select(data, src.items, src.optional)
    assert vol.secret is not None
    ssrc = vol.secret
    secret = await lookup.secret(namespace, ssrc.secret_name)
    if secret is None:
        return _absent(f'secret "{ssrc.secret_name}" not found', ssrc.optional)
    return _select(
        {k: base64.b64decode(v) for k, v in secret.data.items()}, ssrc.items, ssrc.optional
    )


def _absent(message: str, optional: bool | None) -> dict[str, bytes]:
    if optional:
        return {}
    raise EnvError(message)


def _select(
    data: dict[str, bytes], items: list[KeyToPath], optional: bool | None
) -> dict[str, bytes]:
    if not items:
        return data
    chosen = {}
    for item in items:
        if item.key in data:
            chosen[item.path] = data[item.key]
        elif not optional:
            raise EnvError(f"couldn't find key {item.key}")
    return chosen


def _write_files(where: Path, files: dict[str, bytes]) -> None:
    _mkdir(where)
    for rel, content in files.items():
        target = where / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(content)
        tmp.chmod(0o644)
        tmp.replace(target)
