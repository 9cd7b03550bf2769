"""Exporter registration (architecture §4 "Registration", "DSC"): the IEC record from the directory,
contacts that must match it, a GSTIN or SEZ state for every branch, an optional AEO number, the
declaration, and proof of possession of the DSC over a single-use nonce."""

import base64
import re
import secrets
import uuid
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from stdnum.in_ import gstin as gstin_rules

from services.chassis.database import utcnow
from services.chassis.errors import Conflict, NotFound, RuleViolation
from services.registration import accounts
from services.registration.contact import email_normalised, mask_email, mask_mobile, mobile_e164
from services.registration.iec_directory import directory, normalise_iec
from services.registration.models import Account, Exporter, ExporterBranch, RegistrationChallenge
from services.registration.organisation import indian_state_codes

CHALLENGE_LIFETIME = timedelta(minutes=10)
# AEO certificates are issued to the legal entity: "IN" + its PAN + a short serial.
AEO_RE = re.compile(r"^IN([A-Z]{5}[0-9]{4}[A-Z])[0-9A-Z]{1,6}$")


def _record(iec: str) -> dict:
    record = directory().lookup(iec)
    if record is None:
        raise NotFound(f"IEC {iec} is not in DGFT's IEC directory", code="IEC_UNKNOWN")
    return record


def _refuse_registered(session, iec):
    if session.get(Exporter, iec) is not None:
        raise Conflict(
            f"IEC {iec} is already registered; log in with it as the username, or use 'forgot password'",
            code="IEC_ALREADY_REGISTERED",
        )


def public_record(session, raw_iec) -> dict:
    """What anyone who knows an IEC may see to start registration: no PAN, masked contacts."""
    iec = normalise_iec(raw_iec)
    record = _record(iec)
    return {
        "iec": iec,
        "name": record["name"],
        "address": record["address"],
        "state": record["state"],
        "email": mask_email(record["email"]),
        "mobile": mask_mobile(mobile_e164(record["mobile"]) or record["mobile"]),
        "directors": [d["name"] for d in record["directors"]],
        "branches": [
            {"branch_id": b["branch_id"], "address": b["address"], "state": b["state"]}
            for b in record["branches"]
        ],
        "registered": session.get(Exporter, iec) is not None,
    }


def new_challenge(session, raw_iec) -> dict:
    iec = normalise_iec(raw_iec)
    _record(iec)
    _refuse_registered(session, iec)
    challenge = RegistrationChallenge(
        id=str(uuid.uuid4()), iec=iec, nonce=secrets.token_bytes(32), expires_at=utcnow() + CHALLENGE_LIFETIME
    )
    session.add(challenge)
    return {
        "challenge_id": challenge.id,
        "nonce": base64.b64encode(challenge.nonce).decode(),
        "expires_in": int(CHALLENGE_LIFETIME.total_seconds()),
    }


def check_contacts(record, mobile, email):
    fields = {}
    if mobile_e164(mobile) is None or mobile_e164(mobile) != mobile_e164(record["mobile"]):
        fields["mobile"] = ["Not the mobile number of the IEC record."]
    if email_normalised(email) is None or email_normalised(email) != email_normalised(record["email"]):
        fields["email"] = ["Not the email address of the IEC record."]
    if fields:
        raise RuleViolation(
            "mobile and email must be those of your IEC record at DGFT; to change them, update "
            "the IEC at DGFT first, then register",
            code="CONTACT_MISMATCH",
            fields=fields,
        )


def check_branches(record, branches) -> list[dict]:
    """Every branch of the IEC record, once: a GSTIN of the firm's PAN, or in an SEZ with its
    state. Returns the branches to store."""
    states = indian_state_codes()
    known = {b["branch_id"]: b for b in record["branches"]}
    fields, seen, result = {}, set(), []
    for i, branch in enumerate(branches):
        path = f"branches[{i}]"
        branch_id = branch.get("branch_id")
        if branch_id not in known:
            fields[f"{path}.branch_id"] = [f"Not a branch of IEC {record['iec']}."]
            continue
        if branch_id in seen:
            fields[f"{path}.branch_id"] = ["Given twice."]
            continue
        seen.add(branch_id)
        gstin, in_sez, state = branch.get("gstin"), branch.get("in_sez"), branch.get("state")
        if gstin and in_sez:
            fields[path] = ["Give either a GSTIN or in_sez with the state, not both."]
        elif gstin:
            gstin = gstin_rules.compact(gstin)
            if not gstin_rules.is_valid(gstin):
                fields[f"{path}.gstin"] = ["Not a valid GSTIN (format or check digit)."]
            elif gstin[2:12] != record["pan"]:
                fields[f"{path}.gstin"] = [f"This GSTIN belongs to PAN {gstin[2:12]}, not to the IEC's PAN."]
            else:
                result.append(
                    {
                        "branch_id": branch_id,
                        "gstin": gstin,
                        "in_sez": False,
                        "state": known[branch_id]["state"],
                        "address": known[branch_id]["address"],
                    }
                )
        elif in_sez:
            if state not in states:
                fields[f"{path}.state"] = ["An SEZ branch needs its Indian state (e.g. IN-TN)."]
            else:
                result.append(
                    {
                        "branch_id": branch_id,
                        "gstin": None,
                        "in_sez": True,
                        "state": state,
                        "address": known[branch_id]["address"],
                    }
                )
        else:
            fields[path] = ["Give the branch's GSTIN, or in_sez: true with its state."]
    for branch_id in known:
        if branch_id not in seen:
            fields.setdefault("branches", []).append(f"Branch {branch_id} of the IEC record is missing.")
    if fields:
        raise RuleViolation("some branches are not complete", code="BRANCHES_INVALID", fields=fields)
    return result


def check_aeo(record, aeo_number) -> str | None:
    if not aeo_number:
        return None
    aeo = aeo_number.strip().upper()
    match = AEO_RE.match(aeo)
    if match is None or match.group(1) != record["pan"]:
        raise RuleViolation(
            "an AEO number is IN, the firm's PAN and the certificate serial "
            "(e.g. IN" + record["pan"] + "1F123)",
            code="AEO_INVALID",
            fields={"aeo_number": ["Not an AEO number of this firm."]},
        )
    return aeo


def take_challenge(session, challenge_id, iec) -> bytes:
    """The nonce to check the signature against; the challenge is spent whatever the outcome."""
    challenge = session.get(RegistrationChallenge, str(challenge_id))
    if (
        challenge is None
        or challenge.iec != iec
        or challenge.used_at is not None
        or challenge.expires_at < utcnow()
    ):
        raise RuleViolation(
            "the DSC challenge is unknown, used or expired; ask for a new one and sign it",
            code="CHALLENGE_EXPIRED",
            fields={"dsc.challenge_id": ["Ask for a new challenge."]},
        )
    challenge.used_at = utcnow()
    return challenge.nonce


def register(uow, form: dict, verify_signature) -> dict:
    """``verify_signature(data, cms, iec, directors)`` is the signing service's check; it raises
    the DSC_* errors. Nothing is created unless every check passes."""
    session = uow.session
    iec = normalise_iec(form["iec"])
    _refuse_registered(session, iec)
    record = _record(iec)
    if form.get("declaration_accepted") is not True:
        raise RuleViolation(
            "accept the declaration to register",
            code="DECLARATION_NOT_ACCEPTED",
            fields={"declaration_accepted": ["Must be accepted."]},
        )
    check_contacts(record, form["mobile"], form["email"])
    branches = check_branches(record, form["branches"])
    aeo = check_aeo(record, form.get("aeo_number"))

    dsc = form["dsc"]
    given_certificate = _fingerprint(dsc["certificate"])
    try:
        nonce = take_challenge(session, dsc["challenge_id"], iec)
    finally:
        uow.commit()  # a spent challenge stays spent; the signing check below may take a while
    directors = [d["name"] for d in record["directors"]]
    signer = verify_signature(nonce, dsc["signature"], iec, directors)
    if given_certificate != signer["fingerprint_sha256"]:
        raise RuleViolation(
            "the challenge was signed with another certificate than the DSC given",
            code="DSC_SIGNATURE_INVALID",
            fields={"dsc.certificate": ["Not the certificate that signed."]},
        )

    password = accounts.new_password()
    exporter = Exporter(
        iec=iec,
        name=record["name"],
        pan=record["pan"],
        email=record["email"],
        mobile=mobile_e164(record["mobile"]),
        address=record["address"],
        state=record["state"],
        aeo_number=aeo,
        dsc_subject=signer["subject"],
        dsc_fingerprint=signer["fingerprint_sha256"],
        dsc_not_after=datetime.fromisoformat(signer["not_after"].replace("Z", "+00:00")).replace(tzinfo=None),
        directors=record["directors"],
        registered_at=utcnow(),
    )
    session.add(exporter)
    session.add_all(ExporterBranch(iec=iec, **b) for b in branches)
    session.add(
        Account(
            username=iec,
            password_hash=accounts.HASHER.hash(password),
            role="exporter",
            name=record["name"],
            email=record["email"],
            mobile=exporter.mobile,
            created_at=utcnow(),
        )
    )
    uow.emit(
        "exporter_registered",
        {"iec": iec, "name": record["name"], "email": record["email"], "mobile": exporter.mobile},
    )
    uow.emit(
        "credentials_issued",
        {
            "username": iec,
            "role": "exporter",
            "name": record["name"],
            "email": record["email"],
            "mobile": exporter.mobile,
            "password": password,
            "reason": "registration",
        },
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"IEC {iec} is already registered", code="IEC_ALREADY_REGISTERED") from None
    return {
        "iec": iec,
        "username": iec,
        "name": record["name"],
        "branches": branches,
        "aeo_number": aeo,
        "message": f"Registered. Your password was sent to {mask_email(record['email'])}.",
    }


def _fingerprint(certificate_pem: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(str(certificate_pem).encode())
    except ValueError:
        raise RuleViolation(
            "the DSC is not a PEM X.509 certificate",
            code="DSC_MALFORMED",
            fields={"dsc.certificate": ["Not a PEM certificate."]},
        ) from None
    return cert.fingerprint(hashes.SHA256()).hex()


def exporter_profile(session, iec) -> dict:
    exporter = session.get(Exporter, iec)
    if exporter is None:
        raise NotFound(f"IEC {iec} is not registered", code="EXPORTER_UNKNOWN")
    branches = session.scalars(
        select(ExporterBranch).where(ExporterBranch.iec == iec).order_by(ExporterBranch.branch_id)
    ).all()
    return {
        "iec": exporter.iec,
        "name": exporter.name,
        "email": exporter.email,
        "mobile": exporter.mobile,
        "address": exporter.address,
        "state": exporter.state,
        "aeo_number": exporter.aeo_number,
        "dsc_subject": exporter.dsc_subject,
        "dsc_not_after": exporter.dsc_not_after.isoformat() + "Z",
        "directors": [d["name"] for d in exporter.directors],
        "branches": [
            {
                "branch_id": b.branch_id,
                "address": b.address,
                "state": b.state,
                "gstin": b.gstin,
                "in_sez": b.in_sez,
            }
            for b in branches
        ],
    }
