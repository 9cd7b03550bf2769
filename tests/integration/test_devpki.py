"""Development PKI (cli/devpki.py): dev CA, JWT keys, SoftHSM2 token and agency keys on it."""

import datetime as dt
import hashlib
import os
import stat
import subprocess

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cli import devpki
from services.signing import token as agency_token


@pytest.fixture
def var(tmp_path, monkeypatch):
    for name in ("OPENCOO_PKCS11_MODULE", "OPENCOO_PKCS11_TOKEN", "OPENCOO_PKCS11_PIN"):
        monkeypatch.delenv(name, raising=False)
    # devpki sets SOFTHSM2_CONF process-wide; make monkeypatch restore it after the test
    monkeypatch.setenv("SOFTHSM2_CONF", str(tmp_path / "unused.conf"))
    v = tmp_path / "var"
    v.mkdir()
    return v


def _snapshot(folder):
    """Bytes and mtimes of our files. SoftHSM's own token files are left out: the library
    rewrites them on every login, whatever we do; the token's objects are counted instead."""
    return {
        p: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock") and "tokens" not in p.parts
    }


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def _verify_issued_by(cert, issuer):
    issuer.public_key().verify(
        cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
    )
    assert cert.issuer == issuer.subject


def test_dev_ca_is_a_self_signed_ca(var):
    cert_path, key_path = devpki.ensure_dev_ca(var)
    assert cert_path == var / "pki" / "dev-ca.pem" and key_path == var / "pki" / "dev-ca.key"
    assert _mode(key_path) == 0o600
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "OpenCoO Development CA"
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 1
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert cert.not_valid_after_utc - cert.not_valid_before_utc >= dt.timedelta(days=3650)
    _verify_issued_by(cert, cert)
    cert.verify_directly_issued_by(cert)

    before = _snapshot(var)
    assert devpki.ensure_dev_ca(var) == (cert_path, key_path)
    assert _snapshot(var) == before


def test_issue_certificate_chains_to_dev_ca(var):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = devpki.issue_certificate(
        var,
        {"CN": "Asha Exports Pvt Ltd", "O": "Asha Exports", "C": "IN", "emailAddress": "asha@example.in"},
        key.public_key(),
    )
    ca = x509.load_pem_x509_certificate((var / "pki" / "dev-ca.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12") in eku
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["asha@example.in"]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(days=731)
    # verifies with an outside tool too
    ca_file = var / "pki" / "dev-ca.pem"
    leaf = var / "leaf.pem"
    leaf.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca_file), str(leaf)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_jwt_keys_sign_and_verify(var):
    priv, pub = devpki.ensure_jwt_keys(var)
    assert priv == var / "keys" / "jwt-ed25519.pem" and pub == var / "keys" / "jwt-ed25519.pub.pem"
    assert _mode(priv) == 0o600
    token = jwt.encode(
        {"sub": "u1", "aud": "opencoo", "iss": "opencoo"}, priv.read_bytes(), algorithm="EdDSA"
    )
    claims = jwt.decode(token, pub.read_bytes(), algorithms=["EdDSA"], audience="opencoo", issuer="opencoo")
    assert claims["sub"] == "u1"
    before = _snapshot(var)
    assert devpki.ensure_jwt_keys(var) == (priv, pub)
    assert _snapshot(var) == before


def test_token_created_with_softhsm(var):
    info = devpki.ensure_token(var)
    conf = var.resolve() / "softhsm2" / "softhsm2.conf"
    assert info.conf == str(conf) and info.label == "opencoo-agencies"
    assert info.module == agency_token.find_pkcs11_module() and os.path.isfile(info.module)
    text = conf.read_text()
    assert f"directories.tokendir = {var.resolve() / 'softhsm2' / 'tokens'}" in text
    assert "objectstore.backend = file" in text and "log.level = ERROR" in text
    pin_file = var / "softhsm2" / "pin"
    assert _mode(pin_file) == 0o600 and pin_file.read_text().strip() == info.pin
    assert devpki.softhsm_env(var) == {"SOFTHSM2_CONF": str(conf)}

    out = subprocess.run(
        ["softhsm2-util", "--show-slots"],
        capture_output=True,
        text=True,
        env=dict(os.environ, SOFTHSM2_CONF=str(conf)),
    )
    assert out.returncode == 0 and "opencoo-agencies" in out.stdout
    tokens_before = sorted(p.name for p in (var / "softhsm2" / "tokens").iterdir())
    assert len(tokens_before) == 1

    before = _snapshot(var)
    assert devpki.ensure_token(var) == info
    assert _snapshot(var) == before
    # without the fast-path marker it asks softhsm2-util and still does not make a second token
    for marker in (var / "softhsm2").glob(".token-*"):
        marker.unlink()
    assert devpki.ensure_token(var) == info
    assert sorted(p.name for p in (var / "softhsm2" / "tokens").iterdir()) == tokens_before


def test_token_from_environment_is_not_created(var, monkeypatch):
    monkeypatch.setenv("OPENCOO_PKCS11_MODULE", "/opt/hsm/libvendor.so")
    monkeypatch.setenv("OPENCOO_PKCS11_TOKEN", "prod-token")
    monkeypatch.setenv("OPENCOO_PKCS11_PIN", "9999")
    info = devpki.ensure_token(var)
    assert (info.module, info.label, info.pin, info.conf) == (
        "/opt/hsm/libvendor.so",
        "prod-token",
        "9999",
        None,
    )
    assert not (var / "softhsm2").exists()


def test_pin_from_environment(var, monkeypatch):
    monkeypatch.setenv("OPENCOO_PKCS11_PIN", "246810")
    info = devpki.ensure_token(var)
    assert info.pin == "246810"
    assert not (var / "softhsm2" / "pin").exists()
    with agency_token.open_token_session(info) as session:
        assert session.token.label == "opencoo-agencies"


def test_agency_subject():
    assert devpki.agency_subject("Export Inspection Council") == {
        "C": "IN",
        "O": "Export Inspection Council",
        "CN": "Export Inspection Council Certificate of Origin Signing",
    }
    long_name = "X" * 70
    subject = devpki.agency_subject(long_name)
    assert subject["CN"] == "X" * 64 and subject["O"] == "X" * 64


def test_agency_key_on_token(var, tmp_path):
    import pkcs11
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11.util.ec import encode_ecdsa_signature

    info = devpki.ensure_token(var)
    cert_path = devpki.ensure_agency_key(var, info, "FIEO", "Federation of Indian Export Organisations")
    assert cert_path == var / "pki" / "agency-FIEO.pem"
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    ca = x509.load_pem_x509_certificate((var / "pki" / "dev-ca.pem").read_bytes())
    _verify_issued_by(cert, ca)
    cert.verify_directly_issued_by(ca)
    assert (
        cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value
        == "Federation of Indian Export Organisations"
    )
    # "<name> Certificate of Origin Signing" would pass the 64-character CN limit here
    assert (
        cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        == "Federation of Indian Export Organisations CoO Signing"
    )
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)[0].value == "IN"

    lib = pkcs11.lib(info.module)
    token = lib.get_token(token_label=info.label)
    data = b"certificate of origin FIEO/2025/000001"
    with token.open(user_pin=info.pin) as session:
        priv = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC, label="agency-FIEO")
        assert priv[Attribute.SENSITIVE] and not priv[Attribute.EXTRACTABLE]
        assert priv.id == agency_token.agency_key_id("FIEO")
        # SoftHSM 2.6.1 (Debian) has no CKM_ECDSA_SHA256, only raw CKM_ECDSA over a digest
        # (pyHanko: PKCS11Signer(..., use_raw_mechanism=True))
        digest = hashlib.sha256(data).digest()
        raw_sig = priv.sign(digest, mechanism=Mechanism.ECDSA)
        certs = list(
            session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: "agency-FIEO"})
        )
        assert len(certs) == 1
        assert bytes(certs[0][Attribute.VALUE]) == cert.public_bytes(serialization.Encoding.DER)
        assert bytes(certs[0][Attribute.ID]) == priv.id
    der_sig = encode_ecdsa_signature(raw_sig)
    # our own check, then an outside tool
    cert.public_key().verify(der_sig, data, ec.ECDSA(hashes.SHA256()))
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "sig.der").write_bytes(der_sig)
    (tmp_path / "pub.pem").write_bytes(
        cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    out = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(tmp_path / "pub.pem"),
            "-signature",
            str(tmp_path / "sig.der"),
            str(tmp_path / "data.bin"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "Verified OK" in out.stdout, out.stdout + out.stderr

    # second call: no new key, no new certificate, files untouched
    before = _snapshot(var / "pki")
    assert (
        devpki.ensure_agency_key(var, info, "FIEO", "Federation of Indian Export Organisations") == cert_path
    )
    assert _snapshot(var / "pki") == before
    with token.open(user_pin=info.pin) as session:
        for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY, ObjectClass.CERTIFICATE):
            objs = list(session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: "agency-FIEO"}))
            assert len(objs) == 1, cls

    # the certificate file lost: re-issued for the same token key (no new key)
    cert_path.unlink()
    devpki.ensure_agency_key(var, info, "FIEO", "Federation of Indian Export Organisations")
    again = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert again.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with token.open(user_pin=info.pin) as session:
        assert (
            len(
                list(
                    session.get_objects(
                        {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: "agency-FIEO"}
                    )
                )
            )
            == 1
        )


def test_ensure_all_summary_and_idempotence(var):
    agencies = [
        ("FIEO", "Federation of Indian Export Organisations"),
        ("EIC", "Export Inspection Council of India"),
    ]
    summary = devpki.ensure_all(var, agencies)
    assert summary["ca_cert"] == str(var / "pki" / "dev-ca.pem")
    assert summary["jwt_private_key"] == str(var / "keys" / "jwt-ed25519.pem")
    assert summary["jwt_public_key"] == str(var / "keys" / "jwt-ed25519.pub.pem")
    assert summary["pkcs11_token"] == "opencoo-agencies"
    assert summary["pkcs11_module"] == agency_token.find_pkcs11_module()
    assert set(summary["agency_certs"]) == {"FIEO", "EIC"}
    for path in summary["agency_certs"].values():
        assert os.path.isfile(path)
    before = _snapshot(var)
    assert devpki.ensure_all(var, agencies) == summary
    assert _snapshot(var) == before
    from pkcs11 import Attribute, ObjectClass

    with agency_token.open_token_session(devpki.ensure_token(var)) as session:
        for code, _ in agencies:
            for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY, ObjectClass.CERTIFICATE):
                assert (
                    len(list(session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: f"agency-{code}"})))
                    == 1
                )


def test_concurrent_processes_make_one_of_everything(var):
    code = (
        "import sys; from pathlib import Path; from cli import devpki; "
        "print(devpki.ensure_all(Path(sys.argv[1]), [('FIEO', 'FIEO')])['agency_certs']['FIEO'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCOO_PKCS11")}
    env.pop("SOFTHSM2_CONF", None)
    import sys

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(var)],
            cwd=os.getcwd(),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert len(list((var / "softhsm2" / "tokens").iterdir())) == 1
    info = devpki.ensure_token(var)
    with agency_token.open_token_session(info) as session:
        from pkcs11 import Attribute, ObjectClass

        for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.CERTIFICATE):
            assert len(list(session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: "agency-FIEO"}))) == 1
    ca = x509.load_pem_x509_certificate((var / "pki" / "dev-ca.pem").read_bytes())
    x509.load_pem_x509_certificate((var / "pki" / "agency-FIEO.pem").read_bytes()).verify_directly_issued_by(
        ca
    )
