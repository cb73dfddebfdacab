"""Bearer tokens: minted at random, stored as a hash, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "cwt_"  # noqa: S105 (a marker, not a secret)


def token_new() -> str:
    """A fresh token: 256 random bits, prefixed so that secret scanners can spot it."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The stored form of ``token``. Tokens are random, so a plain SHA-256 suffices."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)
