"""Run a service's ``seed.py`` (if it has one) after its migrations: idempotent starting data."""

import importlib

from sqlalchemy.orm import Session

from services.chassis import config
from services.chassis.database import make_engine


def seed(service: str) -> dict:
    try:
        module = importlib.import_module(f"services.{service}.seed")
    except ModuleNotFoundError as exc:
        if exc.name == f"services.{service}.seed":
            return {}
        raise
    engine = make_engine(config.database_url(service))
    try:
        with Session(engine) as session:
            summary = module.seed(session)
            session.commit()
            return summary or {}
    finally:
        engine.dispose()
