"""The agencies' certificates as the platform holds them beside the token: which certificate is
which agency's (``var/pki/agency-<code>.pem``), and the chain of issuers a signature carries
(the development CA and any intermediates in ``var/pki``). Plain Python."""

from __future__ import annotations

import contextlib
from pathlib import Path

import eventlet.patcher
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from services.signing import trust

# An OS lock, as the signer's own: signing runs in tpool threads as well as green ones.
_index_lock = eventlet.patcher.original("threading").Lock()
_index: dict = {"key": None, "map": {}}


def pki_folder_certificates(var: Path) -> list[asn1_x509.Certificate]:
    """Certificates in var/pki other than the agencies' (the dev CA, intermediates)."""
    out: list = []
    folder = Path(var) / "pki"
    if folder.is_dir():
        for path in sorted(folder.glob("*.pem")):
            if not path.name.startswith("agency-"):
                with contextlib.suppress(Exception):
                    out += trust.parse_certificates(path.read_bytes(), str(path))
    return out


def issuer_chain(cert: asn1_x509.Certificate, pool: list) -> list[asn1_x509.Certificate]:
    """The issuers of ``cert`` from ``pool``, up to a self-signed one or as far as known:
    subject, key identifier and signature must match."""
    by_subject: dict = {}
    for candidate in pool:
        if candidate.ca:
            by_subject.setdefault(candidate.subject.dump(), []).append(candidate)
    chain: list = []
    seen, current = {cert.sha256}, cert
    while current.self_signed != "yes" and len(chain) < 8:
        issuer = None
        for candidate in by_subject.get(current.issuer.dump(), []):
            aki = current.authority_key_identifier
            if candidate.sha256 in seen or (aki is not None and candidate.key_identifier not in (None, aki)):
                continue
            try:
                x509.load_der_x509_certificate(current.dump()).verify_directly_issued_by(
                    x509.load_der_x509_certificate(candidate.dump())
                )
            except (InvalidSignature, ValueError, TypeError):
                continue
            issuer = candidate
            break
        if issuer is None:
            break
        chain.append(issuer)
        seen.add(issuer.sha256)
        current = issuer
    return chain


def agency_index(var: Path) -> dict:
    """SHA-256 of each agency certificate var/pki/agency-<code>.pem -> code. Read again only when
    the folder changes (a new or re-issued certificate is a new file there)."""
    folder = Path(var) / "pki"
    try:
        key = (str(folder), folder.stat().st_mtime_ns)
    except FileNotFoundError:
        return {}
    with _index_lock:
        if _index["key"] == key:
            return _index["map"]
    mapping = {}
    for path in folder.glob("agency-*.pem"):
        code = path.name[len("agency-") : -len(".pem")]
        with contextlib.suppress(Exception):
            mapping[trust.parse_certificates(path.read_bytes(), str(path))[0].sha256] = code
    with _index_lock:
        _index["key"], _index["map"] = key, mapping
    return mapping
