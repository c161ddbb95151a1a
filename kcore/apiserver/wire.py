"""Wire formats: which format a client accepts, decoding request bodies, encoding replies.

JSON is the default and what kubectl and the Python client get (even when they list protobuf
first). kcore's own clients may use msgpack: `Accept`/`Content-Type: application/msgpack` (or
`application/vnd.msgpack`, `application/x-msgpack`) carry the same document shapes as JSON,
msgpack-encoded. Watch streams in msgpack are a sequence of frames, each a 4-byte big-endian
length followed by one msgpack map `{"type": ..., "object": ...}`. `as=Table` in Accept asks
for server-side printing (meta.k8s.io Table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import yaml

from kcore.api import errors
from kcore.apiserver import protobuf

Format = Literal["json", "msgpack"]
MAX_BODY = 3 * 1024 * 1024
JSON = "application/json"
MSGPACK = "application/msgpack"
PROTOBUF = "application/vnd.kubernetes.protobuf"
_MSGPACK_TYPES = ("application/msgpack", "application/vnd.msgpack", "application/x-msgpack")
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")

_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()
_msgpack_encoder = msgspec.msgpack.Encoder()
_msgpack_decoder = msgspec.msgpack.Decoder()


@dataclass(frozen=True, slots=True)
class Accept:
    """What the reply should look like."""

    fmt: Format = "json"
    table: bool = False
    table_version: str = "v1"

    @property
    def content_type(self) -> str:
        return MSGPACK if self.fmt == "msgpack" else JSON


def parse_accept(header: str | None) -> Accept:
    """First acceptable entry wins; protobuf entries are skipped (we always answer JSON)."""
    if not header:
        return Accept()
    for entry in header.split(","):
        media, _, params = entry.strip().partition(";")
        media = media.strip().lower()
        if media in _MSGPACK_TYPES:
            return Accept(fmt="msgpack")
        if media in (JSON, "*/*", "application/*", "application/json;stream=watch"):
            return _json_accept(params)
    return Accept()


def _json_accept(params: str) -> Accept:
    fields = dict(p.strip().partition("=")[::2] for p in params.split(";") if "=" in p)
    if fields.get("as") == "Table" and fields.get("g") == "meta.k8s.io":
        return Accept(table=True, table_version=fields.get("v", "v1"))
    return Accept()


def encode(doc: Any, fmt: Format) -> bytes:
    if fmt == "msgpack":
        return _msgpack_encoder.encode(doc)
    return _json_encoder.encode(doc)


def encode_json(doc: Any) -> bytes:
    return _json_encoder.encode(doc)


def decode_json(data: bytes) -> Any:
    return _json_decoder.decode(data)


def frame(doc: Any, fmt: Format) -> bytes:
    """One watch event on the wire: a JSON line, or a length-prefixed msgpack frame."""
    if fmt == "msgpack":
        body = _msgpack_encoder.encode(doc)
        return len(body).to_bytes(4, "big") + body
    return _json_encoder.encode(doc) + b"\n"


def media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    """Bodies decode_body reads as JSON: application/json or no/unknown Content-Type."""
    media = media_type(content_type)
    return media != PROTOBUF and media not in _MSGPACK_TYPES and media not in _YAML_TYPES


def decode_body(data: bytes, content_type: str | None) -> Any:
    """JSON (also for a missing Content-Type), YAML or msgpack into plain Python values."""
    if len(data) > MAX_BODY:
        raise errors.request_entity_too_large("the request body is larger than 3145728 bytes")
    media = media_type(content_type)
    if media == PROTOBUF:
        return protobuf.decode_object(data)
    try:
        if media in _MSGPACK_TYPES:
            return _msgpack_decoder.decode(data)
        if media in _YAML_TYPES:
            return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return _json_decoder.decode(data)
    except (msgspec.DecodeError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise errors.bad_request(f"unable to decode request body: {e}") from None
    except RecursionError:  # nesting deeper than the decoder's limit
        raise errors.bad_request("unable to decode request body: nested too deeply") from None


def decode_object(data: bytes, content_type: str | None) -> dict[str, Any]:
    doc = decode_body(data, content_type)
    if not isinstance(doc, dict):
        raise errors.bad_request(
            f"unable to decode request body: expected a JSON object, got {type(doc).__name__}"
        )
    return doc
