"""The signing service's verification RPCs against a real RabbitMQ, with detached CMS signatures
made by the real ``openssl cms -sign`` over a server nonce, by DSCs from a test CA the service
trusts through OPENCOO_TRUST_ANCHORS."""

import base64
import datetime as dt
import secrets
import subprocess

import pytest
from asn1crypto import cms

from services.chassis.errors import BadRequest, RuleViolation
from services.chassis.migrations import upgrade
from services.signing import trust
from services.signing.service import SigningService
from tests.unit.test_dsc import DIRECTOR, IEC, NOW, make_ca, make_dsc, make_key, pem

DIRECTORS = ["Sunita Rao", "Ravi Kumar"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def test_ca(platform_env, tmp_path, monkeypatch):
    """A CA that the service trusts through OPENCOO_TRUST_ANCHORS (no dev CA in the data folder)."""
    root = make_ca("Integration Test CA")
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(pem(root[0]))
    monkeypatch.setenv("OPENCOO_TRUST_ANCHORS", str(anchors))
    trust.clear_cache()
    yield root
    trust.clear_cache()


@pytest.fixture
def signing(test_ca, run_services, rpc_client):
    upgrade("signing")
    run_services(SigningService)
    return rpc_client().signing


@pytest.fixture
def sign(tmp_path):
    """``sign(cert, key, data, *openssl options)`` -> DER detached CMS made by openssl."""
    counter = iter(range(1000))

    def make(cert, key, data, *options):
        n = next(counter)
        files = {name: tmp_path / f"{name}-{n}" for name in ("cert", "key", "data", "sig")}
        files["cert"].write_text(pem(cert))
        files["key"].write_text(pem(key))
        files["data"].write_bytes(data)
        subprocess.run(
            [
                "openssl",
                "cms",
                "-sign",
                "-binary",
                "-outform",
                "DER",
                "-in",
                str(files["data"]),
                "-signer",
                str(files["cert"]),
                "-inkey",
                str(files["key"]),
                "-out",
                str(files["sig"]),
                *options,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return files["sig"].read_bytes()

    return make


def refused(call, code):
    with pytest.raises(RuleViolation) as exc:
        call()
    assert exc.value.code == code, exc.value.message
    return exc.value


def signature_value_span(der: bytes) -> tuple[int, int]:
    """(start, end) of the SignerInfo's signature value bytes inside the CMS DER."""
    value = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native
    start = der.find(value)
    assert start > 0 and der.find(value, start + 1) == -1
    return start, start + len(value)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_openssl_signature_verifies_and_any_changed_byte_fails(signing, test_ca, sign, kind):
    cert, key = make_dsc(test_ca, key=make_key(kind))
    nonce = secrets.token_hex(16).encode()
    signature = sign(cert, key, nonce)

    result = signing.verify_signature(b64(nonce), b64(signature), IEC, DIRECTORS)
    assert result["common_name"] == DIRECTOR
    assert result["digest_algorithm"] == "sha256"
    assert result["serial_number"] == format(cert.serial_number, "x")
    signed_at = dt.datetime.strptime(result["signed_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc
    )
    assert abs(signed_at - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)

    for i in range(len(nonce)):  # every byte of the data
        changed = bytearray(nonce)
        changed[i] ^= 0x01
        error = refused(
            lambda c=changed: signing.verify_signature(b64(bytes(c)), b64(signature), IEC, DIRECTORS),
            "DSC_SIGNATURE_INVALID",
        )
        assert "digest mismatch" in error.message

    start, end = signature_value_span(signature)  # bytes inside the signature value
    for i in sorted({start, start + 1, (start + end) // 2, end - 2, end - 1}):
        changed = bytearray(signature)
        changed[i] ^= 0x80
        refused(
            lambda c=changed: signing.verify_signature(b64(nonce), b64(bytes(c)), IEC, DIRECTORS),
            "DSC_SIGNATURE_INVALID",
        )


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_signature_without_signed_attributes_verifies(signing, test_ca, sign, kind):
    cert, key = make_dsc(test_ca, key=make_key(kind))
    nonce = secrets.token_bytes(32)
    signature = sign(cert, key, nonce, "-noattr")
    result = signing.verify_signature(b64(nonce), b64(signature), IEC, DIRECTORS)
    assert result["signed_at"] is None and result["common_name"] == DIRECTOR
    changed = bytes([nonce[0] ^ 1]) + nonce[1:]
    refused(
        lambda: signing.verify_signature(b64(changed), b64(signature), IEC, DIRECTORS),
        "DSC_SIGNATURE_INVALID",
    )


def test_dsc_of_another_iec(signing, test_ca, sign):
    cert, key = make_dsc(test_ca, iec="ZZZZZ99999")
    signature = sign(cert, key, b"nonce-1")
    error = refused(
        lambda: signing.verify_signature(b64(b"nonce-1"), b64(signature), IEC, DIRECTORS), "DSC_IEC_MISMATCH"
    )
    assert IEC in error.message


def test_expired_dsc(signing, test_ca, sign):
    cert, key = make_dsc(
        test_ca, not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=1)
    )
    signature = sign(cert, key, b"nonce-2")  # openssl signs with an expired certificate
    refused(lambda: signing.verify_signature(b64(b"nonce-2"), b64(signature), IEC, DIRECTORS), "DSC_EXPIRED")


def test_signer_not_a_director_and_untrusted_issuer(signing, test_ca, sign):
    cert, key = make_dsc(test_ca, common_name="Mohan Das")
    signature = sign(cert, key, b"nonce-3")
    refused(
        lambda: signing.verify_signature(b64(b"nonce-3"), b64(signature), IEC, DIRECTORS),
        "DSC_SIGNER_NOT_DIRECTOR",
    )
    # without directors the holder is not checked
    assert signing.verify_signature(b64(b"nonce-3"), b64(signature), IEC)["common_name"] == "Mohan Das"

    stranger = make_ca("Not Trusted CA")
    cert, key = make_dsc(stranger)
    signature = sign(cert, key, b"nonce-4")
    refused(
        lambda: signing.verify_signature(b64(b"nonce-4"), b64(signature), IEC, DIRECTORS), "DSC_UNTRUSTED"
    )


def test_garbage_is_an_invalid_signature_not_a_fault(signing):
    for garbage in (b"garbage", b"", secrets.token_bytes(300), b"\x30\x82\xff\xff"):
        refused(
            lambda g=garbage: signing.verify_signature(b64(b"nonce"), b64(g), IEC, DIRECTORS),
            "DSC_SIGNATURE_INVALID",
        )
    refused(
        lambda: signing.verify_signature(b64(b"nonce"), "%%% not base64 %%%", IEC, DIRECTORS),
        "DSC_SIGNATURE_INVALID",
    )
    with pytest.raises(BadRequest) as exc:
        signing.verify_signature("%%% not base64 %%%", b64(b"sig"), IEC, DIRECTORS)
    assert "data_b64" in exc.value.fields
    # the service is still there
    assert signing.health()["status"] == "ok"


def test_verify_dsc_rpc(signing, test_ca):
    cert, _ = make_dsc(test_ca, common_name="Smt. Sunita  RAO")
    result = signing.verify_dsc(pem(cert), IEC, DIRECTORS)
    assert result["common_name"] == "Smt. Sunita  RAO"
    assert result["certificate_pem"] == pem(cert)
    refused(lambda: signing.verify_dsc(pem(cert), "ZZZZZ99999", DIRECTORS), "DSC_IEC_MISMATCH")
    refused(lambda: signing.verify_dsc("not a certificate", IEC, DIRECTORS), "DSC_MALFORMED")
    refused(lambda: signing.verify_dsc(pem(cert), IEC, ["Ravi Kumar"]), "DSC_SIGNER_NOT_DIRECTOR")
    assert signing.verify_dsc(pem(cert), IEC)["issuer"] == test_ca[0].subject.rfc4514_string()
