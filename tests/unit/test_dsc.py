"""DSC verification (services.signing.dsc) against throwaway CAs made here; no broker.

The helpers at the top (make_key, make_ca, make_dsc, pem) are also used by the signing service's
integration test."""

import datetime as dt
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.chassis.errors import BadRequest, RuleViolation
from services.signing import dsc, trust

IEC = "0123456789"
DIRECTOR = "Ravi Kumar"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------------------------------
# a throwaway PKI


def make_key(kind="ec"):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(attrs):
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


def make_ca(common_name="Test Root CA", issuer=None, path_length=None, key=None):
    """A CA certificate and its key: self-signed, or issued by ``issuer`` = (cert, key)."""
    key = key or make_key()
    subject = _name(
        [
            (NameOID.COUNTRY_NAME, "IN"),
            (NameOID.ORGANIZATION_NAME, "Test PKI"),
            (NameOID.COMMON_NAME, common_name),
        ]
    )
    issuer_cert, issuer_key = issuer or (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 30 * DAY)
        .not_valid_after(NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


def make_dsc(
    ca,
    common_name=DIRECTOR,
    iec=IEC,
    *,
    key=None,
    key_usage="signing",
    not_before=None,
    not_after=None,
    extra_attrs=(),
):
    """An exporter's DSC issued by ``ca`` = (cert, key): the IEC as serialNumber (None: no IEC)."""
    ca_cert, ca_key = ca
    key = key or make_key()
    attrs = [(NameOID.COUNTRY_NAME, "IN"), (NameOID.ORGANIZATION_NAME, "Sea Foods Pvt Ltd")]
    if iec is not None:
        attrs.append((NameOID.SERIAL_NUMBER, iec))
    attrs += list(extra_attrs)
    attrs.append((NameOID.COMMON_NAME, common_name))
    signing = key_usage == "signing"
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - DAY)
        .not_valid_after(not_after or NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=signing,
                content_commitment=signing,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=not signing,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    return builder.sign(ca_key, hashes.SHA256()), key


def pem(obj) -> str:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture
def fresh_trust(tmp_path, monkeypatch):
    """An empty data folder, no extra anchors, and no anchors cached from another test."""
    var = tmp_path / "var"
    var.mkdir()
    monkeypatch.setenv("OPENCOO_VAR", str(var))
    monkeypatch.delenv("OPENCOO_TRUST_ANCHORS", raising=False)
    trust.clear_cache()
    yield var
    trust.clear_cache()


@pytest.fixture
def ca(fresh_trust):
    """A test CA installed as the dev CA of the data folder."""
    root = make_ca("Test Dev CA")
    (fresh_trust / "pki").mkdir()
    (fresh_trust / "pki" / "dev-ca.pem").write_text(pem(root[0]))
    return root


def code_of(excinfo) -> str:
    return excinfo.value.code


# --------------------------------------------------------------------------------------------------
# verify_dsc


def test_good_certificate_passes(ca):
    cert, _ = make_dsc(ca)
    result = dsc.verify_dsc(pem(cert), IEC, ["Sunita Rao", "Ravi Kumar"])
    assert result["common_name"] == DIRECTOR
    assert result["subject"] == cert.subject.rfc4514_string()
    assert result["issuer"] == ca[0].subject.rfc4514_string()
    assert result["serial_number"] == format(cert.serial_number, "x")
    assert result["fingerprint_sha256"] == cert.fingerprint(hashes.SHA256()).hex()
    assert result["not_after"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result["not_before"].endswith("Z")
    assert result["certificate_pem"] == pem(cert)


def test_der_and_rsa_certificates_pass(ca):
    cert, _ = make_dsc(ca, key=make_key("rsa"))
    der = cert.public_bytes(serialization.Encoding.DER)
    assert dsc.verify_dsc(der, IEC, [DIRECTOR])["common_name"] == DIRECTOR


BROKEN_PEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("garbage", ["", "not a certificate", BROKEN_PEM, b"\x30\x03\x02\x01\x01", None, 42])
def test_malformed(ca, garbage):
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(garbage, IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_MALFORMED"
    assert "could not be read" in exc.value.message


def test_expired(ca):
    cert, _ = make_dsc(ca, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_EXPIRED"
    assert "expired on" in exc.value.message
    # ... yet it was good while it lasted
    assert dsc.verify_dsc(pem(cert), IEC, [DIRECTOR], at=NOW - 10 * DAY)


def test_not_yet_valid(ca):
    cert, _ = make_dsc(ca, not_before=NOW + DAY, not_after=NOW + 400 * DAY)
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_NOT_YET_VALID"


def test_untrusted_issuer(ca):
    other = make_ca("Some Other CA")
    cert, _ = make_dsc(other)
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_UNTRUSTED"
    assert "Some Other CA" in exc.value.message


def test_untrusted_self_signed(ca):
    key = make_key()
    cert, _ = make_dsc(
        (
            x509.CertificateBuilder()
            .subject_name(_name([(NameOID.COMMON_NAME, DIRECTOR)]))
            .issuer_name(_name([(NameOID.COMMON_NAME, DIRECTOR)]))
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(NOW - DAY)
            .not_valid_after(NOW + DAY)
            .sign(key, hashes.SHA256()),
            key,
        )
    )
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_UNTRUSTED"


def test_nothing_trusted_without_anchors(fresh_trust):
    root = make_ca()
    cert, _ = make_dsc(root)
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_UNTRUSTED"


def test_key_usage_cert_sign_only(ca):
    cert, _ = make_dsc(ca, key_usage="cert_sign")
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_KEY_USAGE"


def test_iec_mismatch(ca):
    cert, _ = make_dsc(ca, iec="9876543210")
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_IEC_MISMATCH"
    assert IEC in exc.value.message


def test_iec_must_equal_an_attribute_not_be_part_of_one(ca):
    cert, _ = make_dsc(ca, iec=None, extra_attrs=[(NameOID.ORGANIZATIONAL_UNIT_NAME, f"Branch {IEC}")])
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_IEC_MISMATCH"


@pytest.mark.parametrize("value", [f"IEC{IEC}", f"IEC:{IEC}", f"iec-{IEC}", f"IEC {IEC}"])
def test_iec_prefixed_forms_accepted(ca, value):
    cert, _ = make_dsc(ca, iec=None, extra_attrs=[(NameOID.ORGANIZATIONAL_UNIT_NAME, value)])
    assert dsc.verify_dsc(pem(cert), IEC, [DIRECTOR])["common_name"] == DIRECTOR


def test_iec_compared_case_insensitively(ca):
    cert, _ = make_dsc(ca, iec="ABCDE12345")
    assert dsc.verify_dsc(pem(cert), "abcde12345", [DIRECTOR])


def test_bad_expected_iec_is_a_bad_request(ca):
    cert, _ = make_dsc(ca)
    with pytest.raises(BadRequest):
        dsc.verify_dsc(pem(cert), "12345", [DIRECTOR])


def test_signer_not_director(ca):
    cert, _ = make_dsc(ca, common_name="Mohan Das")
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, ["Ravi Kumar", "Sunita Rao"])
    assert code_of(exc) == "DSC_SIGNER_NOT_DIRECTOR"
    assert "Mohan Das" in exc.value.message
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, [])
    assert code_of(exc) == "DSC_SIGNER_NOT_DIRECTOR"


def test_directors_none_skips_the_director_check(ca):
    cert, _ = make_dsc(ca, common_name="Mohan Das")
    assert dsc.verify_dsc(pem(cert), IEC, None)["common_name"] == "Mohan Das"


def test_director_names_are_normalised(ca):
    cert, _ = make_dsc(ca, common_name="Shri  ravi KUMAR.")
    assert dsc.verify_dsc(pem(cert), IEC, ["Ravi Kumar"])["common_name"] == "Shri  ravi KUMAR."
    cert, _ = make_dsc(ca, common_name="Ravi Kumar")
    assert dsc.verify_dsc(pem(cert), IEC, ["Dr. R.avi  kumar"])


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Shri  ravi KUMAR.", "ravi kumar"),
        ("Dr.Ravi Kumar", "ravi kumar"),
        ("MRS. Sunita   Rao", "sunita rao"),
        ("Smt Shri Sunita Rao", "sunita rao"),
        ("Anita Kumari", "anita kumari"),  # a surname, not an honorific
        ("Kumari Anita", "anita"),
        ("Dr", "dr"),  # never emptied
    ],
)
def test_normalise_name(raw, expected):
    assert dsc.normalise_name(raw) == expected


def test_intermediate_ca(ca):
    intermediate = make_ca("Test Sub CA", issuer=ca, path_length=0)
    cert, _ = make_dsc(intermediate)
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_dsc(pem(cert), IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_UNTRUSTED"
    assert dsc.verify_dsc(pem(cert), IEC, [DIRECTOR], intermediates=[pem(intermediate[0])])
    assert dsc.verify_dsc(pem(cert), IEC, [DIRECTOR], intermediates=[intermediate[0]])
    # a PEM bundle: the DSC first, then its chain
    assert dsc.verify_dsc(pem(cert) + pem(intermediate[0]), IEC, [DIRECTOR])


def test_trust_anchors_from_environment_folder(fresh_trust, tmp_path, monkeypatch):
    first, second = make_ca("Anchor One"), make_ca("Anchor Two")
    folder = tmp_path / "anchors"
    folder.mkdir()
    (folder / "bundle.pem").write_text(pem(make_ca("Unrelated")[0]) + pem(second[0]))
    (folder / "one.crt").write_bytes(first[0].public_bytes(serialization.Encoding.DER))
    (folder / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----")
    monkeypatch.setenv("OPENCOO_TRUST_ANCHORS", str(folder))
    for root in (first, second):
        assert dsc.verify_dsc(pem(make_dsc(root)[0]), IEC, [DIRECTOR])
    names = {c.subject.native["common_name"] for c in trust.trust_anchors()}
    assert names == {"Anchor One", "Anchor Two", "Unrelated"}


def test_trust_anchors_from_environment_file_and_dev_ca_together(ca, tmp_path, monkeypatch):
    extra = make_ca("Extra Anchor")
    path = tmp_path / "extra.pem"
    path.write_text(pem(extra[0]))
    monkeypatch.setenv("OPENCOO_TRUST_ANCHORS", str(path))
    assert dsc.verify_dsc(pem(make_dsc(extra)[0]), IEC, [DIRECTOR])
    assert dsc.verify_dsc(pem(make_dsc(ca)[0]), IEC, [DIRECTOR])


def test_trust_anchors_are_cached(ca, fresh_trust):
    first = trust.trust_anchors()
    (fresh_trust / "pki" / "dev-ca.pem").write_text(pem(make_ca("Replaced")[0]))
    assert trust.trust_anchors() is first
    trust.clear_cache()
    assert trust.trust_anchors()[0].subject.native["common_name"] == "Replaced"


# --------------------------------------------------------------------------------------------------
# verify_signature with openssl-made signatures (RSA-PSS, digests); the integration test covers more


def openssl_sign(tmp_path, cert, key, data: bytes, *options) -> bytes:
    (tmp_path / "signer.pem").write_text(pem(cert))
    (tmp_path / "signer.key").write_text(pem(key))
    (tmp_path / "data.bin").write_bytes(data)
    subprocess.run(
        [
            "openssl",
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-in",
            str(tmp_path / "data.bin"),
            "-signer",
            str(tmp_path / "signer.pem"),
            "-inkey",
            str(tmp_path / "signer.key"),
            "-out",
            str(tmp_path / "sig.der"),
            *options,
        ],
        check=True,
        capture_output=True,
    )
    return (tmp_path / "sig.der").read_bytes()


@pytest.mark.parametrize(
    "options, digest",
    [
        ((), "sha256"),
        (("-md", "sha512", "-keyopt", "rsa_padding_mode:pss"), "sha512"),
        (("-md", "sha384", "-noattr"), "sha384"),
        (("-keyid",), "sha256"),  # signer named by subject key identifier
    ],
)
def test_rsa_signatures(ca, tmp_path, options, digest):
    cert, key = make_dsc(ca, key=make_key("rsa"))
    data = b"nonce-4f1c2a"
    result = dsc.verify_signature(data, openssl_sign(tmp_path, cert, key, data, *options), IEC, [DIRECTOR])
    assert result["digest_algorithm"] == digest
    assert result["common_name"] == DIRECTOR
    assert (result["signed_at"] is None) == ("-noattr" in options)


def test_weak_digest_refused(ca, tmp_path):
    cert, key = make_dsc(ca, key=make_key("rsa"))
    signature = openssl_sign(tmp_path, cert, key, b"nonce", "-md", "sha1")
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_signature(b"nonce", signature, IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_SIGNATURE_INVALID" and "weak digest" in exc.value.message


def test_signature_with_chain_in_cms(ca, tmp_path):
    intermediate = make_ca("Test Sub CA", issuer=ca, path_length=0)
    cert, key = make_dsc(intermediate)
    (tmp_path / "chain.pem").write_text(pem(intermediate[0]))
    without = openssl_sign(tmp_path, cert, key, b"nonce")
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_signature(b"nonce", without, IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_UNTRUSTED"
    with_chain = openssl_sign(tmp_path, cert, key, b"nonce", "-certfile", str(tmp_path / "chain.pem"))
    assert dsc.verify_signature(b"nonce", with_chain, IEC, [DIRECTOR])


@pytest.mark.parametrize("garbage", [b"", b"garbage", b"\x30\x80\x00\x00", b"\x30\x03\x06\x01\x00"])
def test_malformed_signature(ca, garbage):
    with pytest.raises(RuleViolation) as exc:
        dsc.verify_signature(b"nonce", garbage, IEC, [DIRECTOR])
    assert code_of(exc) == "DSC_SIGNATURE_INVALID"
