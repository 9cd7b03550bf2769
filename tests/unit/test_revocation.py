"""The gateway's memory of credentials versions: a token is refused only when an account's
password changed after it was issued. Plain Python."""

from gateway.revocation import CredentialVersions


def test_tokens_older_than_the_accounts_latest_version_are_refused():
    versions = CredentialVersions()
    assert not versions.revoked("admin", 1)  # never changed: every token stands
    versions.note("admin", 3)
    assert versions.revoked("admin", 2) and versions.revoked("admin", None)
    assert not versions.revoked("admin", 3) and not versions.revoked("admin", 4)
    assert not versions.revoked("officer", 1)


def test_a_late_or_repeated_change_never_lowers_the_version():
    versions = CredentialVersions()
    versions.merge([{"username": "admin", "credentials_version": 4}])
    versions.note("admin", 2)  # a broadcast that arrived after the poll
    assert versions.revoked("admin", 3)
