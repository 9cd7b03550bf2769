"""Notification service entrypoints. Thin: event handlers record messages through ``messages.py``
(in the transaction of their inbox row); the dispatcher beside the service sends them, retries
with backoff, and keeps every try in the delivery log that operators list here."""

from services.chassis import base
from services.chassis.entrypoints import event_handler, rpc
from services.chassis.rpc import TimedRpcProxy
from services.notification import messages as message_log
from services.notification.dependencies import MessageDispatcher


class NotificationService(base.ServiceBase):
    name = "notification"

    dispatcher = MessageDispatcher()
    # Contacts (exporters' and officers') are registration's; events carry none.
    registration = TimedRpcProxy("registration")
    # The signed certificate PDF, attached to the exporter's email on certificate_issued.
    certificate = TimedRpcProxy("certificate")

    @event_handler("registration", "credentials_issued")
    def on_credentials_issued(self, event):
        message_log.record_credentials(self.db.session, event)
        self.dispatcher.wake_after_commit()

    @event_handler("registration", "password_reset_requested")
    def on_password_reset_requested(self, event):
        message_log.record_password_reset(self.db.session, event)
        self.dispatcher.wake_after_commit()

    @event_handler("registration", "login_failures_alert")
    def on_login_failures_alert(self, event):
        message_log.record_login_failures_alert(self.db.session, event)
        self.dispatcher.wake_after_commit()

    @event_handler("registration", "exporter_registered")
    def on_exporter_registered(self, event):
        message_log.record_exporter_registered(self.db.session, event)
        self.dispatcher.wake_after_commit()

    def _exporter_and_office(self, event):
        # Asked before anything is recorded: if registration fails (down, slow, an unknown IEC or
        # office) this raises, the inbox row and any message roll back together, and the chassis
        # retries the event later, then dead-letters it.
        return (
            self.registration.exporter(event["iec"]),
            self.registration.office_contacts(event["issuing_office_code"]),
        )

    @event_handler("application", "application_submitted")
    def on_application_submitted(self, event):
        message_log.record_application_submitted(self.db.session, event, *self._exporter_and_office(event))
        self.dispatcher.wake_after_commit()

    @event_handler("application", "discrepancy_raised")
    def on_discrepancy_raised(self, event):
        exporter = self.registration.exporter(event["iec"])
        message_log.record_discrepancy_raised(self.db.session, event, exporter)
        self.dispatcher.wake_after_commit()

    @event_handler("application", "application_resubmitted")
    def on_application_resubmitted(self, event):
        message_log.record_application_resubmitted(self.db.session, event, *self._exporter_and_office(event))
        self.dispatcher.wake_after_commit()

    @event_handler("application", "application_rejected")
    def on_application_rejected(self, event):
        exporter = self.registration.exporter(event["iec"])
        message_log.record_application_rejected(self.db.session, event, exporter)
        self.dispatcher.wake_after_commit()

    @event_handler("certificate", "certificate_issued")
    def on_certificate_issued(self, event):
        # The PDF comes from the certificate service and must hash to the event's sha256, or
        # record_certificate_issued raises: nothing is recorded and the event is retried, then
        # dead-lettered. A wrong file is never mailed. The bytes are kept in this service's blob
        # store, so the email can be sent (and retried) without asking the certificate service.
        exporter = self.registration.exporter(event["iec"])
        document = self.certificate.certificate_file(event["certificate_id"])
        message_log.record_certificate_issued(self.db.session, event, exporter, document)
        self.dispatcher.wake_after_commit()

    @rpc
    def messages(self, recipient=None, status=None, kind=None, page=1, per_page=50):
        """For operators: stored messages, newest first, each with its delivery attempts."""
        return message_log.list_messages(
            self.db.session, recipient=recipient, status=status, kind=kind, page=page, per_page=per_page
        )

    @rpc
    def retry(self, message_id):
        """Send a failed message again now (a new round of retries)."""
        message = message_log.retry_message(self.db.session, message_id)
        self.dispatcher.wake_after_commit()
        return message
