"""Business errors the users services raise, for interfaces to translate."""

from __future__ import annotations


class EmailAlreadyRegistered(Exception):
    """An account with this email (compared case-insensitively) already exists."""

    def __init__(self, email: str) -> None:
        super().__init__("an account with this email already exists")
        self.email = email
