"""The published language of OpenCoO: event payloads every service and every agency system can rely
on. Changing a field is a new version; see ``events.py``."""
