"""Lesson 04's production pieces as real processes: gunicorn workers and nginx in front."""

from __future__ import annotations

import shutil
from pathlib import Path

from .harness import Harness, ManagedProcess, StartError, free_port, http_ok, wait_until
from .paths import COURSE_ROOT

GEVENT_WEBSOCKET_WORKER = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"
GEVENT_WORKER = "gevent"
SIMPLE_WEBSOCKET_VENV = COURSE_ROOT / ".venv-simple-websocket"


def start_gunicorn(
    harness: Harness,
    stage_dir: Path,
    module: str,
    env: dict,
    worker_class: str = GEVENT_WEBSOCKET_WORKER,
    venv_bin: Path | None = None,
    name: str = "gunicorn",
    health_path: str = "/healthz",
) -> tuple[str, ManagedProcess]:
    """One single-worker gunicorn on a free port; returns its URL once /healthz answers."""
    gunicorn = (venv_bin / "gunicorn") if venv_bin else shutil.which("gunicorn", path=_venv_path())
    if gunicorn is None or not Path(gunicorn).exists():
        raise StartError(
            f"gunicorn not found ({venv_bin or 'the course virtualenv'}): run `make setup`."
        )
    port = free_port()
    # --no-control-socket: gunicorn 27 otherwise makes one socket in ~/.gunicorn for all of them.
    command = [
        str(gunicorn),
        "-k",
        worker_class,
        "-w",
        "1",
        "--bind",
        f"127.0.0.1:{port}",
        "--no-control-socket",
        "--graceful-timeout",
        "5",
        module,
    ]
    process = harness.start(name, command, cwd=stage_dir, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ok(url + health_path), process, f"answer {health_path} on {url}")
    return url, process


def start_nginx(
    harness: Harness, config_template: Path, upstreams: list[str], name: str = "nginx"
) -> tuple[str, ManagedProcess]:
    """nginx in the foreground with the stage's site config, proxying to ``upstreams``."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if nginx is None:
        raise StartError("nginx not found: install Debian's nginx (`make setup` does it as root).")
    port = free_port()
    prefix = harness.log_dir / name
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"        server {u.removeprefix('http://')};" for u in upstreams)
    site = config_template.read_text().replace("{{LISTEN}}", f"127.0.0.1:{port}")
    site = site.replace("{{UPSTREAM_SERVERS}}", servers.strip())
    conf = prefix / "nginx.conf"
    conf.write_text(
        "worker_processes 1;\npid nginx.pid;\nerror_log logs/error.log warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n    access_log logs/access.log;\n"
        f"    client_body_temp_path {prefix}/tmp;\n    proxy_temp_path {prefix}/tmp;\n"
        f"{site}\n}}\n"
    )
    process = harness.start(
        name,
        [nginx, "-p", str(prefix), "-c", str(conf), "-e", "logs/error.log", "-g", "daemon off;"],
        cwd=prefix,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ok(url + "/healthz"), process, f"answer on {url}")
    return url, process


def _venv_path() -> str:
    return f"{COURSE_ROOT / '.venv' / 'bin'}"
