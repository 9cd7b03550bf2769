"""Signing service entrypoints. Its capabilities (trust anchors, DSC and CMS verification, PAdES signing on PKCS#11 tokens) arrive with
their issues; today it runs, migrates its database and answers health."""
from services.chassis import base


class SigningService(base.ServiceBase):
    name = "signing"
