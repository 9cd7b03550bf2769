"""Exporter-side signing (cli/dsc.py): `opencoo dev make-dsc` and `opencoo sign` (architecture §4).

The detached CMS signatures are checked with an outside tool (`openssl cms -verify`)."""

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import cms
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from cli import devpki, dsc
from cli.main import main
from services.signing import token as agency_token

IEC = "AB12345678"
ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = b"%PDF-1.7\ncommercial invoice INV-2025-0042, 120 cartons of frozen shrimp\n%%EOF\n"


@pytest.fixture
def var(tmp_path, monkeypatch):
    for name in ("OPENCOO_PKCS11_MODULE", "OPENCOO_PKCS11_TOKEN", "OPENCOO_PKCS11_PIN"):
        monkeypatch.delenv(name, raising=False)
    # make-dsc and sign set SOFTHSM2_CONF process-wide; setenv first so that monkeypatch restores
    # the original state (delenv of an absent variable records nothing to undo)
    monkeypatch.setenv("SOFTHSM2_CONF", str(tmp_path / "unused.conf"))
    monkeypatch.delenv("SOFTHSM2_CONF")
    v = tmp_path / "var"
    v.mkdir()
    monkeypatch.setenv("OPENCOO_VAR", str(v))
    return v


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def ok(*args):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def fields(output: str) -> dict:
    """ "key: value" and "SOFTHSM2_CONF=value" lines of make-dsc's output."""
    out = {}
    for line in output.splitlines():
        if line.startswith("SOFTHSM2_CONF="):
            out["conf"] = line.split("=", 1)[1]
        elif ":" in line and not line.startswith(" "):
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip()
    return out


def make_dsc(*extra, iec=IEC, name="Asha Rao"):
    return fields(ok("dev", "make-dsc", "--iec", iec, "--name", name, *extra).output)


def openssl_verify(sig: Path, content: Path, ca: Path):
    return subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(sig),
            "-content",
            str(content),
            "-CAfile",
            str(ca),
            "-purpose",
            "any",
            "-out",
            os.devnull,
        ],
        capture_output=True,
        text=True,
    )


def token_session(made: dict):
    info = agency_token.TokenInfo(
        module=made["module"], label=made["token"], pin=made["PIN"], conf=made["conf"]
    )
    return agency_token.open_token_session(info, rw=True)


def test_make_dsc_on_softhsm_then_sign_verifies_with_openssl(var, tmp_path, monkeypatch):
    made = make_dsc("--organisation", "Asha Exports Pvt Ltd", iec="ab12345678")
    conf = var.resolve() / "softhsm2" / "softhsm2.conf"
    assert made["token"] == f"dsc-{IEC}" and made["conf"] == str(conf)
    assert made["module"] == agency_token.find_pkcs11_module()
    assert made["PIN"]
    cert_path = Path(made["certificate"])
    assert cert_path == var / "pki" / f"dsc-{IEC}-asha-rao.pem"

    # the certificate: IEC in the subject, the director as CN, chains to the dev CA
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    attr = lambda oid: [a.value for a in cert.subject.get_attributes_for_oid(oid)]  # noqa: E731
    assert attr(NameOID.COMMON_NAME) == ["Asha Rao"]
    assert attr(NameOID.ORGANIZATIONAL_UNIT_NAME) == [IEC]
    assert attr(NameOID.ORGANIZATION_NAME) == ["Asha Exports Pvt Ltd"]
    assert attr(NameOID.COUNTRY_NAME) == ["IN"]
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 2048
    ca_path = var / "pki" / "dev-ca.pem"
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_path.read_bytes()))
    out = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca_path), str(cert_path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr

    # sign as an exporter would, SOFTHSM2_CONF not exported: taken from OPENCOO_VAR
    monkeypatch.delenv("SOFTHSM2_CONF", raising=False)
    document = tmp_path / "invoice.pdf"
    document.write_bytes(DOCUMENT)
    result = ok("sign", "--module", made["module"], "--token", made["token"], "--pin", made["PIN"], document)
    sig = tmp_path / "invoice.pdf.p7s"
    assert sig.is_file() and str(sig) in result.output
    assert os.environ["SOFTHSM2_CONF"] == str(conf)
    verified = openssl_verify(sig, document, ca_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # one byte changed: openssl refuses it
    tampered = tmp_path / "tampered.pdf"
    data = bytearray(DOCUMENT)
    data[20] ^= 0x01
    tampered.write_bytes(bytes(data))
    assert openssl_verify(sig, tampered, ca_path).returncode != 0

    # the CMS shape: detached SignedData, SHA-256, signer certificate and the chain from the token
    info = cms.ContentInfo.load(sig.read_bytes())
    assert info["content_type"].native == "signed_data"
    signed_data = info["content"]
    assert signed_data["encap_content_info"]["content_type"].native == "data"
    assert signed_data["encap_content_info"]["content"].native is None  # detached
    (signer_info,) = signed_data["signer_infos"]
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    attrs = {a["type"].native for a in signer_info["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_time"} <= attrs
    certs = sorted(c.chosen.subject.human_friendly for c in signed_data["certificates"])
    assert len(certs) == 2
    assert {c.chosen.dump() for c in signed_data["certificates"]} == {
        cert.public_bytes(serialization.Encoding.DER),
        x509.load_pem_x509_certificate(ca_path.read_bytes()).public_bytes(serialization.Encoding.DER),
    }

    # --base64: what the API takes, on stdout
    result = ok(
        "sign",
        "--module",
        made["module"],
        "--token",
        made["token"],
        "--pin",
        made["PIN"],
        "--base64",
        document,
    )
    b64_sig = tmp_path / "from-base64.p7s"
    b64_sig.write_bytes(base64.b64decode(result.stdout.strip(), validate=True))
    assert openssl_verify(b64_sig, document, ca_path).returncode == 0
    # --out
    other = tmp_path / "sig" / "custom.der"
    other.parent.mkdir()
    ok(
        "sign",
        "--module",
        made["module"],
        "--token",
        made["token"],
        "--pin",
        made["PIN"],
        "--out",
        other,
        document,
    )
    assert openssl_verify(other, document, ca_path).returncode == 0


def test_private_key_stays_on_the_token(var):
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    made = make_dsc()
    with token_session(made) as session:
        (key,) = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})
        assert key.label == "dsc" and key.id == b"dsc"
        assert key[Attribute.SENSITIVE] and key[Attribute.ALWAYS_SENSITIVE]
        assert not key[Attribute.EXTRACTABLE] and key[Attribute.NEVER_EXTRACTABLE]
        assert key[Attribute.SIGN] and key[Attribute.TOKEN] and key[Attribute.PRIVATE]
        with pytest.raises(pkcs11.AttributeSensitive):
            key[Attribute.PRIVATE_EXPONENT]
        with pytest.raises(pkcs11.AttributeSensitive):
            key[Attribute.PRIME_1]
        # the certificate is on the token too, with the key's label and id, beside the dev CA
        token_certs = {
            c[Attribute.LABEL]: (bytes(c[Attribute.ID]), bytes(c[Attribute.VALUE]))
            for c in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
        }
    cert = x509.load_pem_x509_certificate(Path(made["certificate"]).read_bytes())
    assert token_certs["dsc"] == (b"dsc", cert.public_bytes(serialization.Encoding.DER))
    assert set(token_certs) == {"dsc", "dev-ca"}
    assert not list(var.rglob("*.key.pem")) and not list(var.rglob("*.p12"))


def test_second_make_dsc_reuses_the_key_and_refuses_another_director(var, tmp_path):
    from pkcs11 import Attribute, ObjectClass

    first = make_dsc()
    cert_bytes = Path(first["certificate"]).read_bytes()
    again = make_dsc()  # no --pin: the PIN of the token made earlier is remembered
    assert again == first
    assert Path(again["certificate"]).read_bytes() == cert_bytes
    tokens = sorted(p.name for p in (var / "softhsm2" / "tokens").iterdir())
    assert len(tokens) == 1
    with token_session(first) as session:
        for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY, ObjectClass.CERTIFICATE):
            assert len(list(session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: "dsc"}))) == 1, cls

    # the certificate file lost: re-issued for the same key
    Path(first["certificate"]).unlink()
    make_dsc()
    reissued = x509.load_pem_x509_certificate(Path(first["certificate"]).read_bytes())
    original = x509.load_pem_x509_certificate(cert_bytes)
    assert reissued.public_key().public_numbers() == original.public_key().public_numbers()

    # another director of the same firm on the same token: refused, nothing changed
    result = run("dev", "make-dsc", "--iec", IEC, "--name", "Ravi Kumar")
    assert result.exit_code == 1
    assert "already holds the DSC of" in result.output and "--token" in result.output
    assert not (var / "pki" / f"dsc-{IEC}-ravi-kumar.pem").exists()
    # ... on a token of their own it works, with the PIN chosen
    second = make_dsc("--token", f"dsc-{IEC}-2", "--pin", "246810", name="Ravi Kumar")
    assert second["token"] == f"dsc-{IEC}-2" and second["PIN"] == "246810"
    assert len(list((var / "softhsm2" / "tokens").iterdir())) == 2
    document = tmp_path / "doc.bin"
    document.write_bytes(DOCUMENT)
    ok("sign", "--module", second["module"], "--token", second["token"], "--pin", "246810", document)
    signer = cms.ContentInfo.load((tmp_path / "doc.bin.p7s").read_bytes())
    sid = signer["content"]["signer_infos"][0]["sid"].chosen
    ravi = x509.load_pem_x509_certificate(Path(second["certificate"]).read_bytes())
    assert sid["serial_number"].native == ravi.serial_number
    assert openssl_verify(tmp_path / "doc.bin.p7s", document, var / "pki" / "dev-ca.pem").returncode == 0


def test_p12_mode_works_with_openssl_cms_sign(var, tmp_path):
    p12_path = tmp_path / "dsc" / "asha.p12"
    made = make_dsc("--p12", p12_path, "--p12-password", "s3cret", "--organisation", "Asha Exports")
    cert_path, key_path = tmp_path / "dsc" / "asha-cert.pem", tmp_path / "dsc" / "asha-key.pem"
    assert Path(made["PKCS#12"].split(" (")[0]) == p12_path.resolve()
    assert Path(made["certificate"]) == cert_path.resolve()
    assert Path(made["private key"]) == key_path.resolve()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(p12_path.stat().st_mode) == 0o600
    assert not (var / "softhsm2").exists()  # no token in this mode

    key, cert, extra = pkcs12.load_key_and_certificates(p12_path.read_bytes(), b"s3cret")
    ca = x509.load_pem_x509_certificate((var / "pki" / "dev-ca.pem").read_bytes())
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert cert.public_bytes(serialization.Encoding.PEM) == cert_path.read_bytes()
    assert [c.subject for c in extra] == [ca.subject]
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == IEC
    cert.verify_directly_issued_by(ca)

    document = tmp_path / "invoice.pdf"
    document.write_bytes(DOCUMENT)
    sig = tmp_path / "invoice.pdf.p7s"
    signed = subprocess.run(
        [
            "openssl",
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-md",
            "sha256",
            "-in",
            str(document),
            "-out",
            str(sig),
            "-signer",
            str(cert_path),
            "-inkey",
            str(key_path),
        ],
        capture_output=True,
        text=True,
    )
    assert signed.returncode == 0, signed.stderr
    assert cms.ContentInfo.load(sig.read_bytes())["content"]["encap_content_info"]["content"].native is None
    verified = openssl_verify(sig, document, var / "pki" / "dev-ca.pem")
    assert verified.returncode == 0, verified.stderr
    # openssl reads the PKCS#12 too (and signs with it)
    pem = subprocess.run(
        ["openssl", "pkcs12", "-in", str(p12_path), "-passin", "pass:s3cret", "-nodes"],
        capture_output=True,
        text=True,
    )
    assert pem.returncode == 0 and "PRIVATE KEY" in pem.stdout, pem.stderr

    # without a password
    plain = make_dsc("--p12", tmp_path / "plain.p12")
    assert "(no password)" in plain["PKCS#12"]
    pkcs12.load_key_and_certificates((tmp_path / "plain.p12").read_bytes(), None)


def test_bad_iec_is_a_clean_usage_error(var):
    for bad in ("AB1234567", "AB123456789", "AB12-45678", ""):
        result = run("dev", "make-dsc", "--iec", bad, "--name", "Asha Rao")
        assert result.exit_code == 2, result.output
        assert "IEC must be 10 letters or digits" in result.output
    assert not (var / "softhsm2").exists() and not (var / "pki").exists()
    result = run("dev", "make-dsc", "--iec", IEC, "--name", "Asha Rao", "--p12-password", "x")
    assert result.exit_code == 2 and "--p12-password needs --p12" in result.output


def test_wrong_pin_and_unknown_token_are_clean_errors(var, tmp_path):
    made = make_dsc()
    document = tmp_path / "doc.txt"
    document.write_bytes(DOCUMENT)
    wrong = "0000" if made["PIN"] != "0000" else "1111"
    result = run("sign", "--module", made["module"], "--token", made["token"], "--pin", wrong, document)
    assert result.exit_code == 1
    assert f"wrong PIN for token '{made['token']}'" in result.output
    assert not (tmp_path / "doc.txt.p7s").exists()

    result = run("dev", "make-dsc", "--iec", IEC, "--name", "Asha Rao", "--pin", wrong)
    assert result.exit_code == 1 and "wrong PIN" in result.output

    result = run("sign", "--module", made["module"], "--token", "no-such-token", "--pin", "1234", document)
    assert result.exit_code == 1
    assert "no token labelled 'no-such-token'" in result.output and made["token"] in result.output

    result = run(
        "sign",
        "--module",
        made["module"],
        "--token",
        made["token"],
        "--pin",
        made["PIN"],
        "--key-label",
        "nope",
        document,
    )
    assert (
        result.exit_code == 1
        and "no private key labelled 'nope'" in result.output
        and "'dsc'" in result.output
    )

    # the right PIN still works afterwards (the failed attempts locked nothing)
    ok("sign", "--module", made["module"], "--token", made["token"], "--pin", made["PIN"], document)
    assert openssl_verify(tmp_path / "doc.txt.p7s", document, var / "pki" / "dev-ca.pem").returncode == 0


def test_ec_key_and_several_keys_on_a_token(var, tmp_path):
    """A token with an EC key besides the RSA one (SoftHSM: raw ECDSA only): --key-label chooses,
    and without it the signer lists the keys."""
    from pkcs11 import Attribute, KeyType, Mechanism
    from pkcs11.util.ec import encode_named_curve_parameters
    from pkcs11.util.x509 import decode_x509_certificate

    made = make_dsc()
    with token_session(made) as session:
        pub, _priv = session.generate_keypair(
            KeyType.EC,
            store=True,
            label="ec-sign",
            id=b"ec1",
            mechanism=Mechanism.EC_KEY_PAIR_GEN,
            public_template={Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            private_template={Attribute.SIGN: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
        )
        ec_cert = devpki.issue_certificate(
            var, {"C": "IN", "OU": IEC, "CN": "Asha Rao"}, agency_token.token_public_key(pub)
        )
        attrs = decode_x509_certificate(ec_cert.public_bytes(serialization.Encoding.DER))
        # a certificate found by CKA_ID alone (another label)
        attrs.update({Attribute.LABEL: "Asha Rao EC", Attribute.ID: b"ec1", Attribute.TOKEN: True})
        session.create_object(attrs)

    document = tmp_path / "doc.txt"
    document.write_bytes(DOCUMENT)
    common = ["sign", "--module", made["module"], "--token", made["token"], "--pin", made["PIN"]]
    result = run(*common, document)
    assert result.exit_code == 1
    assert (
        "several private keys" in result.output
        and "'dsc'" in result.output
        and "'ec-sign'" in result.output
        and "--key-label" in result.output
    )

    ok(*common, "--key-label", "ec-sign", document)
    sig = tmp_path / "doc.txt.p7s"
    signed_data = cms.ContentInfo.load(sig.read_bytes())["content"]
    assert signed_data["signer_infos"][0]["sid"].chosen["serial_number"].native == ec_cert.serial_number
    assert openssl_verify(sig, document, var / "pki" / "dev-ca.pem").returncode == 0

    # the Python API, with the RSA key chosen by label
    der = dsc.sign_detached(
        DOCUMENT, module=made["module"], token_label=made["token"], pin=made["PIN"], key_label="dsc"
    )
    (tmp_path / "api.p7s").write_bytes(der)
    assert openssl_verify(tmp_path / "api.p7s", document, var / "pki" / "dev-ca.pem").returncode == 0


def test_sign_in_a_fresh_process_finds_the_softhsm_conf(var, tmp_path):
    """What an exporter runs: a new `opencoo sign` process; SOFTHSM2_CONF unset, OPENCOO_VAR set."""
    made = make_dsc()
    document = tmp_path / "doc.txt"
    document.write_bytes(DOCUMENT)
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF" and not k.startswith("OPENCOO_PKCS11")}
    env["OPENCOO_VAR"] = str(var)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "sign",
            "--module",
            made["module"],
            "--token",
            made["token"],
            "--pin",
            made["PIN"],
            "--base64",
            str(document),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    sig = tmp_path / "fresh.p7s"
    sig.write_bytes(base64.b64decode(proc.stdout.strip(), validate=True))
    assert openssl_verify(sig, document, var / "pki" / "dev-ca.pem").returncode == 0
    # and with the SOFTHSM2_CONF printed by make-dsc exported, from anywhere (no OPENCOO_VAR)
    env.pop("OPENCOO_VAR")
    env["SOFTHSM2_CONF"] = made["conf"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "sign",
            "--module",
            made["module"],
            "--token",
            made["token"],
            "--pin",
            made["PIN"],
            str(document),
        ],
        cwd=elsewhere,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert openssl_verify(tmp_path / "doc.txt.p7s", document, var / "pki" / "dev-ca.pem").returncode == 0
    assert list(elsewhere.iterdir()) == []  # signing made no data folder where it ran
