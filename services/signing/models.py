"""Signing's own tables. None yet beyond the chassis outbox and inbox."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
