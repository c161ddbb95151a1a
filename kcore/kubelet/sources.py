"""Static pod sources: a manifest directory, a manifest URL, and pods posted to the kubelet.

Each source yields complete sets of pods; the kubelet diffs each set against what it runs
from that source. A static pod gets Kubernetes' treatment: namespace "default" when none,
name suffixed with the node name, spec.nodeName set, a uid hashed from source and content
(so an edited manifest is a new pod), and the config.source/hash annotations the mirror pod
carries into the API.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import yaml

from kcore.api import codec, defaults
from kcore.api.core import Pod

log = logging.getLogger(__name__)

CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_MIRROR = "kubernetes.io/config.mirror"
CONFIG_SEEN = "kubernetes.io/config.seen"

Update = Callable[[str, list[Pod]], Awaitable[None]]


def static_pod(doc: dict[str, Any], *, source: str, node_name: str) -> Pod:
    """A manifest document as the kubelet runs it (raises on anything but a valid Pod)."""
    if doc.get("kind", "Pod") != "Pod":
        raise ValueError(f"a static manifest must be a Pod, not {doc.get('kind')!r}")
    pod = defaults.apply_defaults(codec.from_dict(Pod, doc))
    meta = pod.metadata
    meta.namespace = meta.namespace or "default"
    if not meta.name:
        raise ValueError("a static pod needs metadata.name")
    meta.name = f"{meta.name}-{node_name}"
    pod.spec.node_name = node_name
    digest = hashlib.sha256(source.encode() + b"\0" + msgspec.json.encode(doc)).hexdigest()
    meta.uid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    meta.annotations = {
        **meta.annotations,
        CONFIG_SOURCE: source.split(":", 1)[0],
        CONFIG_HASH: meta.uid,
    }
    return pod


def parse_manifests(text: str, *, source: str, node_name: str) -> list[Pod]:
    pods: list[Pod] = []
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        items = doc.get("items", []) if doc.get("kind") == "PodList" else [doc]
        pods.extend(static_pod(item, source=source, node_name=node_name) for item in items)
    return pods


def is_mirror(pod: Pod) -> bool:
    return CONFIG_MIRROR in pod.metadata.annotations


def read_dir(directory: Path, node_name: str) -> list[Pod]:
    """Every pod of every *.yaml/*.yml/*.json file; a broken file is logged and skipped."""
    pods: list[Pod] = []
    if not directory.is_dir():
        return pods
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.suffix not in (".yaml", ".yml", ".json"):
            continue
        try:
            pods.extend(
                parse_manifests(path.read_text(), source=f"file:{path}", node_name=node_name)
            )
        except Exception as e:
            log.warning("static pod manifest %s is invalid: %s", path, e)
    return pods


def _fingerprint(directory: Path) -> tuple[tuple[str, float, int], ...]:
    if not directory.is_dir():
        return ()
    return tuple((p.name, p.stat().st_mtime, p.stat().st_size) for p in sorted(directory.iterdir()))


async def watch_dir(directory: Path, node_name: str, period: float, update: Update) -> None:
    """Re-read the directory whenever a file's name, mtime or size changes."""
    seen: tuple[tuple[str, float, int], ...] | None = None
    while True:
        current = _fingerprint(directory)
        if current != seen:
            seen = current
            await update("file", read_dir(directory, node_name))
        await asyncio.sleep(period)


async def poll_url(
    url: str, node_name: str, period: float, session: aiohttp.ClientSession, update: Update
) -> None:
    """Fetch the manifest URL every `period`; a failed fetch keeps the last good set."""
    last: bytes | None = None
    while True:
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                body = await resp.read() if resp.status == 200 else None
            if body is not None and body != last:
                pods = parse_manifests(body.decode(), source=f"http:{url}", node_name=node_name)
                last = body
                await update("http", pods)
        except Exception as e:
            log.warning("manifest URL %s: %s", url, e)
        await asyncio.sleep(period)
