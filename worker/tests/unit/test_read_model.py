"""The users read model: out-of-order events, deletions, repeated deliveries (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from courier_worker.read_model import (
    UserDirectory,
    read_model_database_url,
    use_user_directory,
)
from courier_worker.store import make_engine
from shared_contracts import Envelope, UserRegistered, new_envelope
from shared_contracts.events.audit import EntityChanged
from shared_contracts.events.replays import UserRegistrationReplayed

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[UserDirectory]:
    directory = UserDirectory(make_engine(f"sqlite:///{tmp_path / 'read.sqlite3'}"))
    with use_user_directory(directory):
        yield directory


def registered(user_id: int, *, at: datetime = T0, name: str = "Ada") -> Envelope[UserRegistered]:
    return new_envelope(
        UserRegistered(user_id=user_id, email=f"u{user_id}@example.com", display_name=name),
        producer="courier-web",
        correlation_id="req-1",
        occurred_at=at,
    )


def changed(
    user_id: int, action: str, version: int, entity: str = "user", **values: str
) -> Envelope[Any]:
    return new_envelope(
        EntityChanged(
            entity=entity,
            entity_id=str(user_id),
            action=action,  # type: ignore[arg-type]
            version=version,
            changed_fields=tuple(sorted(values)),
            values=values,
        ),
        producer="courier-web",
        correlation_id="req-2",
    )


def test_a_registration_adds_the_user_once(directory: UserDirectory) -> None:
    event = registered(7)
    assert directory.apply_registered(event) is True
    assert directory.apply_registered(event) is False  # a second delivery changes nothing
    user = directory.get(7)
    assert user is not None
    assert (user.email, user.display_name, user.registered_at, user.version) == (
        "u7@example.com",
        "Ada",
        T0,
        1,
    )


def test_a_stale_change_never_overwrites_a_newer_one(directory: UserDirectory) -> None:
    directory.apply_registered(registered(7))
    assert directory.apply_change(changed(7, "updated", 3)) is True
    assert directory.apply_change(changed(7, "updated", 2)) is False  # arrived late
    assert directory.apply_change(changed(7, "created", 1)) is False
    assert directory.version_of(7) == (3, False)


def test_a_change_before_the_registration_keeps_its_version(directory: UserDirectory) -> None:
    assert directory.apply_change(changed(7, "updated", 2)) is True
    assert directory.get(7) is None  # known, but not yet registered: not a signup yet
    assert directory.apply_registered(registered(7)) is True
    user = directory.get(7)
    assert user is not None
    assert (user.version, user.email) == (2, "u7@example.com")


def test_a_rename_reaches_the_read_model_and_a_stale_one_does_not(
    directory: UserDirectory,
) -> None:
    directory.apply_registered(registered(7, name="Ada"))
    assert directory.apply_change(changed(7, "updated", 3, display_name="Ada L.")) is True
    assert directory.apply_change(changed(7, "updated", 2, display_name="Ada B.")) is False
    directory.apply_change(changed(7, "updated", 4, email="ada@example.org"))
    user = directory.get(7)
    assert user is not None
    assert (user.email, user.display_name, user.version) == ("ada@example.org", "Ada L.", 4)
    [listed] = directory.signups(T0.date(), T0.date())
    assert listed.display_name == "Ada L."


def test_a_rename_before_the_registration_is_kept_when_it_arrives(
    directory: UserDirectory,
) -> None:
    directory.apply_change(changed(7, "updated", 2, display_name="Ada L."))
    assert directory.get(7) is None  # not a signup until its registration
    assert directory.apply_registered(registered(7, name="Ada")) is True
    user = directory.get(7)
    assert user is not None
    assert (user.email, user.display_name, user.version) == ("u7@example.com", "Ada L.", 2)


def test_a_rename_after_the_deletion_brings_nothing_back(directory: UserDirectory) -> None:
    directory.apply_registered(registered(7))
    directory.apply_change(changed(7, "deleted", 2))
    assert directory.apply_change(changed(7, "updated", 3, display_name="Ada L.")) is False
    assert directory.get(7) is None
    assert directory.counts() == {"users": 0, "deleted": 1, "awaiting_registration": 0}


def test_a_deleted_user_is_removed_and_stays_removed(directory: UserDirectory) -> None:
    directory.apply_registered(registered(7))
    assert directory.apply_change(changed(7, "deleted", 4)) is True
    assert directory.get(7) is None
    assert directory.version_of(7) == (4, True)  # a tombstone: no email, no name
    # Events that were overtaken by the deletion bring nothing back.
    assert directory.apply_change(changed(7, "updated", 3)) is False
    assert directory.apply_registered(registered(7)) is False
    assert directory.get(7) is None
    assert list(directory.signups(date(2026, 1, 1), date(2026, 12, 31))) == []


def test_a_deletion_that_arrives_first_wins_over_the_registration(
    directory: UserDirectory,
) -> None:
    assert directory.apply_change(changed(8, "deleted", 2)) is True
    assert directory.apply_registered(registered(8)) is False
    assert directory.get(8) is None


def test_other_entities_are_not_users(directory: UserDirectory) -> None:
    assert directory.apply_change(changed(7, "deleted", 5, entity="profile")) is False
    assert directory.version_of(7) is None


def test_signups_are_the_live_users_registered_on_the_days_given(
    directory: UserDirectory,
) -> None:
    day = timedelta(days=1)
    for user_id, at in ((1, T0 - day), (2, T0), (3, T0 + day), (4, T0 + 2 * day), (5, T0)):
        directory.apply_registered(registered(user_id, at=at))
    directory.apply_change(changed(5, "deleted", 2))
    found = list(directory.signups(date(2026, 3, 1), date(2026, 3, 2)))
    assert [user.user_id for user in found] == [2, 3]


def test_the_read_model_has_a_sqlite_file_of_its_own() -> None:
    assert read_model_database_url("sqlite:////var/w/worker.sqlite3") == (
        "sqlite:////var/w/worker-read.sqlite3"
    )
    assert read_model_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def replayed(user_id: int, *, at: datetime = T0) -> Envelope[UserRegistrationReplayed]:
    return new_envelope(
        UserRegistrationReplayed(
            user_id=user_id, email=f"u{user_id}@example.com", display_name="R", registered_at=at
        ),
        producer="courier-web",
        correlation_id="replay-1",
    )


def test_a_reset_and_a_replay_rebuild_the_read_model(directory: UserDirectory) -> None:
    directory.apply_registered(registered(7, at=T0))
    directory.apply_registered(registered(8, at=T0))
    directory.apply_change(changed(8, "deleted", 2))
    assert directory.counts() == {"users": 1, "deleted": 1, "awaiting_registration": 0}

    directory.reset()
    assert directory.counts() == {"users": 0, "deleted": 0, "awaiting_registration": 0}
    # The web replays its live accounts only (8 was deleted), at their original time.
    assert directory.apply_replayed(replayed(7, at=T0 - timedelta(days=3))) is True
    assert directory.apply_replayed(replayed(7)) is False  # a second delivery changes nothing
    user = directory.get(7)
    assert user is not None
    assert user.registered_at == T0 - timedelta(days=3)
    assert directory.get(8) is None


def test_the_read_model_command_counts_and_resets(
    directory: UserDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    from courier_worker import cli
    from courier_worker.read_model import make_user_directory
    from courier_worker.settings import get_settings

    real = make_user_directory(get_settings())
    real.apply_registered(registered(9))
    assert cli.main(["read-model", "count"]) == 0
    assert '"users": 1' in capsys.readouterr().out
    assert cli.main(["read-model", "reset"]) == 0
    assert real.counts()["users"] == 0


def test_the_read_model_command_shows_one_user(
    directory: UserDirectory, capsys: pytest.CaptureFixture[str]
) -> None:
    from courier_worker import cli
    from courier_worker.read_model import make_user_directory
    from courier_worker.settings import get_settings

    real = make_user_directory(get_settings())
    real.reset()
    real.apply_registered(registered(9, name="Ada"))
    real.apply_change(changed(9, "updated", 2, display_name="Ada L."))
    assert cli.main(["read-model", "show", "9"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["display_name"], shown["version"]) == ("Ada L.", 2)
    real.apply_change(changed(9, "deleted", 3))
    assert cli.main(["read-model", "show", "9"]) == 1
    assert "user 9: deleted" in capsys.readouterr().err
    assert cli.main(["read-model", "show", "10"]) == 1
    assert "user 10: unknown" in capsys.readouterr().err
    assert cli.main(["read-model", "show"]) == 2  # the id is missing
    assert cli.main(["read-model", "count", "9"]) == 2  # an id where none goes
