import pytest

from tests.conftest import ADMIN_PASSWORD, login
from tests.staff import make_staff


@pytest.fixture
def everyone(platform, smtp_mailbox, tmp_path, platform_env):
    """The running platform's base URL and a token of each role: a registered exporter, an
    officer of MPEDA's Kochi office, MPEDA's agency admin and the platform admin."""
    from tests.exporters import registered_exporter

    base = platform()
    exporter, _ = registered_exporter(base, smtp_mailbox, tmp_path, platform_env)
    return base, {
        "exporter": exporter,
        "officer": make_staff(base, smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI"),
        "agency_admin": make_staff(base, smtp_mailbox, "mpeda.admin", agency="MPEDA"),
        "admin": login(base, "admin", ADMIN_PASSWORD),
    }
