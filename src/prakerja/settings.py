"""Settings: every value comes from a PRAKERJA_* environment variable with a safe embedded default."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
WORK_DIR = Path(os.environ.get("PRAKERJA_WORK_DIR", Path.cwd()))

ENV = os.environ.get("PRAKERJA_ENV", "development")
PRODUCTION = ENV == "production"

# Demo secrets: fine on a laptop, refused in production (see the check at the end).
DEMO_SECRET_KEY = "demo-only-not-secret-7f3c1d2e9a8b"
DEMO_PII_KEY = "ZGVtby1vbmx5LXBpaS1rZXktMzItYnl0ZXMtbG9uZyE="
DEMO_BLIND_INDEX_KEY = "ZGVtby1vbmx5LWJsaW5kLWluZGV4LWtleS0zMmJ5dGU="
DEMO_CERTIFICATE_KEY = "ZGVtby1vbmx5LWNlcnRpZmljYXRlLWtleS0zMmJ5dGU="
DEMO_PROVIDER_SECRET = "demo-only-provider-callback-secret"

SECRET_KEY = os.environ.get("PRAKERJA_SECRET_KEY", DEMO_SECRET_KEY)
PII_KEY = os.environ.get("PRAKERJA_PII_KEY", DEMO_PII_KEY)
BLIND_INDEX_KEY = os.environ.get("PRAKERJA_BLIND_INDEX_KEY", DEMO_BLIND_INDEX_KEY)
# The Ed25519 private key (32-byte seed, base64) that signs certificates; its public half is published.
CERTIFICATE_KEY = os.environ.get("PRAKERJA_CERTIFICATE_KEY", DEMO_CERTIFICATE_KEY)

DEBUG = os.environ.get("PRAKERJA_DEBUG", "false" if PRODUCTION else "true").lower() == "true"
ALLOWED_HOSTS = os.environ.get("PRAKERJA_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("PRAKERJA_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "prakerja.core",
    "prakerja.regions",
    "prakerja.identity",
    "prakerja.accounts",
    "prakerja.registry",
    "prakerja.ledger",
    "prakerja.waves",
    "prakerja.partners",
    "prakerja.catalog",
    "prakerja.enrolment",
    "prakerja.surveys",
    "prakerja.payments",
    "prakerja.partnersim",
    "prakerja.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "prakerja.accounts.middleware.StaffSecondFactorMiddleware",
    "prakerja.core.middleware.ErrorPageMiddleware",
]

ROOT_URLCONF = "prakerja.urls"
WSGI_APPLICATION = "prakerja.wsgi.application"
ASGI_APPLICATION = "prakerja.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": ["prakerja.core.templatetags.prakerja"],
        },
    }
]

DATABASE_URL = os.environ.get("PRAKERJA_DATABASE_URL", f"sqlite:///{WORK_DIR / 'prakerja.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers and one writer work together; IMMEDIATE takes the write lock up front,
        # so concurrent writers queue on the busy timeout instead of failing with "database is locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# The signed-in user is read on every request: one short query for the session, one for the user.
AUTHENTICATION_BACKENDS = ["prakerja.accounts.sessions.UserBackend"]
SESSION_ENGINE = "prakerja.accounts.sessions"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling: this many failures for one username within the window lock it for the window.
LOGIN_MAX_FAILURES = int(os.environ.get("PRAKERJA_LOGIN_MAX_FAILURES", "5"))
LOGIN_LOCK_MINUTES = int(os.environ.get("PRAKERJA_LOGIN_LOCK_MINUTES", "15"))
OTP_VALID_MINUTES = 10
OTP_MAX_ATTEMPTS = 5
OTP_RESEND_SECONDS = 60  # at most one new code a minute per contact
OTP_MAX_PER_HOUR = 5

LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Indonesian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Jakarta"
USE_TZ = True

# Uploaded files (appeal evidence, partner documents) live outside the web root and are only ever
# served through views that check who is asking.
MEDIA_ROOT = Path(os.environ.get("PRAKERJA_MEDIA_DIR", WORK_DIR / "private"))
UPLOAD_MAX_BYTES = 5 * 1024 * 1024

STATIC_URL = "static/"
STATIC_ROOT = WORK_DIR / "staticfiles"

# Every e-mail, Django's own included (password reset), is written to the notifications outbox;
# the outbox delivers it through the backend chosen here: console (default), file or smtp.
EMAIL_BACKEND = "prakerja.core.notifications.OutboxEmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("PRAKERJA_FROM_EMAIL", "Prakerja <noreply@prakerja.example>")
NOTIFY_BACKEND = os.environ.get("PRAKERJA_NOTIFY_BACKEND", "console")
# Deliver right after the commit, in the request; "0" leaves delivery to `prakerja outbox send`.
NOTIFY_INLINE = os.environ.get("PRAKERJA_NOTIFY_INLINE", "1") == "1"
# Load shedding: registrations in flight at once per process (those arriving together are written together),
# and how long a request waits for a place. Give the server more threads than this, so that the rest are
# told 503 at once rather than queued unseen.
REGISTRATION_CONCURRENCY = int(os.environ.get("PRAKERJA_REGISTRATION_CONCURRENCY", "12"))
ADMISSION_WAIT = float(os.environ.get("PRAKERJA_ADMISSION_WAIT", "0.05"))
# Enrolment: when vouchers may be redeemed and withdrawn from, and how long a card-link code lives.
PRAKERJA_REDEEM_BEFORE_HOURS = int(os.environ.get("PRAKERJA_REDEEM_BEFORE_HOURS", "24"))
PRAKERJA_REDEEM_AFTER_HOURS = int(os.environ.get("PRAKERJA_REDEEM_AFTER_HOURS", "48"))
PRAKERJA_ONLINE_REDEEM_DAYS = int(os.environ.get("PRAKERJA_ONLINE_REDEEM_DAYS", "30"))
PRAKERJA_WITHDRAWAL_DAYS = int(os.environ.get("PRAKERJA_WITHDRAWAL_DAYS", "3"))
PRAKERJA_LINK_CODE_MINUTES = int(os.environ.get("PRAKERJA_LINK_CODE_MINUTES", "10"))
PRAKERJA_PUBLIC_URL = os.environ.get("PRAKERJA_PUBLIC_URL", "http://127.0.0.1:8000")  # on certificates
# Partner API: how long an OAuth2 access token lives, and requests a client may make per minute.
PRAKERJA_PARTNER_TOKEN_SECONDS = int(os.environ.get("PRAKERJA_PARTNER_TOKEN_SECONDS", "900"))
PRAKERJA_PARTNER_RATE_PER_MINUTE = int(os.environ.get("PRAKERJA_PARTNER_RATE_PER_MINUTE", "6000"))
# Webhooks may go to plain http on loopback (a partner testing locally) only when this is set.
PRAKERJA_WEBHOOK_ALLOW_LOOPBACK = (
    os.environ.get("PRAKERJA_WEBHOOK_ALLOW_LOOPBACK", "1" if DEBUG else "0") == "1"
)
# How long a request waits for another with the same Idempotency-Key to finish before a 409 (PostgreSQL).
PRAKERJA_IDEMPOTENCY_WAIT_SECONDS = float(os.environ.get("PRAKERJA_IDEMPOTENCY_WAIT_SECONDS", "10"))
PRAKERJA_TRAINING_PRICE_MAX = int(os.environ.get("PRAKERJA_TRAINING_PRICE_MAX", "5000000"))  # rupiah
NOTIFY_DIR = Path(os.environ.get("PRAKERJA_NOTIFY_DIR", WORK_DIR / "outbox"))
EMAIL_HOST = os.environ.get("PRAKERJA_SMTP_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("PRAKERJA_SMTP_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("PRAKERJA_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("PRAKERJA_SMTP_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("PRAKERJA_SMTP_TLS", "false").lower() == "true"

# The national population registry (Dukcapil) adapter: the fake answers offline and deterministically.
POPULATION_REGISTRY = os.environ.get(
    "PRAKERJA_POPULATION_REGISTRY", "prakerja.registry.dukcapil.FakePopulationRegistry"
)

# Payment providers (a bank and four e-wallets) behind one adapter; docs/payments.md has the wire shape.
# The in-process fake answers account checks offline; the HTTP adapter speaks to the providers' gateway
# (in development and tests: `prakerja payouts simulator` on loopback).
PAYMENT_PROVIDERS = os.environ.get("PRAKERJA_PAYMENT_PROVIDERS", "prakerja.payments.providers.HttpProviders")
PAYMENT_PROVIDER_URL = os.environ.get("PRAKERJA_PAYMENT_PROVIDER_URL", "http://127.0.0.1:8765")
# Each provider signs its callbacks with HMAC-SHA256 under a key derived from this secret and its code.
PAYMENT_PROVIDER_SECRET = os.environ.get("PRAKERJA_PAYMENT_PROVIDER_SECRET", DEMO_PROVIDER_SECRET)
PAYMENT_CALLBACK_TOLERANCE_SECONDS = int(os.environ.get("PRAKERJA_PAYMENT_CALLBACK_TOLERANCE_SECONDS", "300"))
PAYMENT_CHUNK_SIZE = int(os.environ.get("PRAKERJA_PAYMENT_CHUNK_SIZE", "5000"))
PAYMENT_MAX_ATTEMPTS = int(os.environ.get("PRAKERJA_PAYMENT_MAX_ATTEMPTS", "3"))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PRAKERJA_LOG_LEVEL", "WARNING")},
}


def _refuse_unsafe_production() -> None:
    problems = []
    if SECRET_KEY == DEMO_SECRET_KEY:
        problems.append("PRAKERJA_SECRET_KEY is the demo key")
    if PII_KEY == DEMO_PII_KEY:
        problems.append("PRAKERJA_PII_KEY is the demo key")
    if BLIND_INDEX_KEY == DEMO_BLIND_INDEX_KEY:
        problems.append("PRAKERJA_BLIND_INDEX_KEY is the demo key")
    if CERTIFICATE_KEY == DEMO_CERTIFICATE_KEY:
        problems.append("PRAKERJA_CERTIFICATE_KEY is the demo key")
    if PAYMENT_PROVIDER_SECRET == DEMO_PROVIDER_SECRET:
        problems.append("PRAKERJA_PAYMENT_PROVIDER_SECRET is the demo key")
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        problems.append("PRAKERJA_DATABASE_URL points at SQLite; production runs on PostgreSQL")
    if DEBUG:
        problems.append("PRAKERJA_DEBUG is true")
    if problems:
        raise ImproperlyConfigured("Refusing to start with PRAKERJA_ENV=production: " + "; ".join(problems))


if PRODUCTION:
    _refuse_unsafe_production()
