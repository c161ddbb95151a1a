"""Encoding and decoding of API objects: JSON and msgpack, typed watch events, YAML documents.

Decoders are built once per type and kept at module scope; the fast path decodes bytes straight
into the Struct. Only when that fails does the slow path decode to builtins, drop JSON nulls (Go
treats `"field": null` as the zero value, and kubectl sends `creationTimestamp: null`) and convert,
so that every input Kubernetes accepts decodes here too. Errors are 400 BadRequest StatusErrors.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Literal, TypeVar, cast

import msgspec
import yaml

from kcore.api import errors, kinds
from kcore.api.meta import Added, Bookmark, Deleted, Error, Modified
from kcore.api.registry import ResourceInfo, by_kind

Format = Literal["json", "msgpack"]
T = TypeVar("T")

_json_encoder = msgspec.json.Encoder()
_msgpack_encoder = msgspec.msgpack.Encoder()
_json_any = msgspec.json.Decoder()
_msgpack_any = msgspec.msgpack.Decoder()
_YAML_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlLoader(_YAML_BASE):  # type: ignore[misc]
    """Safe YAML where unquoted timestamps stay strings, as kubectl's YAML-to-JSON keeps them
    (the object model holds times as RFC 3339 strings)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _YAML_BASE.yaml_implicit_resolvers.items()
    }


_YAML_LOADER: Any = _YamlLoader
_YAML_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@cache
def _decoder(tp: Any, fmt: Format) -> Any:
    if fmt == "msgpack":
        return msgspec.msgpack.Decoder(tp)
    return msgspec.json.Decoder(tp)


def _type_of(info_or_type: ResourceInfo | type[T]) -> Any:
    return info_or_type.type if isinstance(info_or_type, ResourceInfo) else info_or_type


def decode(info_or_type: ResourceInfo | type[T], data: bytes, *, fmt: Format = "json") -> Any:
    """Decode `data` into the kind's Struct; raise StatusError 400 when it cannot be."""
    tp = _type_of(info_or_type)
    try:
        return _decoder(tp, fmt).decode(data)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise errors.bad_request(f"unable to decode {_name(tp)}: {exc}") from None
    return from_dict(tp, decode_raw(data, fmt=fmt))


def decode_raw(data: bytes, *, fmt: Format = "json") -> Any:
    """Decode to plain builtins (dict/list/str/...), 400 BadRequest on malformed input."""
    try:
        return (_msgpack_any if fmt == "msgpack" else _json_any).decode(data)
    except msgspec.DecodeError as exc:
        raise errors.bad_request(f"unable to decode request body: {exc}") from None


def encode(obj: Any, *, fmt: Format = "json") -> bytes:
    return (_msgpack_encoder if fmt == "msgpack" else _json_encoder).encode(obj)


def deep_copy(obj: T) -> T:
    """A fully independent copy of a Struct (informer caches hand out shared objects)."""
    decoded: T = _decoder(cast(Any, type(obj)), "msgpack").decode(_msgpack_encoder.encode(obj))
    return decoded


def to_dict(obj: Any) -> Any:
    """The object as JSON-shaped builtins with Kubernetes field names."""
    return msgspec.to_builtins(obj)


def from_dict(tp: type[T], data: Any, *, drop_nulls: bool = True) -> T:
    """Build a Struct from JSON-shaped builtins; nulls mean "unset" as in Go. A caller that
    knows `data` holds no None (e.g. its JSON text has no `null`) may skip that pass."""
    try:
        return msgspec.convert(_drop_nulls(data) if drop_nulls else data, tp)
    except msgspec.ValidationError as exc:
        raise errors.bad_request(_unmarshal_message(tp, str(exc))) from None


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


_VALIDATION = re.compile(
    r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`( - at `\$\.?(?P<at>.*)`)?"
)


def _unmarshal_message(tp: Any, detail: str) -> str:
    """Kubernetes-style wording for a type mismatch ("json: cannot unmarshal ...")."""
    match = _VALIDATION.match(detail)
    if not match:
        return f"unable to decode {_name(tp)}: {detail}"
    where = match["at"] or "(root)"
    return (
        f"unable to decode {_name(tp)}: json: cannot unmarshal {match['got']} into "
        f"field {where} of type {match['want']}"
    )


def _name(tp: Any) -> str:
    return str(getattr(tp, "KIND", "") or getattr(tp, "__name__", "object"))


def type_for(api_version: str, kind: str) -> type[Any] | None:
    """The Struct for an apiVersion/kind pair, including subresource bodies (Scale, Eviction,
    Binding) and meta/v1 envelopes (Status, DeleteOptions, Table)."""
    info = by_kind(api_version, kind)
    if info is not None:
        return info.type
    key = (api_version, kind)
    return kinds.SUBRESOURCE_TYPES.get(key) or kinds.META_TYPES.get(key)


# --- watch events -----------------------------------------------------------------------------
_WATCH_DECODERS: dict[tuple[Any, str], Any] = {}


def watch_decoder(tp: type[Any], fmt: Format = "json") -> Any:
    """One Decoder per kind for the tagged union of watch events carrying that kind."""
    decoder = _WATCH_DECODERS.get((tp, fmt))
    if decoder is None:
        union = Added[tp] | Modified[tp] | Deleted[tp] | Bookmark[tp] | Error  # type: ignore[valid-type]
        decoder = _WATCH_DECODERS[(tp, fmt)] = _decoder(union, fmt)
    return decoder


def decode_event(tp: type[Any], data: bytes, *, fmt: Format = "json") -> Any:
    """Decode one watch-stream event into Added/Modified/Deleted/Bookmark[tp] or Error."""
    try:
        return watch_decoder(tp, fmt).decode(data)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise errors.bad_request(f"unable to decode watch event: {exc}") from None


_JSON_EVENT_HEAD = {
    t: b'{"type":"' + t.encode() + b'","object":'
    for t in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR")
}


def encode_event(event_type: str, object_bytes: bytes, *, fmt: Format = "json") -> bytes:
    """Frame an already-encoded object as a watch event, without re-encoding the object."""
    if fmt == "msgpack":
        head = b"\x82" + _msgpack_encoder.encode("type") + _msgpack_encoder.encode(event_type)
        return head + _msgpack_encoder.encode("object") + object_bytes
    head = _JSON_EVENT_HEAD.get(event_type) or b'{"type":' + _json_encoder.encode(event_type)
    if event_type not in _JSON_EVENT_HEAD:
        head += b',"object":'
    return head + object_bytes + b"}"


# --- strict field validation ---------------------------------------------------------------------
def unknown_fields(raw: Any, obj: Any) -> list[str]:
    """JSON paths present in `raw` that the Struct type of `obj` (or `obj` itself, a type) drops.

    Free-form maps (labels, annotations, data, resource lists, nodeSelector) hold no unknowns.
    """
    tp = obj if isinstance(obj, type) else type(obj)
    found: list[str] = []
    _walk(raw, _struct_info(tp), "", found)
    return found


_TYPE_INFO: dict[Any, msgspec.inspect.Type] = {}


def _struct_info(tp: Any) -> msgspec.inspect.Type:
    info = _TYPE_INFO.get(tp)
    if info is None:
        info = _TYPE_INFO[tp] = msgspec.inspect.type_info(tp)
    return info


def strict_decoding_error(info: ResourceInfo, paths: list[str]) -> errors.StatusError:
    """400 BadRequest worded as Kubernetes' fieldValidation=Strict rejection."""
    detail = ", ".join(f'unknown field "{p}"' for p in paths)
    return errors.bad_request(
        f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
        f"strict decoding error: {detail}"
    )


def _walk(value: Any, t: msgspec.inspect.Type, path: str, found: list[str]) -> None:
    match t:
        case msgspec.inspect.StructType() if isinstance(value, dict):
            _walk_struct(value, t, path, found)
        case msgspec.inspect.ListType() if isinstance(value, list):
            for i, item in enumerate(value):
                _walk(item, t.item_type, f"{path}[{i}]", found)
        case msgspec.inspect.UnionType():
            for option in t.types:
                if _shape_fits(value, option):
                    _walk(value, option, path, found)
                    return


def _walk_struct(
    value: dict[str, Any], t: msgspec.inspect.StructType, path: str, found: list[str]
) -> None:
    fields = _fields(t.cls)
    for key, item in value.items():
        sub = f"{path}.{key}" if path else key
        field_type = fields.get(key)
        if field_type is None:
            found.append(sub)
        else:
            _walk(item, field_type, sub, found)


@cache
def _fields(cls: type[Any]) -> dict[str, msgspec.inspect.Type]:
    info = _struct_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name: f.type for f in info.fields}


def _shape_fits(value: Any, t: msgspec.inspect.Type) -> bool:
    if isinstance(value, dict):
        return isinstance(t, msgspec.inspect.StructType)
    return isinstance(value, list) and isinstance(t, msgspec.inspect.ListType)


# --- YAML --------------------------------------------------------------------------------------
def load_yaml_documents(text: str | bytes) -> list[Any]:
    """Every non-empty document of a (multi-document) YAML stream, as builtins."""
    try:
        return [doc for doc in yaml.load_all(text, Loader=_YAML_LOADER) if doc is not None]
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"unable to decode YAML: {exc}") from None


def dump_yaml(obj: Any) -> str:
    """A Struct (or builtins) as block-style YAML, keys in the object's own order."""
    data = obj if isinstance(obj, dict | list) else to_dict(obj)
    return str(yaml.dump(data, Dumper=_YAML_DUMPER, sort_keys=False, default_flow_style=False))
