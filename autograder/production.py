"""Lesson 04's production pieces as real processes: gunicorn instances and nginx in front.

gunicorn runs in the stage folder, so it reads the stage's own gunicorn.conf.py; the grader
only overrides where it listens. nginx runs the stage's site file (deploy/nginx/socketio.conf)
with its two placeholders filled in, in the foreground, with every path under the log folder.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
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
# The timeouts that can end a quiet websocket behind nginx: once upgraded, nginx re-arms the
# upstream read timer on traffic either way (proxy_read_timeout), and times a blocked write to
# the instance (proxy_send_timeout) or to the client (send_timeout). Each defaults to 60 s.
IDLE_TIMEOUTS = ("proxy_read_timeout", "proxy_send_timeout", "send_timeout")
NGINX_DEFAULT_TIMEOUT = 60.0
# nginx's time units (ngx_parse_time); a number without one is seconds.
NGINX_TIME_UNITS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "M": 30 * 86400,
    "y": 365 * 86400,
}
NGINX_TIME_PART = re.compile(r"\s*(\d+)(ms|[smhdwMy]?)")
TIMEOUT_DIRECTIVE = re.compile(
    rf"(?<![\w$])(?P<name>{'|'.join(IDLE_TIMEOUTS)})(?P<space>\s+)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^;\s]+)(?=\s*;)"
)


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


def nginx_seconds(value: str) -> float | None:
    """An nginx time ("20s", "1m30s", "500ms", "60") in seconds; None if it is not one."""
    text = value.strip("\"'")
    if not text or NGINX_TIME_PART.sub("", text).strip():
        return None
    return sum(int(n) * NGINX_TIME_UNITS[unit or "s"] for n, unit in NGINX_TIME_PART.findall(text))


@dataclass(frozen=True)
class SiteTimeout:
    """One of IDLE_TIMEOUTS as the site file sets it."""

    directive: str
    value: str  # as written
    seconds: float
    line: int  # 1-based, in the site file

    def __str__(self) -> str:
        return f"{self.directive} {self.value} (line {self.line})"


def _code_lines(site: str) -> list[tuple[int, str, str]]:
    """(line number, code, comment) for each line; a comment starts at #."""
    rows = []
    for number, line in enumerate(site.splitlines(keepends=True), start=1):
        code, hash_, comment = line.partition("#")
        rows.append((number, code, hash_ + comment))
    return rows


def site_timeouts(site: str) -> list[SiteTimeout]:
    """Every IDLE_TIMEOUTS directive the site sets, outside comments, with its value."""
    found = []
    for number, code, _ in _code_lines(site):
        for match in TIMEOUT_DIRECTIVE.finditer(code):
            seconds = nginx_seconds(match["value"])
            if seconds is not None:
                found.append(SiteTimeout(match["name"], match["value"], seconds, number))
    return found


def _top_level_directives(site: str) -> set[str]:
    """The IDLE_TIMEOUTS the site sets outside any block (in nginx's http block, where it is
    included): a second one there would be a duplicate."""
    names, depth = set(), 0
    for _, code, _ in _code_lines(site):
        position = 0
        for match in TIMEOUT_DIRECTIVE.finditer(code):
            text = code[position : match.start()]
            depth += text.count("{") - text.count("}")
            position = match.start()
            if depth == 0:
                names.add(match["name"])
        rest = code[position:]
        depth += rest.count("{") - rest.count("}")
    return names


def scale_site_timeouts(site: str, speedup: float) -> tuple[str, str]:
    """The site with each of IDLE_TIMEOUTS divided by ``speedup``, and the http-level lines
    that give the ones it leaves unset nginx's 60 s default divided the same way.

    With the app's ping interval divided by the same factor, a quiet connection behaves as in
    production (what closes first, and why), only ``speedup`` times sooner.
    """

    def scaled(seconds: float) -> str:
        return f"{max(1, round(seconds * 1000 / speedup))}ms"

    def replace(match: re.Match) -> str:
        seconds = nginx_seconds(match["value"])
        if seconds is None:  # not a time: left for nginx to refuse
            return match[0]
        return f"{match['name']}{match['space']}{scaled(seconds)}"

    lines = [
        TIMEOUT_DIRECTIVE.sub(replace, code) + comment for _, code, comment in _code_lines(site)
    ]
    top_level = _top_level_directives(site)
    defaults = "".join(
        f"    {name} {scaled(NGINX_DEFAULT_TIMEOUT)};\n"
        for name in IDLE_TIMEOUTS
        if name not in top_level
    )
    return "".join(lines), defaults


def nginx_conf(prefix: Path, site: str, speedup: float = 1.0) -> str:
    """The whole nginx.conf around a rendered site: every path under ``prefix``."""
    defaults = ""
    if speedup != 1.0:
        site, defaults = scale_site_timeouts(site, speedup)
    temp_paths = "".join(
        f"    {kind}_temp_path {prefix / 'tmp' / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log logs/error.log warn;\n"
        "events { worker_connections 4096; }\n"
        f"http {{\n    access_log {prefix / 'logs' / 'access.log'};\n{temp_paths}{defaults}"
        f"{site}\n}}\n"
    )


def start_nginx(
    launcher: Launcher,
    stage_dir: Path,
    upstreams: list[str],
    sticky: bool = True,
    name: str = "nginx",
    port: int | None = None,
    speedup: float = 1.0,
) -> tuple[str, ManagedProcess]:
    """nginx in the foreground with the stage's site file, proxying to ``upstreams``.

    ``speedup`` above 1 divides the site's idle timeouts (and nginx's defaults for them) by it:
    see scale_site_timeouts.
    """
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
    conf.write_text(nginx_conf(prefix, site, speedup))
    process = launcher.start(
        name,
        [nginx, "-p", str(prefix), "-c", str(conf), "-e", "logs/error.log", "-g", "daemon off;"],
        cwd=prefix,
        capabilities=NGINX_CAPABILITIES,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(engineio_ready(url), process, f"answer on {url}")
    return url, process
