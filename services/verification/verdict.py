"""When a certificate file is valid (plain Python): its signature is valid (intact, trusted,
covering the whole file) and made with the key of an issuing agency, its SHA-256 is in the
registry, and the certificate is neither revoked nor superseded."""

SIGNATURE_FIELDS = (
    "signed",
    "intact",
    "trusted",
    "covers_whole_file",
    "signer_subject",
    "agency_code",
    "signed_at",
    "problem",
)


def judge(sha256: str, validation: dict, entry: dict | None) -> dict:
    """``validation``: pades_validation's report; ``entry``: the registry's public view of the
    certificate with this SHA-256, or None. The answer of POST /api/v1/verify."""
    # Valid, and made with an agency's key (not, say, an exporter's DSC from the same roots),
    # and for a registered file the key of the agency that issued it.
    signer_agency = validation.get("agency_code")
    signature_valid = (
        bool(validation.get("signature_valid"))
        and bool(signer_agency)
        and (entry is None or signer_agency == entry["agency_code"])
    )
    status = entry["status"] if entry else None
    return {
        "valid": signature_valid and entry is not None and status == "valid",
        "signature_valid": signature_valid,
        "matches_registry": entry is not None,
        "status": status,
        "sha256": sha256,
        "signature": {k: validation.get(k) for k in SIGNATURE_FIELDS},
        "certificate": entry,
    }
