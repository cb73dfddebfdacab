"""Base settings: dev-safe defaults, everything overridable through the environment.

``production`` differs only in refusing to start without ``DJANGO_SECRET_KEY``;
``test`` pins what the test suite needs. Nothing here opens a connection.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from courier_web.config.cache import default_cache
from courier_web.config.env import env_bool, env_float, env_int, env_list, env_str
from courier_web.config.logging import configure_structlog, logging_config

PACKAGE_DIR = Path(__file__).resolve().parents[2]


def _default_home() -> Path:
    # From a source checkout (web/src/courier_web) the home is web/; an
    # installed package has no such folder, so fall back to the working dir.
    source_root = PACKAGE_DIR.parents[1]
    if PACKAGE_DIR.parent.name == "src" and (source_root / "pyproject.toml").is_file():
        return source_root
    return Path.cwd()


#: Where local state (the default SQLite file) lives: ``COURIER_WEB_HOME``.
COURIER_WEB_HOME = Path(env_str("COURIER_WEB_HOME", str(_default_home()))).resolve()

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "django-insecure-courier-dev-only-never-in-production")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "courier_web.users",
    "courier_web.outbox",
    "courier_web.audit",
    "courier_web.stats",
    "courier_web.catalog",
    "courier_web.consumer",
    "courier_web.reports",
    "courier_web.documents",
    "courier_web.newsletters",
]

# The middleware stack, outermost first (docs/middleware.md explains each place).
# A request goes down this list and its response comes back up it; anything a
# layer answers itself (413, 429, a redirect) still passes every layer above.
MIDDLEWARE = [
    # 1. Request id first: every response, whoever produced it (404, 405, 413,
    #    429, 500), passes back through it and gets X-Request-ID, and every log
    #    line below it carries request_id.
    "courier_web.middleware.request_id.RequestIdMiddleware",
    # The acting user (courier_web.actor): none at the start of every request,
    # forgotten at its end, so a thread never carries one into the next request.
    "courier_web.actor.ActorMiddleware",
    # 2. Access log and request metrics: outside everything that can answer, so
    #    it sees the final status and times the whole stack.
    "courier_web.middleware.access_log.AccessLogMiddleware",
    # 3. Security headers (HSTS, nosniff, Referrer-Policy, COOP) and the HTTPS
    #    redirect: before any work is done, and on every answer below.
    "django.middleware.security.SecurityMiddleware",
    "courier_web.middleware.security_headers.ContentSecurityPolicyMiddleware",
    # 4. Compression: above every layer that produces or changes a body.
    "courier_web.middleware.compression.CompressionMiddleware",
    # 5. Oversized bodies are refused before a session or user is loaded.
    "courier_web.middleware.body_limit.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # 6. Rate limiting: needs to know the user (session above, bearer token
    #    resolved on demand), and comes before any view work it protects.
    "courier_web.middleware.rate_limit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "courier_web.config.urls"
WSGI_APPLICATION = "courier_web.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ------------------------------------------------------------------ database
_DEFAULT_SQLITE = COURIER_WEB_HOME / "var" / "web.sqlite3"
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{_DEFAULT_SQLITE}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # SQLite has one writer: IMMEDIATE takes the write lock at BEGIN, so
        # relays (and the in-process publisher) serialise instead of failing
        # to upgrade a read lock; WAL lets readers go on meanwhile.
        "transaction_mode": "IMMEDIATE",
        "timeout": env_float("SQLITE_BUSY_TIMEOUT", 20.0),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that is away fails a connection attempt within the timeout
    # (a 503, a relay back-off) instead of hanging on it; keepalives find a
    # connection whose server vanished without closing it (a failover). Both
    # are client-side, so they work through PgBouncer too. docs/reliability.md.
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 5),
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }
#: DATABASE_URL is a transaction pooler (PgBouncer ``pool_mode = transaction``):
#: no server-side cursors, no session state, and the relay LISTENs only on
#: OUTBOX_LISTEN_URL (docs/outbox.md, "Through PgBouncer").
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_TRANSACTION_POOLING

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"

# --------------------------------------------------------------- passwords
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "display_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# DJANGO_PASSWORD_HASHERS: comma-separated dotted paths that replace the list
# below. Only the test suite and benchmarks set it (to a fast, weak hasher);
# never set it in production.
PASSWORD_HASHERS = env_list(
    "DJANGO_PASSWORD_HASHERS",
    [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ],
)

# ------------------------------------------------------------------- cache
REDIS_URL = env_str("REDIS_URL", "")
#: Seconds a cache read or write (and a connection to Redis) may take. The cache
#: is an optimisation: a Redis that hangs must cost a request this much, not the
#: client library's default of no timeout at all.
REDIS_CACHE_TIMEOUT = env_float("REDIS_CACHE_TIMEOUT", 0.25)
CACHES = {"default": default_cache(REDIS_URL, timeout=REDIS_CACHE_TIMEOUT)}

#: Seconds a cached ``GET /api/stats`` answer lives at most. Signals invalidate it
#: at once where the cache is shared (Redis); without REDIS_URL each web process
#: has its own cache, and the others catch up within this time.
STATS_CACHE_SECONDS = env_float("STATS_CACHE_SECONDS", 300.0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

# ------------------------------------------------------------------ broker
RABBITMQ_URL = env_str("RABBITMQ_URL", "amqp://guest:guest@localhost:5672/%2F")

#: Who publishes a committed row right away (``outbox/dispatch.py``): ``notify``
#: (the relay, woken by PostgreSQL's NOTIFY), ``thread`` (an in-process thread),
#: ``off`` (the relay's next poll); ``auto``: notify on PostgreSQL, else thread.
OUTBOX_DISPATCH = env_str("OUTBOX_DISPATCH", "auto")
#: Row ids the in-process publisher may hold; beyond it rows wait for the relay.
OUTBOX_QUEUE_SIZE = env_int("OUTBOX_QUEUE_SIZE", 10_000)
#: Rows the relay claims (and locks) per transaction.
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 100)
#: Seconds the relay sleeps when there is nothing to publish.
OUTBOX_POLL_INTERVAL = env_float("OUTBOX_POLL_INTERVAL", 0.5)
#: Rows younger than this (seconds) are left to the in-process publisher
#: (``OUTBOX_DISPATCH=thread`` only; otherwise the relay takes rows at once).
OUTBOX_RELAY_GRACE = env_float("OUTBOX_RELAY_GRACE", 2.0)
#: First and largest delay (seconds) of the exponential, jittered backoff used
#: by the relay and by the in-process publisher's circuit breaker.
OUTBOX_BACKOFF_INITIAL = env_float("OUTBOX_BACKOFF_INITIAL", 0.5)
OUTBOX_BACKOFF_MAX = env_float("OUTBOX_BACKOFF_MAX", 30.0)
#: Largest delay (seconds) between the relay's reconnections to a database
#: that is away: short, since a connection attempt costs the database little.
OUTBOX_DB_BACKOFF_MAX = env_float("OUTBOX_DB_BACKOFF_MAX", 5.0)
#: PostgreSQL statement_timeout (seconds) of the relay's own connections
#: (0: the server's); sent as a startup option, see docs/outbox.md for PgBouncer.
OUTBOX_STATEMENT_TIMEOUT = env_float("OUTBOX_STATEMENT_TIMEOUT", 10.0)
#: A direct PostgreSQL URL for the relay's LISTEN when DATABASE_URL goes
#: through a transaction pooler (where LISTEN receives nothing); unset: DATABASE_URL.
OUTBOX_LISTEN_URL = env_str("OUTBOX_LISTEN_URL", "")
#: TCP connect / socket timeout (seconds) towards the broker.
OUTBOX_CONNECT_TIMEOUT = env_float("OUTBOX_CONNECT_TIMEOUT", 2.0)
#: Give up on a connection the broker blocks (memory/disk alarm) after this long.
OUTBOX_BLOCKED_TIMEOUT = env_float("OUTBOX_BLOCKED_TIMEOUT", 5.0)
#: AMQP heartbeat (seconds).
OUTBOX_HEARTBEAT = env_int("OUTBOX_HEARTBEAT", 15)
#: ``durable``: declare the topic exchange on connect; ``passive``: only check
#: it exists (for credentials that may publish but not configure).
OUTBOX_DECLARE_EXCHANGE = env_str("OUTBOX_DECLARE_EXCHANGE", "durable")
#: Timeout (seconds) of the broker probe behind ``GET /readyz``.
READYZ_BROKER_TIMEOUT = env_float("READYZ_BROKER_TIMEOUT", 1.0)

# --------------------------------------------------- consumer and storage
#: Messages the ``consume_events`` command takes ahead (AMQP prefetch).
CONSUMER_PREFETCH = env_int("CONSUMER_PREFETCH", 16)
#: ``declare``: declare the web's result queue and its bindings on connect;
#: ``passive``: only check it exists (the broker definitions declare it, and
#: the web's broker user may not configure).
CONSUMER_DECLARE = env_str("CONSUMER_DECLARE", "declare")
#: Largest delay (seconds) between the consumer's reconnections to the broker.
CONSUMER_BACKOFF_MAX = env_float("CONSUMER_BACKOFF_MAX", 30.0)
#: Reports and documents, shared with the worker: a folder (default
#: ``var/storage`` beside the web's folder, where ``make run``'s worker looks too).
STORAGE_URL = env_str("STORAGE_URL", str(COURIER_WEB_HOME.parent / "var" / "storage"))
#: Largest CSV document accepted by ``POST /api/documents`` (bytes); beyond it a 413.
DOCUMENT_MAX_BYTES = env_int("DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)
#: Seconds a document may stay pending before the web marks it failed (``timeout``).
DOCUMENT_DEADLINE_SECONDS = env_float("DOCUMENT_DEADLINE_SECONDS", 900.0)

# ------------------------------------------------------------------- http
#: Largest request body accepted (bytes); beyond it a JSON 413, including for
#: chunked bodies (see middleware/body_limit.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("HTTP_MAX_BODY_BYTES", 256 * 1024)
#: Paths that take larger bodies: a document upload (its multipart framing included).
HTTP_BODY_LIMITS_BY_PATH = {"/api/documents": DOCUMENT_MAX_BYTES + 64 * 1024}
#: Responses smaller than this are not gzipped (not worth the CPU).
GZIP_MIN_BYTES = env_int("GZIP_MIN_BYTES", 1024)
#: Token bucket per client on POST/PUT/PATCH/DELETE under /api/:
#: "<count>/<second|minute|hour|day>"; "0" or "off" disables it.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "120/minute")
#: Seconds the limiter waits for Redis before letting the request through.
RATE_LIMIT_REDIS_TIMEOUT = env_float("RATE_LIMIT_REDIS_TIMEOUT", 0.1)
RATE_LIMIT_KEY_PREFIX = env_str("RATE_LIMIT_KEY_PREFIX", "courier:ratelimit:")
#: Reverse proxies in front of us that append to X-Forwarded-For; 0 ignores it.
TRUSTED_PROXY_COUNT = env_int("DJANGO_TRUSTED_PROXY_COUNT", 0)

# Headers SecurityMiddleware sets on every response (production adds HSTS and
# the HTTPS redirect, see production.py).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Probes and scrapers speak plain HTTP inside the cluster: never redirect them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# The admin's messages live in the session. The default (FallbackStorage)
# builds a cookie storage, with its signer, and a session storage on every
# request, for messages only the admin ever sends.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# ----------------------------------------------------------------- outbox ops
#: Sent rows are deleted this many hours after their confirm (0 keeps them).
OUTBOX_RETENTION_HOURS = env_float("OUTBOX_RETENTION_HOURS", 168.0)
#: Seconds between two prunes by the relay (each deletes at most 10 x 1000 rows).
OUTBOX_PRUNE_INTERVAL = env_float("OUTBOX_PRUNE_INTERVAL", 300.0)
#: The relay serves its own Prometheus metrics on this port (0: not served).
OUTBOX_RELAY_METRICS_PORT = env_int("OUTBOX_RELAY_METRICS_PORT", 0)
#: Test seam for the fault tests (outbox/failpoints.py): e.g. ``exit-after-confirm``.
#: Unset in every real deployment.
OUTBOX_FAILPOINT = env_str("OUTBOX_FAILPOINT", "")

# ----------------------------------------------------------------- newsletters
#: Where people reach this web service; the unsubscribe links in newsletters start here.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", f"http://localhost:{env_str('WEB_PORT', '8000')}")
#: Recipients per newsletter.chunk_ready.v1 event (at most the contract's 100).
NEWSLETTER_CHUNK_SIZE = env_int("NEWSLETTER_CHUNK_SIZE", 100)
#: Days an unsubscribe link keeps working.
NEWSLETTER_UNSUBSCRIBE_MAX_AGE_DAYS = env_int("NEWSLETTER_UNSUBSCRIBE_MAX_AGE_DAYS", 365)

# ----------------------------------------------------------------- logging
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
configure_structlog(level=LOG_LEVEL, fmt=LOG_FORMAT)
