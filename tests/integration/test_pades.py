"""PAdES signing of certificates with the agencies' keys on the SoftHSM2 token made by
``cli.devpki`` (services.signing.pades), checked by the verification service's validation
(services.verification.pades_validation) and by an independent validator, poppler's ``pdfsig``,
which trusts the dev CA through a throwaway NSS database; then the signing service's RPCs against
a real RabbitMQ."""

import base64
import datetime as dt
import io
import os
import shutil
import subprocess
import sys
from io import BytesIO

import eventlet
import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from cli import devpki
from services.chassis import config
from services.chassis.coroutines import run_to_completion
from services.chassis.errors import BadRequest, NotFound
from services.chassis.migrations import upgrade
from services.chassis.pdf import render_pdf
from services.signing import pades, trust
from services.signing import token as agency_token
from services.signing.service import SigningService
from services.verification import pades_validation
from tests.unit.test_dsc import make_ca, make_key

MPEDA_NAME = "Marine Products Export Development Authority"
AGENCIES = [("MPEDA", MPEDA_NAME), ("FIEO", "Federation of Indian Export Organisations")]
REASON, LOCATION = "Certificate of origin issued", "Kochi"


def pki_agency_certificates() -> dict:
    """SHA-256 (hex) -> agency of the certificates in var/pki (without the token's)."""
    return {
        trust.parse_certificates(path.read_bytes())[0].sha256.hex(): path.stem[len("agency-") :]
        for path in (config.var_dir() / "pki").glob("agency-*.pem")
    }


def validate(pdf: bytes, anchors=None, agency_certificates=None) -> dict:
    """The verification service's check with what the signing service would give it: the trust
    anchors, and var/pki's agency certificates unless told."""
    anchors = trust.trust_anchors() if anchors is None else anchors
    return pades_validation.validate(
        pdf,
        [anchor.dump() for anchor in anchors],
        pki_agency_certificates() if agency_certificates is None else agency_certificates,
    )


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture
def pki(platform_env, monkeypatch):
    """The dev CA, the token and the MPEDA and FIEO keys in this test's data folder."""
    for name in (
        "OPENCOO_PKCS11_MODULE",
        "OPENCOO_PKCS11_TOKEN",
        "OPENCOO_PKCS11_PIN",
        "OPENCOO_TRUST_ANCHORS",
    ):
        monkeypatch.delenv(name, raising=False)
    # devpki sets SOFTHSM2_CONF process-wide; make monkeypatch restore it after the test
    monkeypatch.setenv("SOFTHSM2_CONF", str(platform_env / "unused.conf"))
    trust.clear_cache()
    yield devpki.ensure_all(platform_env, AGENCIES)
    trust.clear_cache()


@pytest.fixture
def signer(pki):
    agency_signer = pades.AgencySigner()
    yield agency_signer
    agency_signer.close()


@pytest.fixture(scope="module")
def plain_pdf():
    return render_pdf("<h1>Certificate of Origin</h1><p>Frozen shrimps, HS 0306.17</p>")


@pytest.fixture
def signed_pdf(signer, plain_pdf):
    return signer.sign(plain_pdf, "MPEDA", reason=REASON, location=LOCATION)


# An NSS database trusting one CA, made through libnss3 itself (what `certutil -A -t C,C,C` does)
# for machines without libnss3-tools; run in a child process so NSS never loads in the tests'.
_NSSDB_SCRIPT = r"""
import ctypes, sys
folder, der = sys.argv[1], open(sys.argv[2], "rb").read()
nss = ctypes.CDLL("libnss3.so")
vp, cp = ctypes.c_void_p, ctypes.c_char_p
class SECItem(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("data", cp), ("len", ctypes.c_uint)]
class Trust(ctypes.Structure):
    _fields_ = [("ssl", ctypes.c_uint), ("email", ctypes.c_uint), ("objsign", ctypes.c_uint)]
for name, res, args in [
        ("NSS_InitReadWrite", ctypes.c_int, [cp]), ("CERT_GetDefaultCertDB", vp, []),
        ("PK11_GetInternalKeySlot", vp, []), ("PK11_NeedUserInit", ctypes.c_int, [vp]),
        ("PK11_InitPin", ctypes.c_int, [vp, cp, cp]),
        ("PK11_Authenticate", ctypes.c_int, [vp, ctypes.c_int, vp]),
        ("CERT_NewTempCertificate", vp, [vp, ctypes.POINTER(SECItem), cp, ctypes.c_int,
                                         ctypes.c_int]),
        ("PK11_ImportCert", ctypes.c_int, [vp, vp, ctypes.c_ulong, cp, ctypes.c_int]),
        ("CERT_DecodeTrustString", ctypes.c_int, [ctypes.POINTER(Trust), cp]),
        ("CERT_ChangeCertTrust", ctypes.c_int, [vp, vp, ctypes.POINTER(Trust)]),
        ("CERT_DestroyCertificate", None, [vp]), ("PK11_FreeSlot", None, [vp]),
        ("NSS_Shutdown", ctypes.c_int, [])]:
    getattr(nss, name).restype, getattr(nss, name).argtypes = res, args
def ok(rc, what):
    if rc != 0:
        sys.exit(f"{what} failed")
ok(nss.NSS_InitReadWrite(f"sql:{folder}".encode()), "NSS_InitReadWrite")
db, slot = nss.CERT_GetDefaultCertDB(), nss.PK11_GetInternalKeySlot()
if nss.PK11_NeedUserInit(slot):
    ok(nss.PK11_InitPin(slot, b"", b""), "PK11_InitPin")
ok(nss.PK11_Authenticate(slot, 1, None), "PK11_Authenticate")
item = SECItem(0, der, len(der))
cert = nss.CERT_NewTempCertificate(db, ctypes.byref(item), None, 0, 1)
if not cert:
    sys.exit("CERT_NewTempCertificate failed")
ok(nss.PK11_ImportCert(slot, cert, 0, b"opencoo-dev-ca", 0), "PK11_ImportCert")
trust = Trust()
ok(nss.CERT_DecodeTrustString(ctypes.byref(trust), b"C,C,C"), "CERT_DecodeTrustString")
ok(nss.CERT_ChangeCertTrust(db, cert, ctypes.byref(trust)), "CERT_ChangeCertTrust")
nss.CERT_DestroyCertificate(cert)
nss.PK11_FreeSlot(slot)
ok(nss.NSS_Shutdown(), "NSS_Shutdown")
"""


@pytest.fixture
def nssdb(pki, tmp_path):
    """An NSS database (for ``pdfsig -nssdir``) that trusts the dev CA: made with certutil when
    libnss3-tools is installed, else through libnss3 directly."""
    folder = tmp_path / "nssdb"
    folder.mkdir()
    ca_pem = pki["ca_cert"]
    certutil = shutil.which("certutil")
    if certutil:
        subprocess.run(
            [certutil, "-N", "-d", f"sql:{folder}", "--empty-password"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        subprocess.run(
            [certutil, "-A", "-d", f"sql:{folder}", "-n", "opencoo-dev-ca", "-t", "C,C,C", "-i", ca_pem],
            check=True,
            capture_output=True,
            timeout=60,
        )
    else:
        der = tmp_path / "dev-ca.der"
        der.write_bytes(
            x509.load_pem_x509_certificate(open(ca_pem, "rb").read()).public_bytes(serialization.Encoding.DER)
        )
        made = subprocess.run(
            [sys.executable, "-c", _NSSDB_SCRIPT, str(folder), str(der)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
    return f"sql:{folder}"


def pdfsig(pdf: bytes, tmp_path, nssdb=None) -> dict:
    """pdfsig's report on the first signature: {"Signature Validation": ..., ...}, plus
    "whole" (True: "Total document signed", False: "Not total document signed")."""
    path = tmp_path / f"check-{os.urandom(4).hex()}.pdf"
    path.write_bytes(pdf)
    command = ["pdfsig"] + (["-nssdir", nssdb] if nssdb else []) + [str(path)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    report = {}
    for line in out.stdout.splitlines():
        line = line.strip().lstrip("- ")
        if line in ("Total document signed", "Not total document signed"):
            report["whole"] = line == "Total document signed"
        elif ": " in line:
            key, value = line.split(": ", 1)
            report.setdefault(key, value)
    assert "Signature Validation" in report, out.stdout + out.stderr
    return report


def flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def with_annotation(pdf: bytes) -> bytes:
    """``pdf`` plus an incremental update adding a text annotation to page 1."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    annot = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/Text"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (10, 10, 50, 50)]
                ),
                generic.NameObject("/Contents"): generic.TextStringObject("origin: somewhere else"),
            }
        )
    )
    raw = page.raw_get("/Annots") if "/Annots" in page else None
    if isinstance(raw, generic.IndirectObject):
        raw.get_object().append(annot)
        writer.mark_update(raw)
    else:
        page[generic.NameObject("/Annots")] = generic.ArrayObject(list(raw or []) + [annot])
        writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


# --------------------------------------------------------------------------------------------------
# signing, and the two validators


def test_signed_pdf_is_valid_for_pdfsig_and_for_validate(pki, signed_pdf, plain_pdf, nssdb, tmp_path):
    assert signed_pdf.startswith(plain_pdf)  # an incremental update of the original
    report = pdfsig(signed_pdf, tmp_path, nssdb)
    assert report["Signature Validation"] == "Signature is Valid."
    assert report["Certificate Validation"] == "Certificate is Trusted."
    assert report["whole"] is True
    assert report["Signature Field Name"] == "OpenCoO"
    assert report["Signature Type"] == "ETSI.CAdES.detached"
    assert report["Signing Hash Algorithm"] == "SHA-256"
    assert report["Signer Certificate Common Name"] == f"{MPEDA_NAME} CoO Signing"
    # without the dev CA in its database pdfsig still checks the signature itself
    untrusting = pdfsig(signed_pdf, tmp_path, nssdb=None)
    assert untrusting["Signature Validation"] == "Signature is Valid."
    assert untrusting["Certificate Validation"] != "Certificate is Trusted."

    result = validate(signed_pdf)
    assert result == {
        "signed": True,
        "signature_valid": True,
        "intact": True,
        "trusted": True,
        "covers_whole_file": True,
        "signer_subject": f"CN={MPEDA_NAME} CoO Signing,O={MPEDA_NAME},C=IN",
        "signer_organization": MPEDA_NAME,
        "agency_code": "MPEDA",
        "signed_at": result["signed_at"],
        "problem": None,
    }
    signed_at = dt.datetime.strptime(result["signed_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc
    )
    assert abs(signed_at - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)

    # PAdES B-B: the chain is embedded, reason and location are in the signature dictionary
    embedded = PdfFileReader(BytesIO(signed_pdf)).embedded_signatures
    assert len(embedded) == 1
    sig = embedded[0]
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.sig_object["/Reason"] == REASON and sig.sig_object["/Location"] == LOCATION
    ca = trust.parse_certificates(open(pki["ca_cert"], "rb").read())[0]
    assert ca.sha256 in {c.sha256 for c in sig.other_embedded_certs}


def test_each_agency_signs_with_its_own_key(signer, plain_pdf):
    fieo = validate(signer.sign(plain_pdf, "FIEO", reason=REASON, location="Delhi"))
    assert fieo["signature_valid"] and fieo["agency_code"] == "FIEO"
    assert fieo["signer_organization"] == "Federation of Indian Export Organisations"
    assert signer.sessions_opened == 1  # one session for both agencies


def test_a_changed_byte_breaks_the_signature(signed_pdf, nssdb, tmp_path):
    producer = signed_pdf.index(b"/Producer")
    for index in (11, producer + 12):  # the header's binary comment; the producer's name
        changed = flip(signed_pdf, index)
        result = validate(changed)
        assert result["signed"] and not result["intact"] and not result["signature_valid"]
        assert result["problem"] == "the document was changed after it was signed"
        assert pdfsig(changed, tmp_path, nssdb)["Signature Validation"] == "Digest Mismatch."


def test_a_changed_byte_in_the_signature_value_breaks_it(signed_pdf):
    embedded = PdfFileReader(BytesIO(signed_pdf)).embedded_signatures[0]
    value = embedded.signer_info["signature"].native
    start = signed_pdf.lower().index(value.hex().encode()) + 10  # /Contents is written in hex
    digit = b"1" if signed_pdf[start : start + 1] == b"0" else b"0"
    result = validate(signed_pdf[:start] + digit + signed_pdf[start + 1 :])
    assert result["signed"] and not result["intact"] and not result["signature_valid"]
    assert result["problem"] == "the signature value does not verify with the signer's certificate"


def test_anything_added_after_signing_means_not_valid(signed_pdf, nssdb, tmp_path):
    for changed in (with_annotation(signed_pdf), signed_pdf + b"\n% appended after signing\n"):
        result = validate(changed)
        assert result["signed"] and result["intact"] and result["trusted"]
        assert result["covers_whole_file"] is False and result["signature_valid"] is False
        assert result["problem"] == "content was added to the file after it was signed"
        assert pdfsig(changed, tmp_path, nssdb)["whole"] is False


def test_untrusted_signer(pki, plain_pdf, nssdb, tmp_path):
    """Signed by a key from a throwaway CA, even one claiming the agency's name."""
    ca_cert, ca_key = make_ca("Not The Dev CA")
    key = make_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "IN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, MPEDA_NAME),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{MPEDA_NAME} CoO Signing"),
        ]
    )
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
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
        .sign(ca_key, hashes.SHA256())
    )

    def asn1(c):
        return asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))

    impostor = signers.SimpleSigner(
        signing_cert=asn1(cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([asn1(ca_cert)]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="OpenCoO", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )
    out = run_to_completion(
        signers.PdfSigner(meta, impostor).async_sign_pdf(
            IncrementalPdfFileWriter(BytesIO(plain_pdf)), output=BytesIO()
        )
    )
    signed = out.getvalue()

    result = validate(signed)
    assert result["signed"] and result["intact"] and result["covers_whole_file"]
    assert result["trusted"] is False and result["signature_valid"] is False
    assert result["agency_code"] is None  # the name is the agency's, the certificate is not
    assert result["signer_organization"] == MPEDA_NAME
    assert "not from a trusted authority" in result["problem"]
    assert "Not The Dev CA" in result["problem"]
    report = pdfsig(signed, tmp_path, nssdb)
    assert report["Signature Validation"] == "Signature is Valid."
    assert report["Certificate Validation"] != "Certificate is Trusted."

    # and with no trust anchors at all nothing is trusted (not the operating system's roots)
    assert validate(signed, anchors=[])["trusted"] is False


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"%PDF-1.7\nnot really a PDF\n%%EOF\n", os.urandom(2048), None, "a string"]
)
def test_garbage_is_not_signed(pki, data):
    result = validate(data)
    assert result["signed"] is False and result["signature_valid"] is False
    assert result["problem"] == "not a PDF"


def test_unsigned_pdf(pki, plain_pdf):
    result = validate(plain_pdf)
    assert result["signed"] is False and result["signature_valid"] is False
    assert result["problem"] == "not signed"


def test_truncated_signed_pdf_does_not_raise(signed_pdf):
    for cut in (len(signed_pdf) // 2, len(signed_pdf) - 40):
        result = validate(signed_pdf[:cut])
        assert result["signature_valid"] is False


def test_unknown_agency(signer, plain_pdf):
    for code in ("NOPE", "../../etc", "", None):
        with pytest.raises(pades.AgencyKeyUnknown) as exc:
            signer.sign(plain_pdf, code, reason=REASON, location=LOCATION)
        assert exc.value.code == "AGENCY_KEY_UNKNOWN"
    with pytest.raises(pades.NotAPdf):
        signer.sign(b"not a pdf", "MPEDA", reason=REASON, location=LOCATION)


def test_agency_without_certificate_is_unknown(signer, pki, plain_pdf, platform_env):
    """A key on the token but no certificate for it anywhere."""
    from pkcs11 import Attribute, ObjectClass

    with agency_token.open_token_session(devpki.ensure_token(platform_env), rw=True) as session:
        for obj in session.get_objects(
            {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: "agency-FIEO"}
        ):
            obj.destroy()
    agency_token.agency_cert_path(platform_env, "FIEO").unlink()
    with pytest.raises(pades.AgencyKeyUnknown, match="no certificate"):
        signer.sign(plain_pdf, "FIEO", reason=REASON, location=LOCATION)


def test_a_trusted_certificate_calling_itself_an_agency_is_no_agency(pki, plain_pdf, platform_env, tmp_path):
    """A DSC from a trusted authority with the subject OU=agency-MPEDA (the token's key label)
    signs validly, but it is not MPEDA's certificate: no agency."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from tests.pki import make_dsc

    cert, key = make_dsc(
        platform_env, tmp_path / "mallory", "AAACM4821K", "Mallory", subject_iec="agency-MPEDA"
    )
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(plain_pdf)),
        signers.PdfSignatureMetadata(field_name=pades.FIELD_NAME),
        signer=signers.SimpleSigner.load(str(key), str(cert)),
        output=out,
    )
    result = validate(out.getvalue())
    assert result["signature_valid"] and "OU=agency-MPEDA" in result["signer_subject"]
    assert result["agency_code"] is None


def test_the_tokens_certificate_names_its_agency_without_the_file(signer, plain_pdf, platform_env):
    """An agency certificate kept only on the token (no var/pki/agency-FIEO.pem) is FIEO's."""
    agency_token.agency_cert_path(platform_env, "FIEO").unlink()
    signed = signer.sign(plain_pdf, "FIEO", reason=REASON, location=LOCATION)
    held = {digest.hex(): code for digest, code in signer.agency_certificates().items()}
    assert sorted(held.values()) == ["FIEO", "MPEDA"]  # the token's and var/pki's
    assert validate(signed, agency_certificates=held)["agency_code"] == "FIEO"
    assert validate(signed)["agency_code"] is None  # var/pki's alone: no FIEO there


def test_an_agency_added_to_a_running_token_verifies_after_a_while(
    signer, plain_pdf, platform_env, monkeypatch
):
    assert sorted(signer.agency_certificates().values()) == ["FIEO", "MPEDA"]
    devpki.ensure_all(platform_env, AGENCIES + [("EIC", "Export Inspection Council of India")])
    agency_token.agency_cert_path(platform_env, "EIC").unlink()  # on the token only
    signed = signer.sign(plain_pdf, "EIC", reason=REASON, location=LOCATION)
    assert "EIC" not in signer.agency_certificates().values()  # within the minute
    monkeypatch.setattr(pades, "TOKEN_CERTIFICATES_TTL", 0.0)
    held = {digest.hex(): code for digest, code in signer.agency_certificates().items()}
    assert sorted(held.values()) == ["EIC", "FIEO", "MPEDA"]
    assert validate(signed, agency_certificates=held)["agency_code"] == "EIC"


def test_no_token_set_up(platform_env, monkeypatch, plain_pdf):
    for name in ("OPENCOO_PKCS11_MODULE", "OPENCOO_PKCS11_TOKEN", "OPENCOO_PKCS11_PIN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(pades.SigningUnavailable):
        pades.AgencySigner().sign(plain_pdf, "MPEDA", reason=REASON, location=LOCATION)
    assert not (platform_env / "softhsm2").exists()  # and nothing was created


def test_survives_a_reinitialised_token_library(signer, pki, plain_pdf):
    import pkcs11

    assert validate(signer.sign(plain_pdf, "MPEDA", reason=REASON, location=LOCATION))["signature_valid"]
    pkcs11.lib(pki["pkcs11_module"]).reinitialize()  # every session and handle is gone
    assert validate(signer.sign(plain_pdf, "MPEDA", reason=REASON, location=LOCATION))["signature_valid"]
    assert signer.sessions_opened == 2


def test_threads_share_the_signer(signer, plain_pdf):
    """Real OS threads (as tpool runs them) signing at once with one session."""
    from eventlet import patcher

    results = []
    original_threading = patcher.original("threading")
    barrier = original_threading.Barrier(4)

    def work(code):
        barrier.wait()
        return [signer.sign(plain_pdf, code, reason=REASON, location=LOCATION) for _ in range(3)]

    threads = [
        original_threading.Thread(target=lambda c=c: results.append(work(c)))
        for c in ("MPEDA", "FIEO", "MPEDA", "FIEO")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4
    for batch in results:
        for pdf in batch:
            assert validate(pdf)["signature_valid"]
    assert signer.sessions_opened == 1


# --------------------------------------------------------------------------------------------------
# through the service


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def signing(pki, run_services, rpc_client):
    upgrade("signing")
    run_services(SigningService)
    return rpc_client().signing


def test_rpc_sign_and_trust_material(signing, pki, plain_pdf, nssdb, tmp_path):
    signed = base64.b64decode(signing.sign_certificate("MPEDA", b64(plain_pdf), REASON, LOCATION))
    assert pdfsig(signed, tmp_path, nssdb)["Signature Validation"] == "Signature is Valid."
    material = signing.trust_material()
    ca = trust.parse_certificates(open(pki["ca_cert"], "rb").read())[0]
    assert [base64.b64decode(der) for der in material["anchors"]] == [ca.dump()]
    assert sorted(material["agency_certificates"].values()) == ["FIEO", "MPEDA"]
    result = pades_validation.validate(signed, [ca.dump()], material["agency_certificates"])
    assert result["signature_valid"] and result["agency_code"] == "MPEDA"
    assert result["signer_organization"] == MPEDA_NAME


def test_rpc_refusals(signing, plain_pdf):
    with pytest.raises(NotFound) as exc:
        signing.sign_certificate("NOPE", b64(plain_pdf), REASON, LOCATION)
    assert exc.value.code == "AGENCY_KEY_UNKNOWN"
    with pytest.raises(BadRequest) as exc:
        signing.sign_certificate("MPEDA", b64(b"not a pdf"), REASON, LOCATION)
    assert "pdf_b64" in exc.value.fields
    with pytest.raises(BadRequest) as exc:
        signing.sign_certificate("MPEDA", "***", REASON, LOCATION)
    assert "pdf_b64" in exc.value.fields
    with pytest.raises(BadRequest) as exc:
        signing.sign_certificate(None, b64(plain_pdf), REASON, LOCATION)
    assert "agency_code" in exc.value.fields


def test_rpc_concurrent_signing(signing, pki, rpc_client, plain_pdf):
    """Two green threads, each with its own client, signing at the same time."""

    def sign_three(code):
        client = rpc_client().signing
        return code, [
            base64.b64decode(client.sign_certificate(code, b64(plain_pdf), REASON, LOCATION))
            for _ in range(3)
        ]

    threads = [eventlet.spawn(sign_three, code) for code in ("MPEDA", "FIEO")]
    for thread in threads:
        code, pdfs = thread.wait()
        for pdf in pdfs:
            result = validate(pdf)
            assert result["signature_valid"] and result["agency_code"] == code, result
