#!/usr/bin/env bash
# Reproduces docs/performance.md: builds auther and the load tool, then for
# each backend starts a fresh server (rate limiting off, logs at warn) and
# runs every load scenario against it on 127.0.0.1: the session and sign-in
# scenarios, then the OpenID Connect ones (jwks, discovery, code-exchange,
# refresh) with a confidential client created for the run. Needs a local
# PostgreSQL for the postgres run (AUTHER_PERF_POSTGRES_URL, default below);
# the database is dropped and re-created.
#
#   tools/perf/run.sh [sqlite|postgres ...]      (default: both)
#   env: C (concurrency, 32), D (duration per scenario, 10s)
set -euo pipefail
cd "$(dirname "$0")/../.."
backends=("${@:-sqlite postgres}")
C="${C:-32}"; D="${D:-10s}"
PGBASE="${AUTHER_PERF_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/auther" ./cmd/auther
go build -o "$work/load" ./tools/load
echo "# $(date -u +%FT%TZ)  $(nproc) cores  $(go version | cut -d' ' -f3)"
echo "# scrypt hash (one core):"
go test -run XXX -bench 'BenchmarkVerify$' -benchtime 20x ./internal/password/ | grep Benchmark

for b in ${backends[@]}; do
  export AUTHER_RATE_LIMIT=off AUTHER_LOG_LEVEL=warn AUTHER_DATA_DIR="$work/data-$b" AUTHER_ADDR=127.0.0.1:3999
  export AUTHER_SECRET="perf-secret-perf-secret-perf-secret-0001"
  unset AUTHER_DATABASE_URL
  if [ "$b" = postgres ]; then
    psql "$PGBASE/postgres" -qc "DROP DATABASE IF EXISTS auther_perf WITH (FORCE)" -qc "CREATE DATABASE auther_perf"
    export AUTHER_DATABASE_URL="$PGBASE/auther_perf?sslmode=disable"
  fi
  "$work/auther" serve --migrate >"$work/serve-$b.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do curl -sf http://127.0.0.1:3999/healthz >/dev/null && break; sleep 0.1; done
  echo "## $b  (idle RSS $(awk '/VmRSS/{print $2/1024 " MiB"}' /proc/$pid/status))"
  "$work/load" -url http://127.0.0.1:3999 -c "$C" -d "$D" -pid "$pid" \
    -scenario session,session-invalid,signin,signup,session-flood
  # A confidential first-party client (no consent page). The redirect URI
  # is never contacted: the load tool reads the code from Location.
  "$work/auther" client create --name perf --redirect-uri http://127.0.0.1:9/cb --skip-consent >"$work/client-$b.txt"
  client_id="$(awk '/^client_id:/{print $2}' "$work/client-$b.txt")"
  client_secret="$(awk '/^client_secret:/{print $2}' "$work/client-$b.txt")"
  if [ -z "$client_id" ] || [ -z "$client_secret" ]; then
    echo "auther client create printed no client_id/client_secret" >&2; exit 1
  fi
  "$work/load" -url http://127.0.0.1:3999 -c "$C" -d "$D" -pid "$pid" \
    -scenario jwks,discovery,code-exchange,refresh \
    -client-id "$client_id" -client-secret "$client_secret" -redirect-uri http://127.0.0.1:9/cb
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
