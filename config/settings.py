"""Letterpress settings: one file, driven by environment variables.

With no environment at all this is the embedded default: SQLite and a
filesystem Celery broker under var/, emails written to var/outbox/.
"""

import os
import sys
from pathlib import Path

import dj_database_url

from config import deployment

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.getenv(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    return int(os.getenv(name, str(default)))


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


# pytest (8.2+) sets PYTEST_VERSION: a test run gets its own folder, queue and
# cache prefix, so it never meets the app that `make run` may have running.
TESTING = "PYTEST_VERSION" in os.environ
VAR_DIR = Path(os.getenv("VAR_DIR", BASE_DIR / ("var/test" if TESTING else "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Production unless told otherwise: development says DEBUG=1 (make run, the
# test run and the processes it starts, the compose file's development use).
DEBUG = envbool("DEBUG", "True" if TESTING else "False")
DEVELOPMENT_KEY = "dev-only-insecure-key-do-not-use-in-production-6c1f0e2d9b8a7f5e4d3c"
# Keys that are public (this file, .env.example): they sign nothing in production.
PUBLIC_KEYS = (DEVELOPMENT_KEY, "change-me-to-50-or-more-random-characters")
SECRET_KEY = os.getenv("SECRET_KEY", "") or (DEVELOPMENT_KEY if DEBUG else "")
# Old keys, newest first, still accepted when reading signed links (and the
# hashes of suppressed addresses), so that links in inboxes survive a rotation.
SECRET_KEY_FALLBACKS = envlist("SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "*" if DEBUG else "")
SITE_URL = os.getenv("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", SITE_URL)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",  # its sitemap.xml template (newsletter/sitemaps.py)
    "nested_admin",
    "axes",
    "anymail",
    "newsletter",
    "subscribers",
    "api",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.FormCharsetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The admin in the editor's browser language; every other page starts in LANGUAGE_CODE.
    "config.languages.AdminLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: throttles admin logins after repeated failures.
    "axes.middleware.AxesMiddleware",
]

# django-axes' lockout records stay out of the editors' admin.
AXES_ENABLE_ADMIN = False

if TESTING:
    # A fast hasher for the test users: the production one is slow on purpose,
    # and it took two thirds of the admin tests' time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Off in tests so the test client's login() works; tests/test_admin_login.py turns it on.
AXES_ENABLED = not TESTING
AXES_FAILURE_LIMIT = envint("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("ADMIN_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# Database: DATABASE_URL (PostgreSQL in production), SQLite under var/ otherwise.
DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{VAR_DIR / 'letterpress.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The web process, the worker and beat share one file: wait for locks
    # instead of failing, and take the write lock up front to avoid upgrades
    # that deadlock.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so that a real worker process can see the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: broker, cache and rate-limit store when REDIS_URL is set.
REDIS_URL = os.getenv("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.getenv(
                "CACHE_PREFIX", f"letterpress-test-{os.getpid()}" if TESTING else "letterpress"
            ),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery. Tasks are thin wrappers over newsletter.sending; state lives in the
# database, the broker only carries work.
CELERY_BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any task may run, so an unacked task is not redelivered
        # while its worker still holds it.
        "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600),
    }
else:
    # A host name, which the filesystem transport ignores: without one, kombu
    # warns "No hostname was supplied" at every connection.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR),
        "data_folder_out": str(CELERY_BROKER_DIR),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        # The default 1 s poll left each batch of a send waiting up to a second.
        "polling_interval": 0.1,
    }
CELERY_TASK_DEFAULT_QUEUE = os.getenv(
    "CELERY_QUEUE", f"letterpress-test-{os.getpid()}" if TESTING else "letterpress"
)
# Tests run tasks inline unless they start a real worker (tests/conftest.py).
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "True" if TESTING else "False")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes the worker's database connection after every task unless told
# to reuse it: a new PostgreSQL backend per batch cost more than some of the
# batch's queries. Kept instead for CONN_MAX_AGE, checked before each task
# (config/celery.py); Celery still closes it every 1,000 tasks.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Start scheduled issues whose time has come.
    "start-due-issues": {"task": "newsletter.start_due_issues", "schedule": 60.0},
    # Outgoing webhooks due again after a failure, or whose task was lost.
    "deliver-due-webhooks": {"task": "webhooks.deliver_due", "schedule": 60.0},
    # Settle crashed batches (ambiguous), re-enqueue lost ones, finish completed sends.
    "sweep-deliveries": {"task": "newsletter.sweep", "schedule": 60.0},
    # Remind editors of due issues whose draft has no links yet.
    "remind-editors": {"task": "newsletter.send_reminders", "schedule": 3600.0},
    # Forget the signup email counts of mailboxes whose day is over.
    "prune-mailbox-quotas": {"task": "subscribers.prune_mailbox_quotas", "schedule": 3600.0},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Email: any anymail backend when ESP is set, the local outbox otherwise.
# Credentials come as ANYMAIL_<SETTING> (ANYMAIL_MAILGUN_API_KEY, ...);
# ESP_API_URL points the backend at another API base (a proxy, a test double).
ESP = os.getenv("ESP", "").strip().lower()
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_")
}
ANYMAIL["REQUESTS_TIMEOUT"] = float(os.getenv("ESP_TIMEOUT", "30"))
# Requests at the ESP at once per worker process, on the one-message-per-reader
# path (ESPs without a batch API, and SMTP): each its own connection.
ESP_CONCURRENCY = max(1, envint("ESP_CONCURRENCY", 16))
if os.getenv("WEBHOOK_SECRET"):
    ANYMAIL["WEBHOOK_SECRET"] = os.environ["WEBHOOK_SECRET"]
# Amazon SES: the SNS topics (ARNs) whose subscription of our tracking webhook
# is confirmed by itself; one for any other topic is refused.
SES_SNS_TOPICS = envlist("SES_SNS_TOPICS")
if ESP == "smtp":
    # Plain SMTP, e.g. a local mail catcher such as mailpit.
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.getenv("EMAIL_HOST", "localhost")
    EMAIL_PORT = envint("EMAIL_PORT", 1025)
    # A provider's SMTP relay: STARTTLS (587) or TLS from the start (465), and a login.
    EMAIL_HOST_USER = os.getenv("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.getenv("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "0")
    EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", "0")
elif ESP:
    EMAIL_BACKEND = f"anymail.backends.{ESP}.EmailBackend"
    if os.getenv("ESP_API_URL"):
        ANYMAIL[f"{ESP.upper()}_API_URL"] = os.environ["ESP_API_URL"]
else:
    EMAIL_BACKEND = "mail.outbox.OutboxBackend"
OUTBOX_DIR = VAR_DIR / "outbox"
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "Letterpress <letterpress@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 30)

# Security. Production (DEBUG off) is HTTPS-only unless told otherwise.
HTTPS = envbool("HTTPS", "False" if DEBUG else "True")
SECURE_SSL_REDIRECT = HTTPS and envbool("SECURE_SSL_REDIRECT", "True")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = envbool("BEHIND_PROXY", "False")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies of ours stand in front of the app, each appending the
# address it saw to X-Forwarded-For: the client is the entry the outermost one
# added (subscribers.form_limits.client_ip; earlier entries are the client's
# own claims). Signup limits and admin lockouts both key on that address.
TRUSTED_PROXIES = envint("TRUSTED_PROXIES", 1 if BEHIND_PROXY else 0)
AXES_CLIENT_IP_CALLABLE = "subscribers.form_limits.client_ip"
# Fetching a URL the app was given (config/outbound.py) reaches public
# addresses only; FETCH_ALLOW_LOOPBACK=1 also reaches this machine (development).
FETCH_ALLOW_LOOPBACK = envbool("FETCH_ALLOW_LOOPBACK", "False")
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

# Production refuses to start on a configuration that fails open.
if not DEBUG:
    _problems = deployment.production_problems(
        secret_key=SECRET_KEY,
        fallback_keys=SECRET_KEY_FALLBACKS,
        public_keys=PUBLIC_KEYS,
        allowed_hosts=ALLOWED_HOSTS,
        site_url=SITE_URL,
        email_backend=EMAIL_BACKEND,
        https=HTTPS,
        default_from_email=DEFAULT_FROM_EMAIL,
    )
    if _problems:
        sys.exit(deployment.refusal(_problems))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages readers can be spoken to in: a newsletter picks one (Newsletter.language),
# and mail.languages speaks it on its pages and in its emails. The admin follows the
# editor's browser wherever Django has that language (config.languages).
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]
# Our catalogues, compiled .mo files included (`manage.py makemessages`, README: Languages).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Signup abuse limits (per IP and per address, per minute).
SIGNUP_RATE_PER_IP = envint("SIGNUP_RATE_PER_IP", 10)
SIGNUP_RATE_PER_EMAIL = envint("SIGNUP_RATE_PER_EMAIL", 3)
RATELIMIT_ENABLED = envbool("RATELIMIT_ENABLED", "True")
# REST API requests per token per minute (api.auth); RATELIMIT_ENABLED=0 lifts it too.
API_RATE_PER_MINUTE = envint("API_RATE_PER_MINUTE", 120)
# Confirmation and "already subscribed" emails one mailbox may get in a day,
# whoever asks and from wherever (subscribers.mailbox_quota). Not switched off
# by RATELIMIT_ENABLED: it protects other people's inboxes, not our servers.
SIGNUP_EMAILS_PER_MAILBOX_PER_DAY = envint("SIGNUP_EMAILS_PER_MAILBOX_PER_DAY", 5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}
