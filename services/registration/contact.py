"""How contact details are compared and shown: mobile numbers in E.164, emails case-blind, and
masked forms for anyone who only knows an IEC."""

import phonenumbers
from email_validator import EmailNotValidError, validate_email


def mobile_e164(raw) -> str | None:
    try:
        number = phonenumbers.parse(str(raw or ""), "IN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_normalised(raw) -> str | None:
    try:
        return validate_email(str(raw or ""), check_deliverability=False).normalized.casefold()
    except EmailNotValidError:
        return None


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:2]}{'*' * max(1, len(local) - 2)}@{domain}"


def mask_mobile(mobile: str) -> str:
    return f"{mobile[:3]}{'*' * max(0, len(mobile) - 7)}{mobile[-4:]}"
