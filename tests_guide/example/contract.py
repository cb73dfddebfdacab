"""Place 1 of 3, the contract: what a module under ``shared_contracts/events/`` holds."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import EmailStr, Field
from shared_contracts import Event


class DisplayNameChanged(Event):
    """A user changed their display name.

    Emitted: once per change, when the transaction that saved it commits.
    Key field: ``user_id``.
    """

    event_type: ClassVar[str] = "guide_user.display_name_changed.v1"

    user_id: Annotated[int, Field(ge=1)]
    email: EmailStr
    display_name: Annotated[str, Field(max_length=150)]
