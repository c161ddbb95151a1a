"""Decoders for one kind, built once and cached: object, list page and watch event.

Everything decodes straight from the response bytes into the kind's Struct (or dict), in JSON
or msgpack; watch events use the tagged union of kcore.api.meta so each stream frame is one
decode call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import msgspec

from kcore.api import codec as api_codec
from kcore.api.meta import Added, Bookmark, Deleted, Error, ListMeta, Modified

T = TypeVar("T")
Wire = Literal["json", "msgpack"]
JSON = "application/json"
MSGPACK = "application/msgpack"


class ListBody(msgspec.Struct, Generic[T]):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[T] | None = None


class KindOnly(msgspec.Struct):
    kind: str = ""


@dataclass(frozen=True, slots=True)
class KindCodec(Generic[T]):
    """The decoders for values of `type` on one wire format."""

    obj: msgspec.json.Decoder[T] | msgspec.msgpack.Decoder[T]
    list: msgspec.json.Decoder[ListBody[T]] | msgspec.msgpack.Decoder[ListBody[T]]
    event: (
        msgspec.json.Decoder[Added[T] | Modified[T] | Deleted[T] | Bookmark[T] | Error]
        | msgspec.msgpack.Decoder[Added[T] | Modified[T] | Deleted[T] | Bookmark[T] | Error]
    )


_codecs: dict[tuple[Any, Wire], KindCodec[Any]] = {}


def codec_for(kind_type: Any, wire: Wire) -> KindCodec[Any]:
    """The cached decoders for `kind_type` (a Struct type or `dict`) on `wire`."""
    codec = _codecs.get((kind_type, wire))
    if codec is None:
        codec = _codecs[(kind_type, wire)] = _build(kind_type, wire)
    return codec


def event_type(kind_type: Any) -> Any:
    """The tagged union one watch frame decodes into."""
    union: Any = Added[kind_type] | Modified[kind_type] | Deleted[kind_type]  # type: ignore[valid-type]
    return union | Bookmark[kind_type] | Error  # type: ignore[valid-type]


def _build(kind_type: Any, wire: Wire) -> KindCodec[Any]:
    list_type: Any = ListBody[kind_type]  # type: ignore[valid-type]
    mod: Any = msgspec.msgpack if wire == "msgpack" else msgspec.json
    events = mod.Decoder(event_type(kind_type))
    return KindCodec(mod.Decoder(kind_type), mod.Decoder(list_type), events)


_json_encoder = msgspec.json.Encoder()
_msgpack_encoder = msgspec.msgpack.Encoder()
_json_any = msgspec.json.Decoder()
_msgpack_any = msgspec.msgpack.Decoder()
_json_kind = msgspec.json.Decoder(KindOnly)
_msgpack_kind = msgspec.msgpack.Decoder(KindOnly)


def encode(value: Any, wire: Wire) -> bytes:
    return _msgpack_encoder.encode(value) if wire == "msgpack" else _json_encoder.encode(value)


def encode_json(value: Any) -> bytes:
    return _json_encoder.encode(value)


def decode_any(data: bytes, content_type: str) -> Any:
    """Untyped decode by the response's content type (error bodies, subresources)."""
    if content_type.startswith(MSGPACK):
        return _msgpack_any.decode(data)
    return _json_any.decode(data)


def kind_of(data: bytes, content_type: str) -> str:
    decoder = _msgpack_kind if content_type.startswith(MSGPACK) else _json_kind
    try:
        return decoder.decode(data).kind
    except msgspec.DecodeError:
        return ""


def decode_with(decoder: Any, tp: Any, data: bytes, wire: Wire) -> Any:
    """Decode on the fast path; if the bytes carry JSON nulls where the Struct has none
    (Go servers send `"creationTimestamp": null`), retry through kcore.api.codec's
    null-tolerant slow path."""
    try:
        return decoder.decode(data)
    except msgspec.ValidationError:
        return api_codec.from_dict(tp, api_codec.decode_raw(data, fmt=wire))
