"""Reference data a fresh installation starts with, applied by ``opencoo migrate application``."""

from services.application.reference import seed_agreements


def seed(session):
    return {"agreements_written": seed_agreements(session)}
