"""Assemble a running API server from a data dir: credentials (CA, serving cert, admin token),
the store, the server itself, and the admin kubeconfig written once it listens.

Used by `kcore up`/`kcore apiserver` and by kcore.Cluster, so both start the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kcore.apiserver.auth import Authenticator, User
from kcore.apiserver.bootstrap import MASTER_SERVICE_IP
from kcore.apiserver.config import ServerConfig
from kcore.apiserver.pki import Credentials, ensure_credentials, write_kubeconfig
from kcore.apiserver.server import APIServer
from kcore.storage import open_store
from kcore.storage.interface import Store


@dataclass(slots=True)
class RunningServer:
    server: APIServer
    store: Store
    credentials: Credentials
    kubeconfig: Path
    owns_store: bool = field(default=True)

    @property
    def url(self) -> str:
        return self.server.url

    async def stop(self) -> None:
        await self.server.stop()
        if self.owns_store:
            await self.store.close()


def default_store_url(data_dir: Path) -> str:
    return f"sqlite://{(data_dir / 'state.db').resolve()}"


async def start_apiserver(
    data_dir: Path,
    *,
    store: str | Store | None = None,
    host: str = "127.0.0.1",
    port: int = 6443,
    tls: bool = True,
    **options: Any,
) -> RunningServer:
    """Start serving; the caller owns the result and must `await result.stop()`. `options`
    are further ServerConfig fields (max_in_flight, watch_cache_capacity, ...)."""
    creds = ensure_credentials(data_dir, ips=(host, MASTER_SERVICE_IP))
    owns = store is None or isinstance(store, str)
    if store is None or isinstance(store, str):
        st: Store = await open_store(store or default_store_url(data_dir))
    else:
        st = store
    config = ServerConfig(
        host=host,
        port=port,
        tls_cert=creds.tls_cert if tls else None,
        tls_key=creds.tls_key if tls else None,
        **options,
    )
    authn = Authenticator()
    authn.add_token(creds.token, User("admin", ("system:masters",)))
    server = APIServer(st, config, authn)
    try:
        await server.start()
    except BaseException:
        if owns:
            await st.close()
        raise
    kubeconfig = write_kubeconfig(data_dir / "admin.kubeconfig", server.url, creds)
    return RunningServer(server, st, creds, kubeconfig, owns)
