"""Configuration classes; secrets and the database URL come from the environment."""
from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _sqlite_url(name: str) -> str:
    return f"sqlite:///{INSTANCE_DIR / name}"


class Config:
    """Settings shared by every environment."""

    # No key is ever written in the code. Without SECRET_KEY, the first start writes a random one to
    # SECRET_KEY_FILE (mode 0600) and later starts reuse it; production insists on SECRET_KEY.
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    SECRET_KEY_FILE = os.environ.get("SECRET_KEY_FILE", str(INSTANCE_DIR / "secret_key"))
    REQUIRE_SECRET_KEY = False
    DATABASE_URL = os.environ.get("DATABASE_URL", _sqlite_url("metrology.db"))
    SQL_ECHO = False

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # 记住我 lasts this many days; logout, a password change and disabling the user end it sooner.
    REMEMBER_COOKIE_DURATION = dt.timedelta(days=int(os.environ.get("REMEMBER_DAYS", "30")))
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None
    # No Flask-Babel here: forms take their Chinese messages from WTForms' own catalogue.
    WTF_I18N_ENABLED = False

    # Failed logins: per account and per client address.
    LOGIN_FAILURE_LIMIT = os.environ.get("LOGIN_FAILURE_LIMIT", "5 per minute")
    # memory:// counts in each process; several processes or servers share one count in Redis (redis://host:6379/0).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Prefix of the limiter's keys, so two systems (production and a training copy) can share one Redis database.
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "metrology")
    RATELIMIT_HEADERS_ENABLED = False
    # Where every process counts the commits that drop the pages' snapshots (app/counts/snapshots.py): a Redis URL,
    # or empty for the limiter's Redis when it has one (else each process counts its own).
    SNAPSHOT_REDIS_URL = os.environ.get("SNAPSHOT_REDIS_URL", "")
    # Number of reverse proxies in front of the app (0: clients connect directly).
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))

    # Bootstrap served from the installed package: station networks have no internet.
    BOOTSTRAP_SERVE_LOCAL = True

    PASSWORD_HASH_METHOD = "scrypt"
    # Uploaded ledgers are kept here so a batch applies exactly the file it previewed.
    IMPORT_STORAGE = os.environ.get("IMPORT_STORAGE", str(INSTANCE_DIR / "imports"))
    IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_MB", "50")) * 1024 * 1024
    # Uploads are opened and parsed in a child process limited to this much memory and time.
    IMPORT_SANDBOX = True
    IMPORT_PARSE_MEMORY_MB = int(os.environ.get("IMPORT_PARSE_MEMORY_MB", "2048"))
    IMPORT_PARSE_SECONDS = float(os.environ.get("IMPORT_PARSE_SECONDS", "300"))
    # A worker at work on a batch beats (its task's record in the queue's store, its heartbeat file) this often; a
    # batch being analysed or applied whose beats and row have not moved for IMPORT_STALE_SECONDS is taken as
    # interrupted (the `import_recovery` job looks every 30 s): a dry run is queued once more, an apply failed.
    IMPORT_HEARTBEAT_SECONDS = float(os.environ.get("IMPORT_HEARTBEAT_SECONDS", "5"))
    IMPORT_STALE_SECONDS = float(os.environ.get("IMPORT_STALE_SECONDS", "25"))
    # A batch queued this long with no worker taking it says so on its page ("等待后台处理").
    IMPORT_QUEUE_WAIT_SECONDS = float(os.environ.get("IMPORT_QUEUE_WAIT_SECONDS", "60"))
    # Inspection evidence (photos, scans): outside the web root, served only through a view that checks scope.
    EVIDENCE_STORAGE = os.environ.get("EVIDENCE_STORAGE", str(INSTANCE_DIR / "evidence"))
    EVIDENCE_MAX_BYTES = int(os.environ.get("EVIDENCE_MAX_MB", "10")) * 1024 * 1024
    # iPhone HEIC photos are converted to JPEG in a child process (the import sandbox) with these limits.
    EVIDENCE_MAX_PIXELS = int(os.environ.get("EVIDENCE_MAX_PIXELS", "60000000"))
    EVIDENCE_DECODE_MEMORY_MB = int(os.environ.get("EVIDENCE_DECODE_MEMORY_MB", "1024"))
    EVIDENCE_DECODE_SECONDS = float(os.environ.get("EVIDENCE_DECODE_SECONDS", "30"))
    # Signed pledge documents, outside the web root; served only to staff who may see the merchant.
    INTEGRITY_STORAGE = os.environ.get("INTEGRITY_STORAGE", str(INSTANCE_DIR / "integrity"))
    INTEGRITY_MAX_BYTES = int(os.environ.get("INTEGRITY_MAX_MB", "10")) * 1024 * 1024
    # Public lookup: requests per client address; the address printed in QR codes ('' = the request's host).
    PUBLIC_RATE_LIMIT = os.environ.get("PUBLIC_RATE_LIMIT", "60 per minute")
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    # Complaints (投诉举报): handling period in working days, the public form's challenge lifetime, and how many
    # complaints one address may send (on top of the public limit every public page shares).
    COMPLAINT_DEADLINE_WORKING_DAYS = int(os.environ.get("COMPLAINT_DEADLINE_WORKING_DAYS", "15"))
    COMPLAINT_CHALLENGE_SECONDS = int(os.environ.get("COMPLAINT_CHALLENGE_SECONDS", "7200"))
    COMPLAINT_RATE_LIMIT = os.environ.get("COMPLAINT_RATE_LIMIT", "5 per hour")
    # Largest sheet of QR labels; a selection of more than LABELS_INLINE labels is built by a background task.
    LABELS_MAX = int(os.environ.get("LABELS_MAX", "5000"))
    LABELS_INLINE = int(os.environ.get("LABELS_INLINE", "500"))
    TIMEZONE = "Asia/Shanghai"
    DUE_SOON_DAYS = int(os.environ.get("DUE_SOON_DAYS", "30"))
    PAGE_SIZE = 50
    # Largest list export in one workbook (rows); a wider filter is refused with a message.
    EXPORT_MAX_ROWS = int(os.environ.get("EXPORT_MAX_ROWS", "200000"))

    # Task queue (app/tasks/queue.py): where queued background work is kept. The default SQLite file serves one
    # machine; with redis://host:port/db, `flask tasks worker` processes on any machine take the tasks.
    # `make run` sets TASKS_IN_APP=1 so the web process runs TASK_WORKERS_IN_APP worker threads itself.
    TASK_QUEUE_URL = os.environ.get("TASK_QUEUE_URL", _sqlite_url("tasks.db"))
    TASKS_IN_APP = os.environ.get("TASKS_IN_APP", "0") == "1"
    TASK_WORKERS_IN_APP = int(os.environ.get("TASK_WORKERS_IN_APP", "2"))
    TASKS_IMMEDIATE = False
    # Background tasks' results (exports, label sheets), shared by every app server like IMPORT_STORAGE; kept
    # TASK_KEEP_DAYS days after they finish. A worker touches its task's heartbeat every TASK_HEARTBEAT_SECONDS;
    # a running task silent for TASK_STALE_SECONDS is queued again by the `task_recovery` job (every 30 s), at most
    # TASK_MAX_ATTEMPTS runs in all.
    TASK_STORAGE = os.environ.get("TASK_STORAGE", str(INSTANCE_DIR / "tasks"))
    TASK_KEEP_DAYS = int(os.environ.get("TASK_KEEP_DAYS", "7"))
    TASK_HEARTBEAT_SECONDS = float(os.environ.get("TASK_HEARTBEAT_SECONDS", "5"))
    TASK_STALE_SECONDS = float(os.environ.get("TASK_STALE_SECONDS", "25"))
    TASK_MAX_ATTEMPTS = int(os.environ.get("TASK_MAX_ATTEMPTS", "2"))
    # A list export of more rows than this is built by a background task (a status page, then the download).
    EXPORT_INLINE_ROWS = int(os.environ.get("EXPORT_INLINE_ROWS", "20000"))

    # Scheduler: `make run` sets SCHEDULER_IN_APP=1 so the web process runs it; otherwise `flask scheduler run`.
    # Any number of processes may run it: the lease row picks one leader.
    SCHEDULER_IN_APP = os.environ.get("SCHEDULER_IN_APP", "0") == "1"
    SCHEDULER_JOBS = os.environ.get("SCHEDULER_JOBS", "app.scheduler:JOBS")
    SCHEDULER_LEASE_SECONDS = float(os.environ.get("SCHEDULER_LEASE_SECONDS", "30"))
    SCHEDULER_TICK_SECONDS = float(os.environ.get("SCHEDULER_TICK_SECONDS", "5"))

    # Alerts (预警): the service-life warning and the second due-date reminder, in days.
    ALERT_SERVICE_LIFE_DAYS = int(os.environ.get("ALERT_SERVICE_LIFE_DAYS", "90"))
    ALERT_SECOND_REMINDER_DAYS = int(os.environ.get("ALERT_SECOND_REMINDER_DAYS", "7"))
    # Where users open the app, for the link in the digest e-mail (optional).
    APP_BASE_URL = os.environ.get("APP_BASE_URL", "")

    # Outgoing mail. Without SMTP_HOST, messages are kept in the outbox (系统管理 → 邮件发件箱).
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_STARTTLS = os.environ.get("SMTP_STARTTLS", "0") == "1"
    SMTP_TIMEOUT = int(os.environ.get("SMTP_TIMEOUT", "30"))
    MAIL_FROM = os.environ.get("MAIL_FROM", "计量监管台账 <noreply@localhost>")
    # A refused message is retried after 1, 2, 4 ... minutes, then every 6 hours until it goes out.
    MAIL_RETRY_BASE_SECONDS = int(os.environ.get("MAIL_RETRY_BASE_SECONDS", "60"))
    MAIL_RETRY_MAX_SECONDS = int(os.environ.get("MAIL_RETRY_MAX_SECONDS", str(6 * 3600)))
    MAIL_BATCH_SIZE = 100
    MAIL_CLAIM_TIMEOUT_SECONDS = 600

    # Webhooks (change notifications to API tokens' addresses, docs/webhooks.md). Receivers on loopback,
    # private or link-local addresses are refused unless this is set (a receiver inside the county network).
    WEBHOOK_ALLOW_PRIVATE = os.environ.get("WEBHOOK_ALLOW_PRIVATE", "0") == "1"
    # Seconds a receiver has to answer; a failed attempt is retried after 30 s, 1, 2, 4 ... minutes (at most
    # 6 hours apart) and given up after WEBHOOK_MAX_ATTEMPTS attempts (shown as 已放弃, retried by hand).
    WEBHOOK_TIMEOUT_SECONDS = int(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
    WEBHOOK_RETRY_BASE_SECONDS = int(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "30"))
    WEBHOOK_RETRY_MAX_SECONDS = int(os.environ.get("WEBHOOK_RETRY_MAX_SECONDS", str(6 * 3600)))
    WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "12"))

    TESTING = False
    DEBUG = False


class DevelopmentConfig(Config):
    """Local development: SQLite under instance/, debug pages allowed."""

    DEBUG = os.environ.get("FLASK_DEBUG", "0") == "1"


class TestConfig(Config):
    """Test runs: the database URL is injected by the fixtures."""

    TESTING = True
    # Random per test run: nothing is signed with a key written in the code.
    SECRET_KEY = secrets.token_hex(32)
    WTF_CSRF_ENABLED = False
    # Hashing strength is not under test; scrypt would make every fixture user cost 0.1 s.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    # Queued tasks run at once in the caller's thread (Huey's immediate mode); tests of real workers bind a queue.
    TASKS_IMMEDIATE = True
    TASK_QUEUE_URL = "memory://"
    # Uploads are parsed in the test's process (fast); the tests of hostile files and one import
    # turn the child process on.
    IMPORT_SANDBOX = False
    # Test uploads are kept outside the project's instance folder.
    IMPORT_STORAGE = str(Path(tempfile.gettempdir()) / "metrology-test-imports")
    EVIDENCE_STORAGE = str(Path(tempfile.gettempdir()) / "metrology-test-evidence")
    # Tests never talk to a mail server unless they start one.
    SMTP_HOST = ""
    INTEGRITY_STORAGE = str(Path(tempfile.gettempdir()) / "metrology-test-integrity")
    TASK_STORAGE = str(Path(tempfile.gettempdir()) / "metrology-test-tasks")
    # Tests send many complaints from one address; the rate-limit test sets its own limit.
    COMPLAINT_RATE_LIMIT = "1000 per minute"


class ProductionConfig(Config):
    """Production: refuses to start without an explicit, long enough SECRET_KEY."""

    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "1") == "1"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE

    # Every app server must sign with the same key, so production never generates one per machine.
    REQUIRE_SECRET_KEY = True


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """Pick the configuration class named by APP_ENV (default: development)."""
    return CONFIGS[os.environ.get("APP_ENV", "development")]
