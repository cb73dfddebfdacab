"""Business errors the users services raise, for interfaces to translate."""

from __future__ import annotations


class EmailAlreadyRegistered(Exception):
    """An account with this email (compared case-insensitively) already exists."""

    def __init__(self, email: str) -> None:
        super().__init__("an account with this email already exists")
        self.email = email


class InvalidCredentials(Exception):
    """The email and password do not match an active account (deliberately vague)."""

    def __init__(self) -> None:
        super().__init__("invalid email or password")


class NotAllowed(Exception):
    """The caller is known but may not do this (an interface answers 403)."""

    def __init__(self, message: str = "staff only") -> None:
        super().__init__(message)
