"""Starting data of registration, applied by ``opencoo migrate registration``: the organisation
and the first admin (OPENCOO_ADMIN_PASSWORD, or a random password returned once to be printed)."""

from services.chassis.config import env
from services.registration.accounts import ensure_admin
from services.registration.organisation_store import seed_organisation


def seed(session):
    summary = {"organisation_rows_added": seed_organisation(session)}
    generated = ensure_admin(session, env("OPENCOO_ADMIN_PASSWORD"))
    if generated:
        summary["admin_password"] = generated
    return summary
