"""The one Alembic environment every service's migrations run in."""

import importlib

from alembic import context

from services.chassis.database import make_engine
from services.chassis.models import ChassisBase

cfg = context.config
service = cfg.attributes["service"]
models = importlib.import_module(f"services.{service}.models")
target_metadata = [ChassisBase.metadata, models.Base.metadata]


def run_migrations_online():
    url = cfg.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite alters tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=cfg.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
