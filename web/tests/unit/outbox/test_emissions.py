"""``emits``: a declared model change is written to the outbox, in the saving transaction."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from shared_contracts import ProbeSent, UserRegistered, decode

from courier_web.correlation import bound_request_id
from courier_web.outbox import Emission, emissions, emits
from courier_web.outbox.models import OutboxMessage
from courier_web.outbox.publishing import wire_message
from courier_web.users.models import User
from tests.declarations import declared

pytestmark = pytest.mark.django_db

PROBE = ProbeSent.event_type


def renamed(user: User, created: bool, **_: object) -> bool:
    return not created


def probe(user: User, **_: object) -> ProbeSent:
    return ProbeSent(sequence=user.pk, note=user.display_name)


def existing_user() -> User:
    user = User.objects.create(email="ada@example.com")
    OutboxMessage.objects.all().delete()  # its user.registered.v1
    return user


def connected_uids(signal: Signal, sender: type) -> set[object]:
    return {key[0] for key, *_ in signal.receivers if key[1] == id(sender)}


def test_a_declaration_connects_one_receiver_under_a_stable_dispatch_uid() -> None:
    uid = "courier.emits:users.User:post_save:diagnostic.probe_sent.v1"

    with declared(ProbeSent, on=post_save, sender=User, when=renamed, build=probe) as emission:
        assert emission.dispatch_uid == uid
        assert uid in connected_uids(post_save, User)

    assert uid not in connected_uids(post_save, User)
    assert emission not in emissions()


def test_the_row_is_written_in_the_saving_transaction_with_the_request_id() -> None:
    user = existing_user()

    with (
        declared(ProbeSent, on=post_save, sender=User, when=renamed, build=probe),
        transaction.atomic(),
        bound_request_id("req-7"),
    ):
        user.display_name = "Ada"
        user.save()
        row = OutboxMessage.objects.get(event_type=PROBE)  # before the commit

    assert row.event_type == PROBE
    wire = wire_message(row)
    envelope = decode(wire.body, wire.headers)
    assert envelope.correlation_id == "req-7"
    assert envelope.payload == ProbeSent(sequence=user.pk, note="Ada")


def test_a_change_when_declines_writes_nothing() -> None:
    with declared(ProbeSent, on=post_save, sender=User, when=renamed, build=probe):
        User.objects.create(email="ada@example.com")  # created: not a rename

    assert OutboxMessage.objects.filter(event_type=UserRegistered.event_type).exists()
    assert not OutboxMessage.objects.filter(event_type=PROBE).exists()


def test_raw_saves_from_fixtures_write_nothing() -> None:
    user = existing_user()

    with declared(ProbeSent, on=post_save, sender=User, build=probe):
        post_save.send(
            sender=User, instance=user, created=True, raw=True, using="default", update_fields=None
        )

    assert not OutboxMessage.objects.exists()


def test_a_rollback_takes_the_row_with_it() -> None:
    user = existing_user()

    def save_then_fail() -> None:
        with transaction.atomic():
            user.save()
            raise RuntimeError("the caller fails after the save")

    with (
        declared(ProbeSent, on=post_save, sender=User, when=renamed, build=probe),
        pytest.raises(RuntimeError),
    ):
        save_then_fail()

    assert not OutboxMessage.objects.exists()


def test_the_receiver_runs_no_query_of_its_own() -> None:
    user = existing_user()
    before = timezone.now()

    with (
        declared(ProbeSent, on=post_save, sender=User, when=renamed, build=probe),
        CaptureQueriesContext(connection) as queries,
    ):
        user.save(update_fields=["display_name"])

    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # The user, then one INSERT per outbox row written (another app's
    # emission on the same save adds its own row, and nothing else).
    written = OutboxMessage.objects.filter(created_at__gte=before).count()
    assert statements == ["UPDATE"] + ["INSERT"] * written
    assert OutboxMessage.objects.filter(event_type=ProbeSent.event_type).count() == 1


def test_declaring_the_same_event_twice_on_one_signal_and_sender_is_refused() -> None:
    first_one = r"already declared .* in courier_web\.users\.events"
    with pytest.raises(ImproperlyConfigured, match=first_one):
        emits(UserRegistered, on=post_save, sender=User, build=probe)

    with (
        declared(ProbeSent, on=post_save, sender=User, build=probe),
        pytest.raises(ImproperlyConfigured, match="one declaration per event, signal and sender"),
    ):
        emits(ProbeSent, on=post_save, sender=User, when=renamed, build=probe)


def test_build_must_return_the_declared_event() -> None:
    def wrong(user: User, **_: object) -> UserRegistered:
        return UserRegistered(user_id=user.pk, email=user.email, display_name="")

    user = existing_user()
    with (
        declared(ProbeSent, on=post_save, sender=User, build=wrong),  # type: ignore[arg-type]
        pytest.raises(
            TypeError,
            match=r"emits\(ProbeSent, on=post_save, sender=users.User\) in "
            r"tests\.declarations: build returned UserRegistered, not the declared ProbeSent",
        ),
    ):
        user.save()


def test_only_contracts_and_named_signals_can_be_declared() -> None:
    with pytest.raises(ImproperlyConfigured, match="not an event contract"):
        emits(User, on=post_save, sender=User, build=probe)  # type: ignore[type-var]
    custom = Signal()
    with pytest.raises(ImproperlyConfigured, match="signal_name="):
        emits(ProbeSent, on=custom, sender=User, build=probe)
    with declared(
        ProbeSent, on=custom, sender=User, build=probe, signal_name="user_probed"
    ) as emission:
        assert emission.dispatch_uid == "courier.emits:users.User:user_probed:" + PROBE


def test_emissions_lists_what_a_catalog_needs() -> None:
    (registered,) = [e for e in emissions() if e.event is UserRegistered]
    assert isinstance(registered, Emission)
    assert (
        registered.signal_name,
        registered.sender_label,
        registered.event_type,
        registered.declared_in,
        registered.dispatch_uid,
        registered.in_transaction,
    ) == (
        "post_save",
        "users.User",
        "user.registered.v1",
        "courier_web.users.events",
        "courier.emits:users.User:post_save:user.registered.v1",
        True,
    )
    with declared(ProbeSent, on=post_save, sender=User, build=probe) as emission:
        assert emissions()[-1] is emission


def test_importing_the_outbox_package_loads_no_model() -> None:
    # Django imports the package before models may be defined: the API loads on use.
    code = (
        "import sys, courier_web.outbox; "
        "print(sorted(m for m in sys.modules if m.startswith('courier_web.outbox.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
