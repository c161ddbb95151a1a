"""What every resource handler gets: the parsed request, the resource's store, the server's
shared parts (other resources' stores, allocators), and how to answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from multidict import MultiMapping

from kcore.api import errors
from kcore.api.registry import ResourceInfo
from kcore.apiserver import wire
from kcore.apiserver.requestinfo import RequestInfo, parse_bool
from kcore.apiserver.resource_store import ResourceStore

if TYPE_CHECKING:
    from aiohttp import web

    from kcore.apiserver.server import APIServer


@dataclass(slots=True)
class Reply:
    """A complete (non-streaming) answer."""

    status: int
    doc: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Context:
    server: APIServer
    request: web.BaseRequest
    ri: RequestInfo
    info: ResourceInfo
    rs: ResourceStore
    accept: wire.Accept
    body_nulls: bool = True

    @property
    def query(self) -> MultiMapping[str]:
        return self.request.query

    def param(self, name: str, default: str = "") -> str:
        return self.request.query.get(name, default)

    def flag(self, name: str) -> bool:
        return parse_bool(self.request.query.get(name))

    def int_param(self, name: str, default: int = 0) -> int:
        raw = self.request.query.get(name, "")
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            raise errors.bad_request(f"invalid value for {name}: {raw!r}") from None

    @property
    def strict(self) -> bool:
        return self.param("fieldValidation") == "Strict"

    @property
    def dry_run(self) -> bool:
        return bool(self.query.getall("dryRun", []))

    async def body(self) -> bytes:
        length = self.request.content_length
        if (length or 0) > wire.MAX_BODY:
            raise errors.request_entity_too_large("the request body is larger than 3145728 bytes")
        if length is not None:  # bounded by the length just checked: read it in one go
            return await self.request.content.read()
        data = bytearray()
        async for chunk in self.request.content.iter_chunked(65536):
            data += chunk
            if len(data) > wire.MAX_BODY:
                raise errors.request_entity_too_large(
                    "the request body is larger than 3145728 bytes"
                )
        return bytes(data)

    async def body_object(self) -> dict[str, Any]:
        """The decoded body; `body_nulls` says afterwards whether it may hold nulls (a JSON
        body without the bytes `null` has none, so decoding can skip dropping them)."""
        data = await self.body()
        doc = wire.decode_object(data, self.request.content_type)
        self.body_nulls = not (wire.is_json(self.request.content_type) and b"null" not in data)
        return doc

    def store_for(self, group: str, version: str, plural: str) -> ResourceStore:
        return self.server.resource_store(group, version, plural)
