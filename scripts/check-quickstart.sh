#!/usr/bin/env bash
# The README's quick start as a new user pastes it, from a fresh clone of this checkout: `make run`
# in one shell, then every line of the "from another terminal" block in another. Prints how long
# `make run` took to the first /health answer. Run by .ci/run after `make test`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill -- "-$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
  echo "check-quickstart: 127.0.0.1:8080 is in use; the quick start needs it" >&2
  exit 1
fi

git clone -q "$repo" "$work/pfs"
cd "$work/pfs"
# The block after "from another terminal", as the README shows it (indented four spaces).
awk '/^Then, from another terminal/{on=1; next} on && /^    /{sub(/^    /,""); print; next} on && NF {exit}' \
  README.md > "$work/lines.sh"
[ -s "$work/lines.sh" ] || { echo "check-quickstart: no quick start lines in README.md" >&2; exit 1; }

start=$(date +%s.%N)
setsid make run > "$work/run.log" 2>&1 &
server=$!
until curl -sf localhost:8080/api/v1/health > /dev/null; do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "check-quickstart: make run stopped:" >&2; tail -20 "$work/run.log" >&2; exit 1
  fi
  sleep 0.5
done
ready=$(date +%s.%N)
printf 'check-quickstart: make run answered /health after %.0f s on a fresh clone\n' \
  "$(echo "$ready - $start" | bc)"

# The user's second terminal: a bash that runs each pasted line and stops at the first failure.
bash -e -x "$work/lines.sh" > "$work/lines.log" 2>&1 || {
  echo "check-quickstart: a quick start line failed:" >&2; cat "$work/lines.log" >&2; exit 1
}
grep -qx hello "$work/lines.log" || { cat "$work/lines.log" >&2; echo "no hello" >&2; exit 1; }
echo "check-quickstart: every quick start line worked as pasted"
