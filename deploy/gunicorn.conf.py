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

# One request at a time per process (sync workers), several processes. Every process takes the next connection
# from the one listening queue they share, so a request waits only until any process is free. With threads
# (gthread) each process keeps the connections it accepted and queues their requests behind its own, and the
# threads of one process take turns on one interpreter lock: at 32 concurrent users on two cores, 9 of 30 staff
# pages had a p95 over 1 s (the worst 2.4 s) with 4 processes x 4 threads, none with 9 sync processes (the worst
# 0.71 s; bench/README.md, sixth session). A sync worker needs a buffering proxy in front (deploy/nginx.conf), so a
# slow phone never holds a process. Four processes a core: a page's Python runs while another process waits for
# the database. WEB_CONCURRENCY is gunicorn's own variable; GUNICORN_WORKER_CLASS=gthread with GUNICORN_THREADS
# brings threads back (one process with threads, say, for a small county without Redis: see on_starting below).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
workers = int(os.environ.get("WEB_CONCURRENCY", min(4 * multiprocessing.cpu_count() + 1, 17)))
# gunicorn turns a sync worker with more than one thread into gthread.
threads = int(os.environ.get("GUNICORN_THREADS", "4")) if worker_class == "gthread" else 1

# A request may take up to 2 minutes (a large workbook export, a label sheet); past that the worker is killed and
# replaced. Graceful: a restart (SIGHUP, a deploy) lets running requests end within 30 s.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# gthread only (a sync worker closes each connection): how long an idle connection from the proxy stays open.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Each process is replaced after 10,000 to 15,000 requests, so slow growth of memory never builds up. A new process
# spends about 1.6 s of CPU on imports and create_app(), and the processes, started together and given requests
# evenly, reach their count together unless the jitter is wide: replacements then come jitter / requests-per-second
# apart on average (38 s at 130 requests/s). With a jitter of a tenth, twelve processes were replaced within seconds
# of each other and requests waited up to 15 s (bench/README.md, sixth session).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 2

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
                "或只用一个进程（WEB_CONCURRENCY=1 GUNICORN_WORKER_CLASS=gthread GUNICORN_THREADS=8）。")
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
