"""The agency admin's and the admin's screens besides staff (being built)."""
