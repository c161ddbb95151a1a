"""Kubeconfig and in-cluster config loading, with real certificates."""

from __future__ import annotations

import base64
import datetime as dt
import ssl
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kcore.client.kubeconfig import ConfigError, load_incluster, load_kubeconfig


def self_signed(cn: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write(path: Path, doc: object) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def kubeconfig(ca: bytes, cert: bytes, key: bytes) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "admin",
        "clusters": [
            {
                "name": "kcore",
                "cluster": {
                    "server": "https://127.0.0.1:6443/",
                    "certificate-authority-data": b64(ca),
                },
            },
            {
                "name": "other",
                "cluster": {"server": "http://127.0.0.2:8080", "insecure-skip-tls-verify": True},
            },
        ],
        "users": [
            {
                "name": "admin",
                "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)},
            },
            {"name": "bot", "user": {"tokenFile": "token.txt"}},
        ],
        "contexts": [
            {"name": "admin", "context": {"cluster": "kcore", "user": "admin"}},
            {"name": "bot", "context": {"cluster": "other", "user": "bot", "namespace": "apps"}},
        ],
    }


def test_current_context_with_embedded_certificates(tmp_path: Path) -> None:
    ca, _ = self_signed("kcore-ca")
    cert, key = self_signed("admin")
    cfg = load_kubeconfig(write(tmp_path / "config", kubeconfig(ca, cert, key)))
    assert cfg.server == "https://127.0.0.1:6443"
    assert cfg.namespace == "default"
    assert cfg.ca_data == ca and cfg.client_cert_data == cert and cfg.client_key_data == key
    ctx = cfg.ssl_context()
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED
    assert cfg.ssl_context() is ctx  # built once
    assert any(c["subject"] == ((("commonName", "kcore-ca"),),) for c in ctx.get_ca_certs())


def test_named_context_token_file_and_namespace(tmp_path: Path) -> None:
    ca, _ = self_signed("ca")
    (tmp_path / "token.txt").write_text("s3cret\n")
    path = write(tmp_path / "config", kubeconfig(ca, b"", b""))
    cfg = load_kubeconfig(path, context="bot")
    assert cfg.server == "http://127.0.0.2:8080" and cfg.namespace == "apps"
    assert cfg.insecure_skip_tls_verify and cfg.ssl_context() is None
    assert cfg.bearer_token() == "s3cret"
    (tmp_path / "token.txt").write_text("rotated")
    assert cfg.bearer_token() == "rotated"


def test_certificate_files_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    ca, _ = self_signed("ca")
    (tmp_path / "ca.crt").write_bytes(ca)
    doc = {
        "current-context": "c",
        "clusters": [
            {
                "name": "k",
                "cluster": {"server": "https://127.0.0.1:1", "certificate-authority": "ca.crt"},
            }
        ],
        "users": [{"name": "u", "user": {"token": "abc"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }
    cfg = load_kubeconfig(write(tmp_path / "config", doc))
    assert cfg.ca_data == ca and cfg.bearer_token() == "abc"


def test_insecure_skip_verify_disables_checks(tmp_path: Path) -> None:
    doc = {
        "current-context": "c",
        "clusters": [
            {
                "name": "k",
                "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True},
            }
        ],
        "contexts": [{"name": "c", "context": {"cluster": "k"}}],
    }
    ctx = load_kubeconfig(write(tmp_path / "config", doc)).ssl_context()
    assert ctx is not None and ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname


@pytest.mark.parametrize(
    "doc",
    [
        {"clusters": []},
        {"current-context": "missing", "contexts": []},
        {"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "nope"}}]},
    ],
)
def test_broken_kubeconfigs_raise_config_error(tmp_path: Path, doc: object) -> None:
    with pytest.raises(ConfigError):
        load_kubeconfig(write(tmp_path / "config", doc))


def test_missing_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_kubeconfig(tmp_path / "absent")


def test_in_cluster_config(tmp_path: Path) -> None:
    ca, _ = self_signed("cluster-ca")
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_bytes(ca)
    (tmp_path / "namespace").write_text("team-a\n")
    env = {"KUBERNETES_SERVICE_HOST": "127.32.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg = load_incluster(tmp_path, environ=env)
    assert cfg.server == "https://127.32.0.1:443"
    assert cfg.namespace == "team-a" and cfg.bearer_token() == "sa-token" and cfg.ca_data == ca


def test_in_cluster_needs_the_environment_and_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_incluster(tmp_path, environ={})
    env = {"KUBERNETES_SERVICE_HOST": "127.32.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(ConfigError):
        load_incluster(tmp_path, environ=env)
