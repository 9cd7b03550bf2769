"""The statuses of an application: part of the published language (the API's lists and filters,
the history, the payment service's check that an application awaits payment). Which status
follows which, who moves an application and what each move announces is
``services/application/lifecycle.py``."""

import enum


class Status(str, enum.Enum):
    DRAFT = "draft"
    PENDING_PAYMENT = "pending_payment"
    SUBMITTED = "submitted"
    DISCREPANCY = "discrepancy"
    APPROVED = "approved"
    REJECTED = "rejected"
    ISSUED = "issued"
