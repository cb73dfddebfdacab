"""User accounts: registration, profiles, and the events they cause."""
