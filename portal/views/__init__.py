"""The portal's screens, by who uses them. Importing this package declares them all."""

from portal.views import (  # noqa: F401
    accounts,
    admin,
    applications,
    certificates,
    drafts,
    files,
    public,
    registration,
    staff,
    submission,
)
