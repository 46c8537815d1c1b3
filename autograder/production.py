"""Lesson 04's production pieces as real processes: gunicorn instances and nginx in front.

gunicorn runs in the stage folder, so it reads the stage's own gunicorn.conf.py; the grader
only overrides where it listens. nginx runs the stage's site file (deploy/nginx/socketio.conf)
with its two placeholders filled in, in the foreground, with every path under the log folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .harness import Launcher, ManagedProcess, StartError, free_port, wait_until
from .paths import SOCKETIO_CLIENT_DIST, VENV_BIN
from .readiness import engineio_ready

GEVENT_WEBSOCKET_WORKER = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"
GEVENT_WORKER = "gevent"
NGINX_SITE = Path("deploy") / "nginx" / "socketio.conf"
NGINX_CANDIDATES = "/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin"
STICKY = "ip_hash;"
# Contained, nginx keeps what it needs to hand its workers to the unprivileged user.
NGINX_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN")


def find_nginx() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path=NGINX_CANDIDATES)


def start_gunicorn(
    launcher: Launcher,
    stage_dir: Path,
    env: dict,
    module: str = "wsgi:app",
    worker_class: str | None = None,
    venv_bin: Path = VENV_BIN,
    name: str = "gunicorn",
    wait: bool = True,
    port: int | None = None,
) -> tuple[str, ManagedProcess]:
    """One gunicorn instance (one worker) on a free port; its URL once Engine.IO answers.

    ``worker_class`` None leaves the choice to the stage's gunicorn.conf.py. ``wait`` False
    returns at once (for a start that is meant to fail).
    """
    gunicorn = venv_bin / "gunicorn"
    if not gunicorn.exists():
        raise StartError(f"gunicorn not found in {venv_bin}: run `make setup`.")
    port = port or free_port()
    command = [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--no-control-socket"]
    if worker_class:
        command += ["-k", worker_class]
    full_env = {
        "SOCKETIO_CLIENT_DIST": str(SOCKETIO_CLIENT_DIST),
        "INSTANCE_NAME": f"{name} on port {port}",
        **env,
    }
    process = launcher.start(name, [*command, module], cwd=stage_dir, env=full_env)
    url = f"http://127.0.0.1:{port}"
    if wait:
        # Ready = Engine.IO answers (/healthz is an exercise, so not that).
        wait_until(engineio_ready(url), process, f"answer on {url}")
    return url, process


def render_site(template: str, listen: str, upstreams: list[str], sticky: bool = True) -> str:
    """The site file with {{LISTEN}} and {{UPSTREAM_SERVERS}} filled in.

    ``sticky`` False comments ip_hash out: websocket-only clients need no stickiness, and from
    one address (127.0.0.1) ip_hash would send every grader client to the same instance.
    """
    if "{{LISTEN}}" not in template or "{{UPSTREAM_SERVERS}}" not in template:
        raise StartError(f"{NGINX_SITE} lost its {{{{LISTEN}}}} or {{{{UPSTREAM_SERVERS}}}}.")
    servers = " ".join(f"server {url.removeprefix('http://')};" for url in upstreams)
    site = template.replace("{{LISTEN}}", listen).replace("{{UPSTREAM_SERVERS}}", servers)
    if not sticky:
        site = site.replace(STICKY, "# ip_hash; (off: websocket-only clients)")
    return site


def start_nginx(
    launcher: Launcher,
    stage_dir: Path,
    upstreams: list[str],
    sticky: bool = True,
    name: str = "nginx",
    port: int | None = None,
) -> tuple[str, ManagedProcess]:
    """nginx in the foreground with the stage's site file, proxying to ``upstreams``."""
    nginx = find_nginx()
    if nginx is None:
        raise StartError("nginx not found: install Debian's nginx (`make setup` does it as root).")
    template = stage_dir / NGINX_SITE
    if not template.is_file():
        raise StartError(f"There is no {NGINX_SITE} in {stage_dir}.")
    port = port or free_port()
    prefix = launcher.work_dir / name
    for folder in ("logs", "tmp"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    site = render_site(template.read_text(), f"127.0.0.1:{port}", upstreams, sticky)
    conf = prefix / "nginx.conf"
    temp_paths = "".join(
        f"    {kind}_temp_path {prefix / 'tmp' / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf.write_text(
        f"worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log logs/error.log warn;\n"
        "events { worker_connections 4096; }\n"
        f"http {{\n    access_log {prefix / 'logs' / 'access.log'};\n{temp_paths}"
        f"{site}\n}}\n"
    )
    process = launcher.start(
        name,
        [nginx, "-p", str(prefix), "-c", str(conf), "-e", "logs/error.log", "-g", "daemon off;"],
        cwd=prefix,
        capabilities=NGINX_CAPABILITIES,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(engineio_ready(url), process, f"answer on {url}")
    return url, process
