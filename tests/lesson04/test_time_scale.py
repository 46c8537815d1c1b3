"""Exercise 4.7 runs production time faster: nginx gets the site's idle timeouts divided by the
same factor as the instance's ping interval. The rendering, and that nginx accepts it."""

import subprocess

import pytest

from autograder.authoring.bugs import bug_of
from autograder.paths import SOLUTIONS
from autograder.production import (
    NGINX_SITE,
    find_nginx,
    nginx_conf,
    nginx_seconds,
    render_site,
    scale_site_timeouts,
    site_timeouts,
)

SITE = (SOLUTIONS / "04_production" / NGINX_SITE).read_text()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("20s", 20), ("60", 60), ("1m30s", 90), ("500ms", 0.5), ('"1m 30s"', 90), ("2h", 7200)],
)
def test_nginx_times_are_read_as_nginx_reads_them(value, seconds):
    assert nginx_seconds(value) == seconds


@pytest.mark.parametrize("value", ["$timeout", "20x", "", "s"])
def test_what_is_not_a_time_is_left_alone(value):
    assert nginx_seconds(value) is None
    site = f"proxy_read_timeout {value};\n"
    assert scale_site_timeouts(site, 5)[0] == site


def test_the_bug_hunts_timeout_is_found_where_the_student_wrote_it():
    assert {(t.directive, t.seconds) for t in site_timeouts(SITE)} == {
        ("proxy_read_timeout", 60),
        ("proxy_send_timeout", 60),
    }
    broken = bug_of("04").apply(str(NGINX_SITE), SITE)
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if "20s;" in text)
    short = [str(t) for t in site_timeouts(broken) if t.seconds < 25]
    assert short == [f"proxy_read_timeout 20s (line {line})"]


def test_every_idle_timeout_and_nginxs_default_is_divided():
    site = (
        "proxy_read_timeout 20s;  # proxy_send_timeout 9s; stays a comment\n"
        "server {\n    send_timeout 3s;\n"
        "    location / { proxy_send_timeout 1m; proxy_read_timeout 60s; }\n}\n"
    )
    scaled, defaults = scale_site_timeouts(site, 5)
    assert scaled == (
        "proxy_read_timeout 4000ms;  # proxy_send_timeout 9s; stays a comment\n"
        "server {\n    send_timeout 600ms;\n"
        "    location / { proxy_send_timeout 12000ms; proxy_read_timeout 12000ms; }\n}\n"
    )
    # set at the top level already (a second one there would be a duplicate): no default
    assert defaults == "    proxy_send_timeout 12000ms;\n    send_timeout 12000ms;\n"


@pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed")
@pytest.mark.parametrize("top_level", ["", "proxy_read_timeout 30s;\n"])
def test_nginx_accepts_the_scaled_site(tmp_path, top_level):
    for folder in ("logs", "tmp"):
        (tmp_path / folder).mkdir()
    site = top_level + render_site(SITE, "127.0.0.1:8080", ["http://127.0.0.1:8001"])
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf(tmp_path, site, speedup=5))
    command = [find_nginx(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "logs/error.log"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "proxy_read_timeout 12000ms;" in conf.read_text()
