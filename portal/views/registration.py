"""An exporter's registration in the browser, as DGFT's platform has it: the IEC fetched from the
directory (firm, directors, branches; contacts masked), then the form: the IEC record's mobile and
email, each branch's GSTIN (or SEZ and state), the AEO number, the privacy commitment read and
agreed, and the DSC's proof: the registration challenge signed on the exporter's computer, by
``opencoo bridge`` through the page's script (``static/bridge.js``) or by hand with
``opencoo sign`` (the page offers the challenge's bytes and takes the signature). The API's
refusals come back as field paths (``branches[0].gstin``), shown next to their inputs and in a
summary. The password goes by email; the portal never sees it, nor a key or a PIN.

The API takes the DSC's certificate with the signature: the signature carries it (the API checks
the signature with the certificate inside it), so the page asks only for the signature and the
certificate is taken from it here (``signer_certificate``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from functools import lru_cache

from werkzeug.datastructures import MultiDict
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from portal.api import ApiError
from portal.app import Page, screen
from portal.views.drafts import input_name

IEC_FORMAT = re.compile(r"^[A-Za-z0-9]{10}$")
MAX_BRANCHES = 200  # the API's limit
MAX_SIGNATURE = 100_000  # base64, as the API takes it
# refusals after which the challenge is spent (the API takes it only once the form is right)
SPENT = ("DSC_", "CHALLENGE_")


@lru_cache(maxsize=1)
def indian_states() -> tuple[tuple[str, str], ...]:
    """(ISO 3166-2 code, name) of India's states and union territories: an SEZ branch's state."""
    import pycountry

    return tuple(
        sorted(
            ((s.code, s.name) for s in pycountry.subdivisions.get(country_code="IN") or ()),
            key=lambda state: state[1],
        )
    )


def field_errors(fields: dict, prefix: str = "") -> dict[str, list[str]]:
    """The API's field errors, flat or nested (``{"dsc": {"signature": [...]}}``), by input name
    (``branches[0].gstin`` -> ``branches.0.gstin``)."""
    found: dict[str, list[str]] = {}
    for key, value in fields.items():
        name = input_name(f"{prefix}{key}")
        if isinstance(value, dict):
            for inner, messages in field_errors(value, name + ".").items():
                found.setdefault(inner, []).extend(messages)
        else:
            found.setdefault(name, []).extend(value if isinstance(value, list) else [str(value)])
    return found


def _target(name: str) -> str:
    """The input an error is shown at: the DSC's proof at the signature, a branch's at its GSTIN."""
    if name == "dsc" or name.startswith("dsc."):
        return "signature"
    branch = re.fullmatch(r"branches\.(\d+)(\.branch_id)?", name)
    if branch:
        return f"branches.{branch.group(1)}.gstin"
    return name


def shown_errors(problem: ApiError | None) -> dict[str, list[str]]:
    if problem is None:
        return {}
    errors: dict[str, list[str]] = {}
    for name, messages in field_errors(problem.fields).items():
        target = errors.setdefault(_target(name), [])
        target.extend(m for m in messages if m not in target)
    if problem.code.startswith(SPENT) and "signature" not in errors:
        errors["signature"] = [problem.message]  # a refused DSC: its message at the signature
    return errors


def signature_der(given: str | bytes) -> bytes | None:
    """A CMS signature as DER, from what the exporter gives: DER (a .p7s file), base64 (what
    ``opencoo sign --base64`` prints, or the bridge answers) or PEM."""
    if isinstance(given, bytes):
        if given[:1] == b"\x30":
            return given
        try:
            given = given.decode("ascii")
        except UnicodeDecodeError:
            return None
    text = given.strip()
    if text.startswith("-----BEGIN"):
        text = re.sub(r"-----[A-Z0-9 ]+-----", "", text)
    try:
        der = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        return None
    return der if der[:1] == b"\x30" else None


def signer_certificate(signature: bytes) -> str | None:
    """The signer's certificate (PEM) that a detached CMS signature carries, or None."""
    # tsp registers the CMS attribute names pyHanko's signers write, before any parsing
    from asn1crypto import cms, pem, tsp  # noqa: F401

    try:
        signed = cms.ContentInfo.load(signature)["content"]
        sid = signed["signer_infos"][0]["sid"]
        for choice in signed["certificates"] or ():
            if choice.name != "certificate":
                continue
            cert = choice.chosen
            if sid.name == "issuer_and_serial_number":
                mine = (
                    cert.issuer == sid.chosen["issuer"]
                    and cert.serial_number == sid.chosen["serial_number"].native
                )
            else:
                mine = cert.key_identifier == sid.chosen.native
            if mine:
                return pem.armor("CERTIFICATE", cert.dump()).decode()
    except Exception:  # noqa: BLE001  (bytes that are not a CMS signature: the sender's)
        return None
    return None


def registration_body(form: MultiDict, branch_ids: list[str]) -> dict:
    """The JSON the API takes, from the form (without the DSC's proof): a row for each branch of
    the IEC record, in its order (input ``branches.<i>.gstin`` is the API's ``branches[i]``)."""
    branches = []
    for i, branch_id in enumerate(branch_ids[:MAX_BRANCHES]):
        row: dict = {"branch_id": branch_id}
        gstin = form.get(f"branches.{i}.gstin", "").strip()[:20]
        if gstin:
            row["gstin"] = gstin
        if f"branches.{i}.in_sez" in form:
            row["in_sez"] = True
            state = form.get(f"branches.{i}.state", "")[:8]
            if state:
                row["state"] = state
        branches.append(row)
    return {
        "iec": form.get("iec", "").strip()[:16],
        "mobile": form.get("mobile", "").strip()[:20],
        "email": form.get("email", "").strip()[:254],
        "declaration_accepted": "declaration_accepted" in form,
        "branches": branches,
        "aeo_number": form.get("aeo_number", "").strip()[:32] or None,
    }


# --- the screens ---------------------------------------------------------------------------------


def _local_problem(status: int, code: str, message: str, field: str) -> ApiError:
    """A refusal of the portal's own (what could not go to the API), shown as the API's are."""
    return ApiError(status, code, message, {field: [message]})


def _record(page: Page, iec: str) -> dict:
    if not IEC_FORMAT.match(iec):
        raise _local_problem(
            422, "IEC_INVALID", page._("An IEC is 10 letters and digits, e.g. AAACM4821K."), "iec"
        )
    return page.api("GET", f"/api/v1/iec/{iec}")


def _start_page(page: Page, iec: str = "", status: int = 200, problem=None, record=None):
    errors = shown_errors(problem)
    if problem is not None and not errors and not (record and record["registered"]):
        errors = {"iec": [problem.message]}  # an unknown IEC, too many look-ups: at the IEC
    return page.render(
        "register.html",
        status,
        iec=iec,
        record=record,
        problem=dataclasses.replace(problem, fields=errors) if problem else None,
        errors=errors,
    )


def _form_page(
    page: Page,
    record: dict,
    typed: dict,
    proof: dict | None = None,
    status: int = 200,
    problem: ApiError | None = None,
):
    """The form for a fetched IEC, with a challenge to sign: ``proof`` (challenge and signature
    already given) when the API did not spend it, else a new one."""
    if proof is None:
        try:
            challenge = page.api("POST", "/api/v1/registrations/challenge", json_body={"iec": record["iec"]})
        except ApiError as exc:
            if exc.status >= 500:
                raise
            registered = record["registered"] or exc.code == "IEC_ALREADY_REGISTERED"
            return _start_page(page, record["iec"], exc.status, exc, {**record, "registered": registered})
        proof = {"challenge_id": challenge["challenge_id"], "nonce": challenge["nonce"], "signature": ""}
    page.ensure_session()
    errors = shown_errors(problem)
    return page.render(
        "register_form.html",
        status,
        record=record,
        typed=typed,
        proof=proof,
        states=indian_states(),
        problem=dataclasses.replace(problem, fields=errors) if problem else None,
        errors=errors,
    )


@screen("/register", public=True)
def register_start(page: Page):
    """Enter the IEC; with ``?iec=`` its record and, unless it is registered, the form."""
    iec = page.request.args.get("iec", "").strip().upper()[:16]
    if not iec:
        return _start_page(page)
    try:
        record = _record(page, iec)
        if record["registered"]:
            return _start_page(page, iec, record=record)
        typed = {"branches": [{"state": b.get("state") or ""} for b in record["branches"]]}
        return _form_page(page, record, typed)
    except ApiError as exc:
        if exc.status >= 500:
            raise
        return _start_page(page, iec, exc.status, exc)


@screen("/register", methods=("POST",), public=True)
def register(page: Page):
    form = page.request.form
    iec = form.get("iec", "").strip().upper()[:16]
    try:
        record = _record(page, iec)  # its branches: the form's rows
    except ApiError as exc:
        if exc.status >= 500:
            raise
        return _start_page(page, iec, exc.status, exc)
    body = registration_body(form, [b["branch_id"] for b in record["branches"]])
    typed = {
        **body,
        "branches": [
            {**row, "state": form.get(f"branches.{i}.state", "")[:8]}
            for i, row in enumerate(body["branches"])
        ],
    }
    proof = {
        "challenge_id": page.form_value("challenge_id", 64),
        "nonce": page.form_value("nonce", 200),
        "signature": "",
    }
    upload = page.request.files.get("signature_file")
    given: str | bytes = page.form_value("signature", 2 * MAX_SIGNATURE).strip()
    if not given and upload is not None and upload.filename:
        given = upload.read(MAX_SIGNATURE)
    der = signature_der(given) if given else None
    certificate = signer_certificate(der) if der else None
    if der is None or certificate is None:
        message = (
            page._("Sign the challenge with your DSC: with the bridge, or by hand (below).")
            if not given
            else page._("This is not a CMS signature carrying its certificate: sign the challenge again.")
        )
        problem = _local_problem(422, "DSC_SIGNATURE_MISSING", message, "signature")
        return _form_page(page, record, typed, proof, 422, problem)
    proof["signature"] = base64.b64encode(der).decode()
    try:
        page.api(
            "POST",
            "/api/v1/registrations",
            json_body={
                **body,
                "dsc": {
                    "certificate": certificate,
                    "challenge_id": proof["challenge_id"],
                    "signature": proof["signature"],
                },
            },
        )
    except ApiError as exc:
        if exc.status >= 500:
            raise
        if exc.code == "IEC_ALREADY_REGISTERED":
            return _start_page(page, iec, exc.status, exc, record={**record, "registered": True})
        spent = exc.code.startswith(SPENT)
        return _form_page(page, record, typed, None if spent else proof, exc.status, exc)
    return redirect(f"/register/done?iec={record['iec']}", code=303)


@screen("/register/done", public=True)
def registered(page: Page):
    """Registered: the credentials are on their way by email."""
    iec = page.request.args.get("iec", "").strip().upper()[:16]
    try:
        record = _record(page, iec)
    except ApiError as exc:
        if exc.status >= 500:
            raise
        return _start_page(page, iec, exc.status, exc)
    if not record["registered"]:
        return redirect(f"/register?iec={record['iec']}")
    return page.render("register_done.html", record=record)


@screen("/register/challenge", public=True)
def challenge_file(page: Page):
    """The challenge's bytes as a file, to sign by hand with ``opencoo sign`` (the page's own
    challenge, sent back: nothing here but those 32 bytes, as an attachment)."""
    try:
        data = base64.b64decode(page.request.args.get("nonce", "")[:200], validate=True)
    except (binascii.Error, ValueError):
        data = b""
    iec = re.sub(r"[^A-Za-z0-9]", "", page.request.args.get("iec", ""))[:10] or "iec"
    return Response(
        data,
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="challenge-{iec}.bin"'},
    )
