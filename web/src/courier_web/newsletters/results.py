"""What the web does with the worker's reports about newsletters (``consume_events``).

A chunk's report *sets* that chunk's counts (it never adds to them), and the
newsletter's counts move by the difference: a report delivered twice, or a
chunk reported again after a redelivery, counts once. The newsletter is
completed when every recipient is accounted for (sent + failed == total).
"""

from __future__ import annotations

import structlog
from django.utils import timezone
from shared_contracts import Envelope
from shared_contracts.events.newsletters import NewsletterChunkSent

from courier_web.consumer import consumes
from courier_web.newsletters.models import Newsletter, NewsletterChunk

log = structlog.get_logger(__name__)


@consumes(NewsletterChunkSent)
def newsletter_chunk_sent(envelope: Envelope[NewsletterChunkSent]) -> None:
    report = envelope.payload
    # The newsletter's row lock orders concurrent reports of its chunks.
    newsletter = Newsletter.objects.select_for_update().filter(pk=report.newsletter_id).first()
    chunk = NewsletterChunk.objects.filter(
        newsletter_id=report.newsletter_id, number=report.chunk
    ).first()
    if newsletter is None or chunk is None:
        log.info(
            "newsletter.report_for_unknown_chunk",
            newsletter_id=str(report.newsletter_id),
            chunk=report.chunk,
        )
        return
    if report.sent + report.failed > chunk.size:
        log.warning(
            "newsletter.report_ignored",
            newsletter_id=str(newsletter.pk),
            chunk=chunk.number,
            reason="more outcomes than recipients",
        )
        return
    newsletter.sent += report.sent - chunk.sent
    newsletter.failed += report.failed - chunk.failed
    chunk.sent, chunk.failed, chunk.reported_at = report.sent, report.failed, timezone.now()
    chunk.save(update_fields=["sent", "failed", "reported_at"])
    if newsletter.sent + newsletter.failed >= newsletter.total:
        newsletter.status = Newsletter.Status.COMPLETED
        newsletter.finished_at = newsletter.finished_at or timezone.now()
    newsletter.save(update_fields=["sent", "failed", "status", "finished_at"])
    log.info(
        "newsletter.progress",
        newsletter_id=str(newsletter.pk),
        chunk=chunk.number,
        sent=newsletter.sent,
        failed=newsletter.failed,
        total=newsletter.total,
        status=newsletter.status,
    )
