"""The portal's screens, by who uses them. Importing this package declares them all."""

from portal.views import accounts, applications, drafts, files, public, staff, submission  # noqa: F401
