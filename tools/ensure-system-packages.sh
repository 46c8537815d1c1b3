#!/usr/bin/env bash
# Installs the Debian packages the course runs for real: Chromium (browser checks),
# redis-server (Celery broker and Socket.IO message queue), nginx (scale-out) and bubblewrap
# (the file view a student's code is graded in), graphviz (`make diagrams`, tests/test_diagrams.py)
# and curl (the lessons' troubleshooting commands).
# As root it installs what is missing with apt; otherwise it says what to install.
set -euo pipefail

declare -A needed=([chromium]=/usr/bin/chromium [redis-server]=redis-server [nginx]=nginx [bubblewrap]=bwrap
  [graphviz]=dot [curl]=curl)
missing=()
for pkg in "${!needed[@]}"; do
  command -v "${needed[$pkg]}" >/dev/null 2>&1 || [ -x "${needed[$pkg]}" ] \
    || [ -x "/usr/sbin/${needed[$pkg]}" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them, e.g.: sudo apt-get install ${missing[*]}" >&2
  echo "(Chromium is needed for the browser checks, redis-server for lessons 03-04, nginx for 04," >&2
  echo " bubblewrap to contain the code being graded, graphviz for the diagrams, curl for the" >&2
  echo " lessons' troubleshooting commands.)" >&2
  exit 1
fi
