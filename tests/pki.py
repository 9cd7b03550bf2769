"""Test PKI: DSCs issued by the dev CA (or by a stranger's CA) with chosen dates and subjects,
and detached CMS signatures made by the real `openssl cms`, the way an exporter's tool would."""

import datetime as dt
import subprocess
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from cli import devpki


def _now():
    return dt.datetime.now(dt.timezone.utc)


def make_ca(folder: Path, name="Stranger CA"):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(days=1))
        .not_valid_after(_now() + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_dsc(
    var: Path, folder: Path, iec: str, name: str, *, days_valid=(-1, 365), ca=None, subject_iec=None
):
    """A director's DSC: key and certificate PEM files in ``folder``. ``days_valid`` is the
    validity window relative to now; ``ca`` defaults to the dev CA of ``var``."""
    issuer_cert, issuer_key = ca or devpki.load_dev_ca(var)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "IN"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, subject_iec or iec),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() + dt.timedelta(days=days_valid[0]))
        .not_valid_after(_now() + dt.timedelta(days=days_valid[1]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False
        )
        .sign(issuer_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{iec}-{name.replace(' ', '_')}-{cert.serial_number % 10**8}"
    cert_path, key_path = Path(f"{stem}.pem"), Path(f"{stem}.key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def openssl_sign(data: bytes, cert_path: Path, key_path: Path, folder: Path) -> bytes:
    """`openssl cms -sign -binary -outform DER`: detached, signer certificate included."""
    data_path = folder / f"to-sign-{uuid.uuid4().hex}.bin"  # callers may sign concurrently
    data_path.write_bytes(data)
    out = subprocess.run(
        [
            "openssl",
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-in",
            str(data_path),
            "-signer",
            str(cert_path),
            "-inkey",
            str(key_path),
        ],
        check=True,
        capture_output=True,
    )
    return out.stdout
