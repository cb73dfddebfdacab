"""The readable page says what the document says: events, publishers, consumers, queues."""

from __future__ import annotations

from shared_contracts.asyncapi import ServicePart, build, render_markdown
from shared_contracts.schema_export import committed


def test_the_page_lists_every_event_with_who_publishes_and_consumes_it(
    producer: ServicePart, consumer: ServicePart
) -> None:
    page = render_markdown(build([producer, consumer], version="1"))

    for event_type in committed():
        assert f"## {event_type}" in page
    assert "| [`user.registered.v1`](#userregisteredv1) |" in page
    assert "shop-web (post_save of Users)" in page
    assert "shop-worker: `mail.welcome` on `shop.mail`" in page
    assert "no service (tools)" in page  # published by no declared service
    assert "| `user_id` | integer | yes | >= 1 |" in page
    assert "### `shop.mail.delay.{seconds}s`" in page
    assert "`handler-failed`: failed for good" in page
    assert '| `lang` | `"py"` |' in page
