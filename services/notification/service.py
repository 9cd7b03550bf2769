"""Notification service entrypoints. Its capabilities (email and SMS with templates, a delivery log and retries) arrive with
their issues; today it runs, migrates its database and answers health."""
from services.chassis import base


class NotificationService(base.ServiceBase):
    name = "notification"
