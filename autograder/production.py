"""Lesson 04's production pieces as real processes: gunicorn instances and nginx in front.

gunicorn runs in the stage folder, so it reads the stage's own gunicorn.conf.py; the grader
only overrides where it listens. nginx runs the stage's site file (deploy/nginx/socketio.conf)
with its two placeholders filled in, in the foreground, with every path under the log folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .harness import Harness, ManagedProcess, StartError, free_port, http_ok, wait_until
from .paths import COURSE_ROOT, SOCKETIO_CLIENT_DIST, VENV_BIN

GEVENT_WEBSOCKET_WORKER = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"
GEVENT_WORKER = "gevent"
SIMPLE_WEBSOCKET_VENV = COURSE_ROOT / ".venv-simple-websocket"
NGINX_SITE = Path("deploy") / "nginx" / "socketio.conf"
# Ready = Engine.IO answers a polling handshake (/healthz is an exercise, so not that).
READY_PATH = "/socket.io/?EIO=4&transport=polling"
NGINX_CANDIDATES = "/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin"
STICKY = "ip_hash;"


def find_nginx() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path=NGINX_CANDIDATES)


def start_gunicorn(
    harness: Harness,
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
    process = harness.start(name, [*command, module], cwd=stage_dir, env=full_env)
    url = f"http://127.0.0.1:{port}"
    if wait:
        wait_until(http_ok(url + READY_PATH), process, f"answer on {url}")
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
    harness: Harness,
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
    prefix = harness.log_dir / name
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
    process = harness.start(
        name,
        [nginx, "-p", str(prefix), "-c", str(conf), "-e", "logs/error.log", "-g", "daemon off;"],
        cwd=prefix,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ok(url + READY_PATH), process, f"answer on {url}")
    return url, process


def simple_websocket_venv(requirements: Path, out=None) -> Path:
    """The bin/ of .venv-simple-websocket, made (or brought up to date) from ``requirements``.

    Its own virtualenv because engine.io uses gevent-websocket whenever it can import it, and
    then `gunicorn -k gevent` loses websocket. `make venv-simple-websocket` runs this too.
    """
    venv_bin = SIMPLE_WEBSOCKET_VENV / "bin"
    stamp = SIMPLE_WEBSOCKET_VENV / ".installed"
    sources = [requirements, COURSE_ROOT / "requirements.lock"]
    if stamp.is_file() and all(s.stat().st_mtime <= stamp.stat().st_mtime for s in sources):
        return venv_bin
    print(
        f"==> {SIMPLE_WEBSOCKET_VENV.name}: gevent + simple-websocket, no gevent-websocket",
        file=out,
        flush=True,
    )
    steps = [
        [sys.executable, "-m", "venv", str(SIMPLE_WEBSOCKET_VENV)],
        [str(venv_bin / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + ["-c", str(COURSE_ROOT / "requirements.lock"), "-r", str(requirements)],
    ]
    for step in steps[(venv_bin / "python").exists() :]:
        # Captured: this machine's pip config names mirrors that do not exist (warnings only).
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise StartError(f"could not make {SIMPLE_WEBSOCKET_VENV}: {error}") from error
        if done.returncode != 0:
            raise StartError(
                f"could not make {SIMPLE_WEBSOCKET_VENV} ({' '.join(step)}):\n{done.stderr[-2000:]}"
            )
    has_gevent_websocket = subprocess.run(
        [str(venv_bin / "python"), "-c", "import geventwebsocket"], capture_output=True
    )
    if has_gevent_websocket.returncode == 0:
        raise StartError(f"{SIMPLE_WEBSOCKET_VENV} has gevent-websocket: remove the folder.")
    stamp.touch()
    return venv_bin
