"""Development PKI: a local CA, the JWT signing keys and a SoftHSM2 token holding the agencies' keys.

Plain Python (no nameko), for set-up, the CLI and tests. Reading the token (finding the module,
sessions, key labels, agency certificates) is the signing service's (``services/signing/token.py``);
this module makes what it reads. Everything lives under the data folder ``var`` (OPENCOO_VAR,
architecture §3):

    var/pki/dev-ca.pem, dev-ca.key (0600)      self-signed EC P-256 "OpenCoO Development CA"
    var/pki/agency-<code>.pem                  agency signing certificates issued by the dev CA
    var/keys/jwt-ed25519.pem (0600), .pub.pem  EdDSA key pair for login tokens
    var/softhsm2/softhsm2.conf, tokens/        the SoftHSM2 token "opencoo-agencies"
    var/softhsm2/pin, so-pin (0600)            its PINs (unless OPENCOO_PKCS11_PIN is set)

Every ``ensure_*`` function is idempotent: when things exist it only checks them. Creation happens
under an exclusive ``flock`` on a lock file in the target folder (so concurrent processes do not race,
the loser re-checks and finds the winner's work), and files are written to a temporary file and then
``os.replace``-d into place, so readers never see half-written files.

SoftHSM2 reads SOFTHSM2_CONF only at C_Initialize, and a process does not see tokens made by another
process (softhsm2-util) until it re-initialises the library. ``open_token_session`` therefore sets
SOFTHSM2_CONF in ``os.environ`` (process-wide) and re-initialises the cached python-pkcs11 library when
the configuration changes or the token is not found.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

# What the signing service needs of the token lives with it; set-up makes what it reads.
from services.signing.token import (
    DEFAULT_TOKEN_LABEL,
    TokenInfo,
    agency_cert_path,
    agency_key_id,
    agency_key_label,
    configured_token,
    find_objects,
    find_pkcs11_module,
    get_token,
    open_token_session,
    spki_der,
    token_public_key,
)

CA_COMMON_NAME = "OpenCoO Development CA"

#: Microsoft "Document Signing" EKU (accepted by Adobe / most PDF validators).
MS_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
#: RFC 9336 id-kp-documentSigning.
ID_KP_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")

_NAME_OIDS = {
    "cn": NameOID.COMMON_NAME,
    "common_name": NameOID.COMMON_NAME,
    "commonname": NameOID.COMMON_NAME,
    "o": NameOID.ORGANIZATION_NAME,
    "organization": NameOID.ORGANIZATION_NAME,
    "organization_name": NameOID.ORGANIZATION_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "organizational_unit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "organizational_unit_name": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "c": NameOID.COUNTRY_NAME,
    "country": NameOID.COUNTRY_NAME,
    "country_name": NameOID.COUNTRY_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME,
    "state": NameOID.STATE_OR_PROVINCE_NAME,
    "state_or_province_name": NameOID.STATE_OR_PROVINCE_NAME,
    "l": NameOID.LOCALITY_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "locality_name": NameOID.LOCALITY_NAME,
    "street": NameOID.STREET_ADDRESS,
    "street_address": NameOID.STREET_ADDRESS,
    "postal_code": NameOID.POSTAL_CODE,
    "postalcode": NameOID.POSTAL_CODE,
    "serialnumber": NameOID.SERIAL_NUMBER,
    "serial_number": NameOID.SERIAL_NUMBER,
    "emailaddress": NameOID.EMAIL_ADDRESS,
    "email": NameOID.EMAIL_ADDRESS,
    "email_address": NameOID.EMAIL_ADDRESS,
    "title": NameOID.TITLE,
    "uid": NameOID.USER_ID,
    "dnqualifier": NameOID.DN_QUALIFIER,
    "pseudonym": NameOID.PSEUDONYM,
    "organization_identifier": NameOID.ORGANIZATION_IDENTIFIER,
}


# --------------------------------------------------------------------------------------------------
# small file helpers


def _mkdir(path: Path, mode: int = 0o755) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    return path


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to a temp file in the same folder (created with ``mode``) then os.replace."""
    _mkdir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(folder: Path, name: str = ".devpki.lock") -> Iterator[None]:
    """Exclusive advisory lock (flock) shared by all processes and threads working in ``folder``."""
    _mkdir(folder)
    fd = os.open(str(folder / name), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def nonempty(*paths: Path) -> bool:
    try:
        return all(p.stat().st_size > 0 for p in paths)
    except FileNotFoundError:
        return False


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


# --------------------------------------------------------------------------------------------------
# 1. development CA


def ca_paths(var: Path) -> tuple[Path, Path]:
    pki = Path(var) / "pki"
    return pki / "dev-ca.pem", pki / "dev-ca.key"


def _ca_valid(cert_path: Path, key_path: Path) -> bool:
    if not nonempty(cert_path, key_path):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError):
        return False
    return spki_der(cert.public_key()) == spki_der(key.public_key())


def ensure_dev_ca(var: Path) -> tuple[Path, Path]:
    """The self-signed development CA (EC P-256, 10 years), created once. Returns (cert, key) paths."""
    cert_path, key_path = ca_paths(var)
    if nonempty(cert_path, key_path):  # fast path: nothing but a stat
        return cert_path, key_path
    with locked(cert_path.parent):
        if _ca_valid(cert_path, key_path):
            return cert_path, key_path
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "IN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenCoO"),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
            ]
        )
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=3652))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        # key first, certificate last: the certificate's presence means "the pair is complete"
        atomic_write(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            0o600,
        )
        atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path


def load_dev_ca(var: Path):
    """(certificate, private key) of the development CA, creating it if needed."""
    cert_path, key_path = ensure_dev_ca(var)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    return cert, key


# --------------------------------------------------------------------------------------------------
# 2. end-entity certificates


def subject_name(subject_attrs) -> x509.Name:
    if isinstance(subject_attrs, x509.Name):
        return subject_attrs
    attrs = []
    for k, v in dict(subject_attrs).items():
        if v is None or v == "":
            continue
        if isinstance(k, ObjectIdentifier):
            oid = k
        else:
            oid = _NAME_OIDS.get(str(k).strip().lower())
            if oid is None:
                raise ValueError(f"unknown subject attribute {k!r}")
        attrs.append(x509.NameAttribute(oid, str(v)))
    if not attrs:
        raise ValueError("empty subject")
    return x509.Name(attrs)


def issue_certificate(
    var: Path, subject_attrs: dict, public_key, *, days: int = 730, key_usage: str = "signing"
) -> x509.Certificate:
    """Issue an end-entity certificate for ``public_key`` signed by the development CA.

    ``subject_attrs`` maps short or long attribute names (``CN``, ``O``, ``OU``, ``C``, ``ST``, ``L``,
    ``emailAddress``, ``serialNumber``, ...) or OIDs to values, in the order given. An e-mail address
    is also put in subjectAltName. ``key_usage``:

    * ``"signing"`` (exporter DSCs): keyUsage digitalSignature + nonRepudiation; extendedKeyUsage
      emailProtection + Microsoft documentSigning (1.3.6.1.4.1.311.10.3.12);
    * ``"document"`` (agency keys): the same plus RFC 9336 id-kp-documentSigning.

    The certificate is returned, not written anywhere.
    """
    if key_usage not in ("signing", "document"):
        raise ValueError(f"unknown key_usage {key_usage!r}")
    ca_cert, ca_key = load_dev_ca(var)
    subject = subject_name(subject_attrs)
    ekus = [ExtendedKeyUsageOID.EMAIL_PROTECTION, MS_DOCUMENT_SIGNING]
    if key_usage == "document":
        ekus.append(ID_KP_DOCUMENT_SIGNING)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(min(now + _dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    emails = [a.value for a in subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]
    if emails:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(e) for e in emails]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


# --------------------------------------------------------------------------------------------------
# 3. JWT keys


def ensure_jwt_keys(var: Path) -> tuple[Path, Path]:
    """Ed25519 key pair for EdDSA login tokens. Returns (private PEM path, public PEM path)."""
    keys = Path(var) / "keys"
    priv_path, pub_path = keys / "jwt-ed25519.pem", keys / "jwt-ed25519.pub.pem"
    if nonempty(priv_path, pub_path):
        return priv_path, pub_path
    with locked(keys):
        if nonempty(priv_path, pub_path):
            return priv_path, pub_path
        if nonempty(priv_path):  # public half lost: derive it again, keep the private key
            key = serialization.load_pem_private_key(priv_path.read_bytes(), password=None)
        else:
            key = ed25519.Ed25519PrivateKey.generate()
            atomic_write(
                priv_path,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
                0o600,
            )
        atomic_write(
            pub_path,
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            0o644,
        )
    return priv_path, pub_path


# --------------------------------------------------------------------------------------------------
# 4. SoftHSM2 token


def softhsm_env(var: Path) -> dict:
    """{"SOFTHSM2_CONF": path} of var/softhsm2/softhsm2.conf, writing the file when missing."""
    base = Path(var).resolve() / "softhsm2"
    conf = base / "softhsm2.conf"
    tokens = base / "tokens"
    text = (
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    if not (nonempty(conf) and tokens.is_dir()):
        with locked(base):
            _mkdir(tokens, 0o700)
            if not nonempty(conf):
                atomic_write(conf, text.encode(), 0o644)
    return {"SOFTHSM2_CONF": str(conf)}


def read_or_make_secret(path: Path, nbytes: int = 12) -> str:
    """A secret stored in ``path`` (0600), generated on first use. Caller holds the folder lock."""
    if nonempty(path):
        return path.read_text().strip()
    value = secrets.token_hex(nbytes)
    atomic_write(path, (value + "\n").encode(), 0o600)
    return value


def softhsm_util() -> str:
    exe = shutil.which("softhsm2-util")
    if not exe:
        raise FileNotFoundError("softhsm2-util not found (install softhsm2)")
    return exe


def ensure_token(
    var: Path, label: str = DEFAULT_TOKEN_LABEL, pin: Optional[str] = None, so_pin: Optional[str] = None
) -> TokenInfo:
    """The PKCS#11 token for agency keys.

    With OPENCOO_PKCS11_MODULE or OPENCOO_PKCS11_TOKEN set, nothing is created: the configured module
    (else SoftHSM2), token label (else ``label``) and OPENCOO_PKCS11_PIN (else ``pin``) are returned.
    Otherwise a SoftHSM2 token ``label`` is initialised under var/softhsm2 with ``softhsm2-util`` when
    no token of that label exists. The user PIN is ``pin``, else OPENCOO_PKCS11_PIN, else a random PIN
    kept in var/softhsm2/pin; the SO PIN likewise in var/softhsm2/so-pin.
    """
    configured = configured_token(label, pin)
    if configured is not None:
        return configured
    env_pin = os.environ.get("OPENCOO_PKCS11_PIN")

    module = find_pkcs11_module()
    conf = softhsm_env(var)["SOFTHSM2_CONF"]
    base = Path(conf).parent
    marker = base / f".token-{hashlib.sha256(label.encode()).hexdigest()[:16]}"
    if pin is None:
        pin = env_pin
    if nonempty(marker) and _token_dir_nonempty(base):
        # fast path: initialised earlier by us
        if pin is not None:
            return TokenInfo(module, label, pin, conf)
        if nonempty(base / "pin"):
            return TokenInfo(module, label, (base / "pin").read_text().strip(), conf)

    with locked(base):
        if pin is None:
            pin = read_or_make_secret(base / "pin")
        if not token_exists(conf, label):
            if so_pin is None:
                so_pin = read_or_make_secret(base / "so-pin")
            env = dict(os.environ, SOFTHSM2_CONF=conf)
            proc = subprocess.run(
                [
                    softhsm_util(),
                    "--init-token",
                    "--free",
                    "--label",
                    label,
                    "--pin",
                    pin,
                    "--so-pin",
                    so_pin,
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if proc.returncode != 0:
                raise RuntimeError(
                    f"softhsm2-util --init-token failed ({proc.returncode}): "
                    f"{proc.stderr.strip() or proc.stdout.strip()}"
                )
        atomic_write(marker, (label + "\n").encode(), 0o600)
    return TokenInfo(module, label, pin, conf)


def _token_dir_nonempty(base: Path) -> bool:
    try:
        return any((base / "tokens").iterdir())
    except FileNotFoundError:
        return False


def _token_labels_softhsm(conf: str) -> list[str]:
    """Labels of initialised tokens, asked from ``softhsm2-util --show-slots`` (a fresh process)."""
    proc = subprocess.run(
        [softhsm_util(), "--show-slots"],
        env=dict(os.environ, SOFTHSM2_CONF=conf),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"softhsm2-util --show-slots failed: {proc.stderr.strip()}")
    labels = []
    for line in proc.stdout.splitlines():
        stripped = line.strip()
        if stripped.startswith("Label:"):
            value = stripped[len("Label:") :].strip()
            if value:
                labels.append(value)
    return labels


def token_exists(conf: str, label: str) -> bool:
    return label in _token_labels_softhsm(conf)


# --------------------------------------------------------------------------------------------------
# 5. agency keys


def agency_subject(agency_name: str) -> dict:
    """Subject of an agency certificate. RFC 5280 caps O and CN at 64 characters, so a long name
    gets the shorter "<name> CoO Signing", or is cut."""
    name = agency_name.strip()
    cn = f"{name} Certificate of Origin Signing"
    if len(cn) > 64:
        cn = f"{name} CoO Signing"
    if len(cn) > 64:
        cn = name[:64]
    return {"C": "IN", "O": name[:64], "CN": cn}


def ensure_agency_key(var: Path, token_info: TokenInfo, agency_code: str, agency_name: str) -> Path:
    """EC P-256 key pair ``agency-<code>`` on the token (made once), its certificate from the dev CA
    in var/pki/agency-<code>.pem, and the same certificate stored on the token (same label and id).

    An existing certificate (file or token) is kept when its public key matches the token key; a
    certificate already on an external token is preferred over issuing a development one.
    """
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11.util.ec import encode_named_curve_parameters
    from pkcs11.util.x509 import decode_x509_certificate

    label = agency_key_label(agency_code)
    key_id = agency_key_id(agency_code)
    cert_path = agency_cert_path(var, agency_code)
    ensure_dev_ca(var)

    with locked(cert_path.parent, f".{label}.lock"), open_token_session(token_info, rw=True) as s:
        privs = find_objects(s, ObjectClass.PRIVATE_KEY, label)
        pubs = find_objects(s, ObjectClass.PUBLIC_KEY, label)
        if not privs:
            for stale in pubs:  # a public key without its private half is useless
                stale.destroy()
            params = encode_named_curve_parameters("secp256r1")
            pub_obj, _priv = s.generate_keypair(
                KeyType.EC,
                store=True,
                label=label,
                id=key_id,
                mechanism=Mechanism.EC_KEY_PAIR_GEN,
                public_template={Attribute.EC_PARAMS: params, Attribute.VERIFY: True},
                private_template={
                    Attribute.SIGN: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.PRIVATE: True,
                },
            )
            pubs = [pub_obj]
        elif len(privs) > 1:
            raise RuntimeError(f"several private keys labelled {label!r} on token {token_info.label!r}")
        if not pubs:
            public_key = None
        else:
            public_key = token_public_key(pubs[0])

        token_certs = find_objects(s, ObjectClass.CERTIFICATE, label)

        def matches(cert: x509.Certificate) -> bool:
            return public_key is not None and spki_der(cert.public_key()) == spki_der(public_key)

        cert = None
        if cert_path.exists():
            try:
                candidate = x509.load_pem_x509_certificate(cert_path.read_bytes())
                if matches(candidate) or (public_key is None and token_certs):
                    cert = candidate
            except ValueError:
                pass
        if cert is None:
            for obj in token_certs:
                candidate = x509.load_der_x509_certificate(bytes(obj[Attribute.VALUE]))
                if matches(candidate) or public_key is None:
                    cert = candidate
                    break
        if cert is None:
            if public_key is None:
                raise RuntimeError(f"key {label!r} has no public key object and no certificate")
            cert = issue_certificate(
                var, agency_subject(agency_name), public_key, days=3 * 365, key_usage="document"
            )
        pem = cert.public_bytes(serialization.Encoding.PEM)
        if not (cert_path.exists() and cert_path.read_bytes() == pem):
            atomic_write(cert_path, pem, 0o644)

        der = cert.public_bytes(serialization.Encoding.DER)
        have_on_token = False
        for obj in token_certs:
            if bytes(obj[Attribute.VALUE]) == der:
                have_on_token = True
            else:
                obj.destroy()  # a stale certificate for an older key
        if not have_on_token:
            attrs = decode_x509_certificate(der)
            attrs.update(
                {
                    Attribute.LABEL: label,
                    Attribute.ID: key_id,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                }
            )
            s.create_object(attrs)
    return cert_path


# --------------------------------------------------------------------------------------------------
# 6. everything


def ensure_all(var: Path, agencies: list) -> dict:
    """Run every step. ``agencies`` is a list of (code, name). Returns a summary of paths."""
    var = Path(var)
    ca_cert, ca_key = ensure_dev_ca(var)
    jwt_priv, jwt_pub = ensure_jwt_keys(var)
    token = ensure_token(var)
    agency_certs = {code: str(ensure_agency_key(var, token, code, name)) for code, name in agencies}
    return {
        "ca_cert": str(ca_cert),
        "ca_key": str(ca_key),
        "jwt_private_key": str(jwt_priv),
        "jwt_public_key": str(jwt_pub),
        "pkcs11_module": token.module,
        "pkcs11_token": token.label,
        "softhsm2_conf": token.conf,
        "agency_certs": agency_certs,
    }


__all__ = [
    "TokenInfo",
    "ensure_dev_ca",
    "load_dev_ca",
    "issue_certificate",
    "ensure_jwt_keys",
    "softhsm_env",
    "find_pkcs11_module",
    "ensure_token",
    "open_token_session",
    "get_token",
    "token_public_key",
    "ensure_agency_key",
    "agency_cert_path",
    "agency_key_label",
    "agency_key_id",
    "ensure_all",
]
