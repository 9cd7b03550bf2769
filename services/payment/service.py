"""Payment service entrypoints. Its capabilities (fee schedule, GST, orders, payment providers and receipts) arrive with
their issues; today it runs, migrates its database and answers health."""
from services.chassis import base


class PaymentService(base.ServiceBase):
    name = "payment"
