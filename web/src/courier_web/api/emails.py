"""``Email``: an address the server accepts, and a JSON Schema that says which ones.

pydantic's ``EmailStr`` (email-validator) refuses more than JSON Schema's
``format: email`` does: an address in a special-use domain (``.test``,
``.invalid``, ``localhost``...) can never receive mail and is refused. The
schema states that too, as a ``not``/``pattern`` read from the validator's
own list, so that a client following the schema is never refused for it.
"""

from __future__ import annotations

from typing import Annotated, Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import EmailStr, Field

__all__ = ["MAX_EMAIL_LENGTH", "Email", "special_use_domain_pattern"]

#: RFC 5321's limit on a forward path; the users table's column is as long.
MAX_EMAIL_LENGTH = 254


def special_use_domain_pattern() -> str:
    """A pattern matching an address whose domain is, or ends in, a special-use name."""
    # Case-insensitive without flags (ECMA 262 patterns have none): [tT][eE][sS][tT].
    names = sorted(
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in name)
        for name in SPECIAL_USE_DOMAIN_NAMES
    )
    return f"[.@]({'|'.join(names)})$"


def _refuse_special_use(schema: dict[str, Any]) -> None:
    schema["not"] = {"pattern": special_use_domain_pattern()}
    schema["description"] = (
        "An email address that can receive mail: not in a special-use domain "
        f"({', '.join(sorted(SPECIAL_USE_DOMAIN_NAMES))})."
    )


#: An address to be stored (a registration): checked by email-validator, stated in the schema.
Email = Annotated[
    EmailStr, Field(max_length=MAX_EMAIL_LENGTH, json_schema_extra=_refuse_special_use)
]
