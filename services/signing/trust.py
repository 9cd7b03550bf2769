"""Trust anchors for exporters' DSCs (architecture §3, §4).

The anchors are the development CA made by set-up (``$OPENCOO_VAR/pki/dev-ca.pem``, see
``cli.devpki.ensure_dev_ca``) plus ``OPENCOO_TRUST_ANCHORS``: a PEM file, or a folder of PEM (or
DER) files, each file holding one or more certificates. Nothing is created here: a missing dev CA is
simply not trusted.

Loaded once per process and cached. The cache is keyed by the data folder, the value of
OPENCOO_TRUST_ANCHORS and whether the dev CA file exists, so a test (or set-up run after the service
started) that points these elsewhere gets a fresh load; edits to the files themselves are only seen
after ``clear_cache()`` or a restart.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

from services.chassis import config

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict = {"key": None, "anchors": ()}


def dev_ca_path() -> Path:
    """Where set-up puts the development CA certificate (cli.devpki.ca_paths)."""
    return config.var_dir() / "pki" / "dev-ca.pem"


def parse_certificates(data: bytes, source: str = "<bytes>") -> list[asn1_x509.Certificate]:
    """Every certificate in ``data``: PEM with one or more CERTIFICATE blocks (other blocks are
    skipped), or a single DER certificate. Raises ValueError when nothing can be read."""
    certs = []
    if pem.detect(data):
        for type_name, _headers, der in pem.unarmor(data, multiple=True):
            if type_name in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
                cert = asn1_x509.Certificate.load(der, strict=False)
                cert.native  # parse now, so a broken block fails here  # noqa: B018
                certs.append(cert)
    else:
        cert = asn1_x509.Certificate.load(data, strict=True)
        cert.native  # noqa: B018
        certs.append(cert)
    if not certs:
        raise ValueError(f"no certificate found in {source}")
    return certs


def _read_file(path: Path) -> list[asn1_x509.Certificate]:
    try:
        return parse_certificates(path.read_bytes(), str(path))
    except Exception as exc:  # a bad file must not take the service down; it is just not trusted
        log.error("trust anchors: cannot read %s: %s", path, exc)
        return []


def _load(var_ca: Path, extra: str | None) -> tuple[asn1_x509.Certificate, ...]:
    anchors: list[asn1_x509.Certificate] = []
    if var_ca.is_file():
        anchors += _read_file(var_ca)
    if extra:
        path = Path(extra)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file() and not child.name.startswith("."):
                    anchors += _read_file(child)
        elif path.is_file():
            anchors += _read_file(path)
        else:
            log.error("trust anchors: OPENCOO_TRUST_ANCHORS=%s is neither a file nor a folder", extra)
    unique, seen = [], set()
    for cert in anchors:
        digest = cert.sha256
        if digest not in seen:
            seen.add(digest)
            unique.append(cert)
    log.info("trust anchors loaded: %s", ", ".join(c.subject.human_friendly for c in unique) or "none")
    return tuple(unique)


def trust_anchors() -> tuple[asn1_x509.Certificate, ...]:
    """The trusted root certificates (asn1crypto objects), loaded once and cached."""
    var_ca = dev_ca_path()
    extra = config.env("OPENCOO_TRUST_ANCHORS")
    key = (str(var_ca), extra, var_ca.is_file())
    with _lock:
        if _cache["key"] != key:
            _cache["anchors"] = _load(var_ca, extra)
            _cache["key"] = key
        return _cache["anchors"]


def clear_cache() -> None:
    """Forget the loaded anchors; the next ``trust_anchors()`` reads the files again."""
    with _lock:
        _cache["key"] = None
        _cache["anchors"] = ()


__all__ = ["trust_anchors", "clear_cache", "parse_certificates", "dev_ca_path"]
