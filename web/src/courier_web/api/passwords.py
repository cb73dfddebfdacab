"""``Password``: a new password's field, whose JSON Schema states the server's password rules.

Django's validators (``AUTH_PASSWORD_VALIDATORS``) decide whether a password
is accepted, and answer 422 with their own messages. The schema says the
same in advance, read from the same validators when the document is built:
the minimum length and "not only digits" as ``minLength`` and ``pattern``,
and every rule (those a schema cannot express too: a common password, one
too similar to the email) in the field's description. A client that follows
the schema is refused only for what a schema cannot say.

For a password being set (a registration, a change), not one being checked
(a log-in: an old password may predate today's rules).
"""

from __future__ import annotations

from typing import Annotated, Any

from django.contrib.auth.password_validation import (
    MinimumLengthValidator,
    NumericPasswordValidator,
    get_default_password_validators,
)
from pydantic import Field

__all__ = ["MAX_PASSWORD_LENGTH", "NOT_ONLY_DIGITS", "Password", "password_json_schema"]

#: Longer passwords are refused before hashing: a hash of megabytes costs the server.
MAX_PASSWORD_LENGTH = 1024
#: NumericPasswordValidator as a pattern: at least one character that is not a digit.
NOT_ONLY_DIGITS = "[^0-9]"


def password_json_schema(schema: dict[str, Any]) -> None:
    """Write the configured validators' rules into a password field's JSON Schema."""
    help_texts = []
    for validator in get_default_password_validators():
        if isinstance(validator, MinimumLengthValidator):
            schema["minLength"] = max(int(schema.get("minLength", 0)), validator.min_length)
        elif isinstance(validator, NumericPasswordValidator):
            schema["pattern"] = NOT_ONLY_DIGITS
        help_text = getattr(validator, "get_help_text", None)
        if help_text is not None:
            help_texts.append(str(help_text()))
    if help_texts:
        schema["description"] = " ".join(
            ["A new password, checked by the server's password rules:", *help_texts]
        )


#: A password being set, with the server's rules in its schema.
Password = Annotated[
    str,
    Field(min_length=1, max_length=MAX_PASSWORD_LENGTH, json_schema_extra=password_json_schema),
]
