"""Token-bucket rate limiting: a shared bucket in Redis, or one per process."""

from courier_web.ratelimit.buckets import (
    Bucket,
    Decision,
    LocalBucket,
    Rate,
    RedisBucket,
    parse_rate,
)

__all__ = ["Bucket", "Decision", "LocalBucket", "Rate", "RedisBucket", "parse_rate"]
