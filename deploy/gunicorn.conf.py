"""gunicorn settings for the web process: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Every value can be set from the environment (the systemd unit's EnvironmentFile, the Procfile's shell), and a
command-line option overrides this file (`-w 3`). Only the web app runs here: the scheduler (`flask scheduler run`)
and the queue workers (`flask tasks worker`) are processes of their own (deploy/systemd, deploy/Procfile).
"""
import multiprocessing
import os

# Behind the reverse proxy on the same machine; another host's proxy needs GUNICORN_BIND=0.0.0.0:8000 and a
# firewall rule letting only the proxy in.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Processes x threads. Pages spend most of their time waiting for the database, so each process serves a few
# requests at once with threads (gthread); processes add CPU. WEB_CONCURRENCY is gunicorn's own variable.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 9)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"

# A request may take up to 2 minutes (a large workbook export, a label sheet); past that the worker is killed and
# replaced. Graceful: a restart (SIGHUP, a deploy) lets running requests end within 30 s.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# The proxy keeps connections to us open between requests.
keepalive = 5
# Each process is replaced after about this many requests, so slow growth of memory never builds up.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200

# Not preloaded: each worker imports and builds the app after the fork. create_app() opens the database engine,
# the limiter's and the queue's Redis pools, and wsgi.py may start scheduler or queue threads (SCHEDULER_IN_APP,
# TASKS_IN_APP); none of these survive a fork (threads are not copied into the child, a socket shared by two
# processes mixes their replies). The cost is a second or two and some memory per worker at start.
preload_app = False

# X-Forwarded-Proto / X-Forwarded-For are believed only from these addresses (the proxy). The app reads the
# client address itself (TRUSTED_PROXIES, werkzeug's ProxyFix); this is gunicorn's own check for the scheme.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Access log to stdout (journald / the Procfile runner keeps it): the client address given by the proxy, the
# proxy's address, time, request line, status, bytes, duration in milliseconds, user agent, the answering worker.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%({x-forwarded-for}i)s %(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" pid=%(p)s'
proc_name = "metrology-web"
# The heartbeat files of the workers in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def limiter_storage_problem(storage_uri: str, worker_count: int) -> str | None:
    """Why this limiter storage is wrong for this many processes, or None.

    In memory every process counts on its own: with N workers the login throttle lets N times as many guesses
    through and the public limit is N times as high, and nothing says so.
    """
    if worker_count > 1 and storage_uri.startswith("memory://"):
        return (f"RATELIMIT_STORAGE_URI 为 {storage_uri}，但有 {worker_count} 个 web 进程：登录失败次数和公开查询限流"
                f"会在每个进程分别计数（放宽 {worker_count} 倍）。请设 RATELIMIT_STORAGE_URI=redis://主机:6379/0，"
                "或只用一个进程（WEB_CONCURRENCY=1，GUNICORN_THREADS 可加大）。")
    return None


def on_starting(server):
    """Refuse to start production with per-process rate limits; elsewhere, say so in the log."""
    problem = limiter_storage_problem(os.environ.get("RATELIMIT_STORAGE_URI", "memory://"), server.cfg.workers)
    if problem is None:
        return
    if os.environ.get("APP_ENV") == "production":
        server.log.error("refusing to start: %s", problem)
        raise SystemExit(3)
    server.log.warning("%s", problem)
