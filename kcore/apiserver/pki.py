"""The API server's credentials: a CA, a serving certificate signed by it, an admin token and
the admin kubeconfig, all kept in the data dir so a restarted server keeps its identity.

Certificates follow what kubectl and Python's strict X.509 checks need: a separate CA
(basicConstraints CA:TRUE, keyCertSign) and a leaf with extendedKeyUsage serverAuth whose SANs
are IP:127.0.0.1, the addresses the server is reached at (its listen address, the `kubernetes`
Service's ClusterIP) and the names kube-apiserver's certificate carries (localhost,
kubernetes, kubernetes.default, kubernetes.default.svc, ...svc.cluster.local). Existing files
are reused; the serving certificate alone is reissued by the same CA when it lacks an address
or name the server now needs (a data dir from an older kcore), so clients keep trusting it.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_TEN_YEARS = datetime.timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Paths of the PEM files and the admin bearer token."""

    ca_cert: Path
    ca_key: Path
    tls_cert: Path
    tls_key: Path
    token: str


DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


def ensure_credentials(data_dir: Path, ips: tuple[str, ...] = ()) -> Credentials:
    """Create (once) and load the CA, serving cert and admin token under `data_dir/pki`; the
    serving cert names 127.0.0.1, `ips` and DNS_NAMES."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pki = data_dir / "pki"
    pki.mkdir(parents=True, exist_ok=True, mode=0o700)
    creds = Credentials(
        ca_cert=pki / "ca.crt",
        ca_key=pki / "ca.key",
        tls_cert=pki / "apiserver.crt",
        tls_key=pki / "apiserver.key",
        token=_ensure_token(pki / "admin.token"),
    )
    if not (creds.ca_cert.exists() and creds.ca_key.exists()):
        _write_ca(creds.ca_cert, creds.ca_key)
    names = _subject_alt_names(ips)
    if not (creds.tls_cert.exists() and creds.tls_key.exists()) or not _names_all(
        creds.tls_cert, names
    ):
        _write_serving_cert(creds, names)
    return creds


def _subject_alt_names(ips: tuple[str, ...]) -> x509.SubjectAlternativeName:
    general: list[x509.GeneralName] = []
    for name in dict.fromkeys(["127.0.0.1", *ips, *DNS_NAMES]):  # ordered, no repeats
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            if name:
                general.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(general)


def _names_all(cert_path: Path, want: x509.SubjectAlternativeName) -> bool:
    """Whether the certificate's SANs include every name in `want`."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    return set(want) <= set(have)


def _ensure_token(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    _write_private(path, token.encode() + b"\n")
    return token


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _builder(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + _TEN_YEARS)
    )


def _write_ca(cert_path: Path, key_path: Path) -> None:
    key = _new_key()
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        _builder("kcore-ca", "kcore-ca", key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_serving_cert(creds: Credentials, sans: x509.SubjectAlternativeName) -> None:
    ca_key = serialization.load_pem_private_key(creds.ca_key.read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(creds.ca_cert.read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = _new_key()
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        _builder("kcore-apiserver", "kcore-ca", key)
        .add_extension(sans, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(creds.tls_key, _key_pem(key))
    creds.tls_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def kubeconfig(server: str, creds: Credentials, *, namespace: str = "default") -> str:
    """An admin kubeconfig: the CA embedded, the bearer token inline."""
    ca_data = base64.b64encode(creds.ca_cert.read_bytes()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "kcore", "cluster": {"server": server, "certificate-authority-data": ca_data}}
        ],
        "users": [{"name": "admin", "user": {"token": creds.token}}],
        "contexts": [
            {
                "name": "kcore",
                "context": {"cluster": "kcore", "user": "admin", "namespace": namespace},
            }
        ],
        "current-context": "kcore",
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_kubeconfig(path: Path, server: str, creds: Credentials) -> Path:
    _write_private(path, kubeconfig(server, creds).encode())
    return path
