"""OpenAPI documents generated from the kind Structs.

/openapi/v2 is an empty body (a valid, empty protobuf Document: kubectl then skips client-side
validation). /openapi/v3 lists one document per group/version; each holds JSON schemas of its
kinds (msgspec's schema generator, tidied to Kubernetes' conventions: optional fields are plain
types, int-or-string and quantities are strings with a format), the
`x-kubernetes-group-version-kind` of every kind (`kubectl explain` looks kinds up by it), the
strategic-merge extensions from kcore.api.patch's table (`kubectl apply` computes its patches
from them), and a PATCH operation per resource that accepts `fieldValidation` (so kubectl
leaves field validation to the server).
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

import msgspec

from kcore.api.patch import schema as patch_schema
from kcore.api.registry import ResourceInfo
from kcore.apiserver import resources, wire

_REF = "#/components/schemas/"


def gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


@cache
def v3_document(group: str, version: str) -> bytes | None:
    infos = resources.resources_of(group, version)
    if not infos:
        return None
    _, components = msgspec.json.schema_components(
        [i.type for i in infos], ref_template=_REF + "{name}"
    )
    schemas = {name: _tidy(s) for name, s in components.items()}
    for info in infos:
        top = schemas[info.type.__name__]
        top["x-kubernetes-group-version-kind"] = [_gvk(info)]
        _annotate(schemas, info.type.__name__, patch_schema.schema_for(info.kind), set())
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4-kcore"},
        "paths": {p: op for info in infos for p, op in _paths(info).items()},
        "components": {"schemas": schemas},
    }
    return wire.encode_json(doc)


@cache
def v3_root() -> bytes:
    paths = {}
    for group, versions in resources.group_versions().items():
        for version in versions:
            body = v3_document(group, version)
            if body is None:
                continue
            digest = hashlib.sha256(body).hexdigest()[:32].upper()
            url = f"/openapi/v3/{gv_path(group, version)}?hash={digest}"
            paths[gv_path(group, version)] = {"serverRelativeURL": url}
    return wire.encode_json({"paths": paths})


def _gvk(info: ResourceInfo) -> dict[str, str]:
    return {"group": info.group, "kind": info.kind, "version": info.version}


def _tidy(node: Any) -> Any:
    """Kubernetes-style schemas: no nulls, no defaults, int-or-string and quantities as
    formatted strings, no empty `required`."""
    if isinstance(node, list):
        return [_tidy(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _tidy(v) for k, v in node.items() if k not in ("default", "title")}
    if node.get("required") == []:
        del node["required"]
    options = node.get("anyOf")
    if options is not None:
        node.pop("anyOf")
        node.update(_collapse([o for o in options if o != {"type": "null"}]))
    return node


def _collapse(options: list[dict[str, Any]]) -> dict[str, Any]:
    types = {o.get("type") for o in options}
    if len(options) == 1:
        return options[0]
    if types == {"integer", "string"}:
        return {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True}
    if types >= {"string", "integer", "number"}:
        return {"type": "string", "format": "quantity", "x-kubernetes-int-or-string": True}
    return {"anyOf": options}


def _target(prop: dict[str, Any]) -> str | None:
    ref = prop.get("$ref") or (prop.get("items") or {}).get("$ref")
    if ref is None:
        ref = ((prop.get("allOf") or [{}])[0]).get("$ref")
    return ref.removeprefix(_REF) if ref else None


def _annotate(
    schemas: dict[str, Any], name: str, patch: patch_schema.Schema | None, seen: set[str]
) -> None:
    if patch is None or name in seen or name not in schemas:
        return
    seen.add(name)
    props = schemas[name].get("properties") or {}
    for prop_name, prop in list(props.items()):
        f = patch_schema.field_of(patch, prop_name)
        strategy = ",".join(s for s in (f.strategy, "retainKeys" if f.retain_keys else "") if s)
        if strategy:
            if "$ref" in prop:
                prop = props[prop_name] = {"allOf": [{"$ref": prop.pop("$ref")}], **prop}
            prop["x-kubernetes-patch-strategy"] = strategy
            if f.merge_key:
                prop["x-kubernetes-patch-merge-key"] = f.merge_key
        target = _target(prop)
        if f.schema is not None and target:
            _annotate(schemas, target, f.schema, seen)


def _paths(info: ResourceInfo) -> dict[str, Any]:
    if "patch" not in info.verbs:
        return {}
    base = "/" + gv_path(info.group, info.version)
    scope = "/namespaces/{namespace}" if info.namespaced else ""
    params = [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
    ]
    if info.namespaced:
        params.append({"name": "namespace", "in": "path", "required": True,
                       "schema": {"type": "string"}})  # fmt: skip
    op = {
        "operationId": f"patch{info.kind}",
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": _gvk(info),
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {
            "schema": {"$ref": _REF + info.type.__name__}}}}},
    }  # fmt: skip
    return {f"{base}{scope}/{info.plural}/{{name}}": {"patch": op}}
