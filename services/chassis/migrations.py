"""Alembic per service: one shared environment (``chassis/alembic``), each service's revisions in
``services/<name>/migrations/versions`` and its own database."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from services.chassis import config as settings

SERVICES_DIR = Path(__file__).resolve().parent.parent


def alembic_config(service: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "alembic"))
    # The chassis branch (outbox, inbox) comes first in every service's database; a service's own
    # first revision declares ``depends_on = "chassis_0001"``.
    own = SERVICES_DIR / service / "migrations" / "versions"
    own.mkdir(parents=True, exist_ok=True)
    cfg.set_main_option("version_locations", f"{Path(__file__).parent / 'alembic' / 'versions'} {own}")
    cfg.set_main_option("sqlalchemy.url", settings.database_url(service).replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service: str, revision: str = "heads"):
    command.upgrade(alembic_config(service), revision)


def revision(service: str, message: str):
    """For developers: ``opencoo db revision SERVICE -m MESSAGE`` autogenerates from the models."""
    command.revision(
        alembic_config(service),
        message=message,
        autogenerate=True,
        head=f"{service}@head" if _has_own_revisions(service) else "base",
        branch_label=None if _has_own_revisions(service) else service,
        version_path=str(SERVICES_DIR / service / "migrations" / "versions"),
        depends_on=None if _has_own_revisions(service) else "chassis_0001",
    )


def _has_own_revisions(service: str) -> bool:
    return any((SERVICES_DIR / service / "migrations" / "versions").glob("*.py"))
