"""Certificate service entrypoints. Its capabilities (certificate rendering, the certificate registry, verification and revocation) arrive with
their issues; today it runs, migrates its database and answers health."""
from services.chassis import base


class CertificateService(base.ServiceBase):
    name = "certificate"
