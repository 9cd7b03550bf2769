"""The portal's screens, by who uses them. Importing this package declares them all."""

from portal.views import accounts, applications, drafts, public, staff, submission  # noqa: F401
