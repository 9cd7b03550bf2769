"""The portal's screens, by who uses them. Importing this package declares them all."""

from portal.views import (  # noqa: F401
    accounts,
    applications,
    certificates,
    drafts,
    files,
    public,
    staff,
    submission,
)
