"""Where and how to reach an API server: kubeconfig files and the in-cluster environment.

`load_kubeconfig` resolves one context (current-context unless named) into a `Config`;
`load_incluster` reads the service-account mount and KUBERNETES_SERVICE_HOST/PORT. A Config
builds its SSL context once (`ssl_context()`), so clients never pay for TLS setup per request.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """The kubeconfig or in-cluster environment cannot describe a usable server."""


@dataclass(slots=True)
class Config:
    server: str
    namespace: str = "default"
    token: str | None = None
    token_file: str | None = None
    ca_data: bytes | None = None
    insecure_skip_tls_verify: bool = False
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    username: str | None = None
    password: str | None = None
    _ssl: ssl.SSLContext | None = field(default=None, init=False, repr=False)

    @property
    def is_https(self) -> bool:
        return self.server.startswith("https://")

    def bearer_token(self) -> str | None:
        """The token, re-read from `token_file` each call so rotated tokens are picked up."""
        if self.token_file:
            return Path(self.token_file).read_text().strip()
        return self.token

    def ssl_context(self) -> ssl.SSLContext | None:
        """The one SSL context for this server (None for plain http)."""
        if not self.is_https:
            return None
        if self._ssl is None:
            self._ssl = self._build_ssl()
        return self._ssl

    def _build_ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.insecure_skip_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_data:
            ctx.load_verify_locations(cadata=self.ca_data.decode())
        if self.client_cert_data and self.client_key_data:
            _load_cert_chain(ctx, self.client_cert_data, self.client_key_data)
        return ctx


def _load_cert_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl only loads client certificates from files; keep them there just long enough.
    with tempfile.TemporaryDirectory(prefix="kcore-cert-") as tmp:
        cert_path, key_path = Path(tmp, "client.crt"), Path(tmp, "client.key")
        cert_path.write_bytes(cert)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key)
        ctx.load_cert_chain(str(cert_path), str(key_path))


def default_kubeconfig_path() -> Path:
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first) if first else Path.home() / ".kube" / "config"


def _named(entries: list[dict[str, Any]] | None, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            return dict(entry.get(what) or {})
    raise ConfigError(f"kubeconfig has no {what} named {name!r}")


def _data_or_file(section: dict[str, Any], key: str, base: Path) -> bytes | None:
    """`<key>-data` (base64) or the file named by `<key>` (relative to the kubeconfig)."""
    data = section.get(f"{key}-data")
    if data:
        return base64.b64decode(str(data))
    path = section.get(key)
    if path:
        return Path(base, str(path)).read_bytes()
    return None


def load_kubeconfig(path: str | Path | None = None, *, context: str | None = None) -> Config:
    """The Config for `context` (default: current-context) in the kubeconfig at `path`."""
    file = Path(path) if path is not None else default_kubeconfig_path()
    try:
        doc = yaml.safe_load(file.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read kubeconfig {file}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {file} is not a mapping")
    name = context or doc.get("current-context")
    if not name:
        raise ConfigError(f"kubeconfig {file} names no current-context")
    ctx = _named(doc.get("contexts"), name, "context")
    cluster = _named(doc.get("clusters"), ctx.get("cluster", ""), "cluster")
    user = _named(doc.get("users"), ctx["user"], "user") if ctx.get("user") else {}
    return _config_from(cluster, user, ctx.get("namespace") or "default", file.parent)


def _config_from(
    cluster: dict[str, Any], user: dict[str, Any], namespace: str, base: Path
) -> Config:
    if not cluster.get("server"):
        raise ConfigError("cluster has no server")
    token_file = user.get("tokenFile")
    return Config(
        server=str(cluster["server"]).rstrip("/"),
        namespace=namespace,
        token=user.get("token"),
        token_file=str(base / token_file) if token_file else None,
        ca_data=_data_or_file(cluster, "certificate-authority", base),
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        client_cert_data=_data_or_file(user, "client-certificate", base),
        client_key_data=_data_or_file(user, "client-key", base),
        username=user.get("username"),
        password=user.get("password"),
    )


def load_incluster(
    directory: str | Path = SERVICE_ACCOUNT_DIR, *, environ: dict[str, str] | None = None
) -> Config:
    """The Config a pod uses: service host/port from the environment, token and CA mounted."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ConfigError("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
    folder = Path(directory)
    token_file = folder / "token"
    if not token_file.exists():
        raise ConfigError(f"no service account token at {token_file}")
    ns_file, ca_file = folder / "namespace", folder / "ca.crt"
    host = f"[{host}]" if ":" in host else host
    return Config(
        server=f"https://{host}:{port}",
        namespace=ns_file.read_text().strip() if ns_file.exists() else "default",
        token_file=str(token_file),
        ca_data=ca_file.read_bytes() if ca_file.exists() else None,
    )
