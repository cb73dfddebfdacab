from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from courier_web.users.errors import EmailAlreadyRegistered
from courier_web.users.models import User
from courier_web.users.services import user_create
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def test_user_create_stores_a_hashed_password_and_normalised_email() -> None:
    user = user_create(email=" Ada@EXAMPLE.com ", password=STRONG_PASSWORD, display_name="Ada")

    assert user.pk is not None
    assert user.email == "Ada@example.com"
    assert user.display_name == "Ada"
    assert user.password != STRONG_PASSWORD
    assert user.check_password(STRONG_PASSWORD)


def test_user_create_refuses_a_duplicate_email_in_any_case() -> None:
    user_create(email="ada@example.com", password=STRONG_PASSWORD)

    with pytest.raises(EmailAlreadyRegistered):
        user_create(email="ADA@Example.COM", password=STRONG_PASSWORD)
    assert User.objects.count() == 1


def test_the_database_itself_refuses_a_case_variant_duplicate() -> None:
    from django.db import IntegrityError, transaction

    User.objects.create(email="grace@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="GRACE@example.com")


def test_user_create_refuses_a_weak_password_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        user_create(email="ada@example.com", password="12345")

    assert set(caught.value.message_dict) == {"password"}
    assert User.objects.count() == 0


def test_user_create_refuses_an_invalid_email() -> None:
    with pytest.raises(ValidationError) as caught:
        user_create(email="not-an-email", password=STRONG_PASSWORD)

    assert "email" in caught.value.message_dict


def test_user_create_takes_keyword_arguments_only() -> None:
    with pytest.raises(TypeError):
        user_create("ada@example.com", STRONG_PASSWORD)  # type: ignore[misc]
