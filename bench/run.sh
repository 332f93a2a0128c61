#!/usr/bin/env bash
# bench/run.sh — praisani beside Postfix + Dovecot, in one run, on this machine.
#
# Needs the peers from ../shared/peers (./setup-peers.sh installs and starts them).
# Starts praisani (release build) on 127.0.0.1:22525 (SMTP) and :22110 (POP3)
# with u1..u20@example.test (password "pass"), then runs the peers' own load
# tools against both:
#   SMTP: smtp-source, 20 sessions, 5000 messages of 4 KiB, one message per connection
#   POP3: 20 users log in at once and RETR+DELE everything (4 KiB x 250 per user,
#         and 256 KiB x 10 per user)
# Env: REPS=3  WHAT="smtp pop3"  PEERS=../shared/peers
#      TRUST=1               (inbound checks on: SPF, DKIM, DMARC, ARC against bench/dns.py,
#                             a DNS server on 127.0.0.1:25353 publishing the sender's SPF and
#                             DMARC; needs `pip install dnslib`)
#      BIN=path/to/praisani  (a binary built elsewhere, e.g. an earlier commit, instead of
#                             building this checkout)
#      SKIP_PEERS=1          (measure praisani only, e.g. a second binary in the same run)
# Results: the peers' JSON lines under $PEERS/results (or /tmp/peers-results) with
# their summary, then praisani's JSON lines on stdout and its summary on stderr.
# praisani runs go through bench/praisani_runs.py, which calls the same tools but
# measures the server's CPU over all its threads (the tools only see one thread).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
REPS=${REPS:-3}
WHAT=${WHAT:-"smtp pop3"}
export REPS

if [ -z "${BIN:-}" ]; then
  cargo build --release --manifest-path "$ROOT/Cargo.toml" -p praisani >&2
  BIN=$ROOT/target/release/praisani
fi
WORK=$(mktemp -d /tmp/praisani-bench.XXXXXX)
CONF=$WORK/praisani.toml
cat > "$CONF" <<TOML
hostname = "bench.example.test"
postmaster = "bench@example.test"
data_dir = "$WORK/data"
[listen]
smtp = ["127.0.0.1:22525"]
pop3 = ["127.0.0.1:22110"]
submission = []
submissions = []
pop3s = []
[limits]
max_connections_per_ip = 5000
max_connections = 5000
auth_failure_delay = "2s"
TOML
if [ -n "${TRUST:-}" ]; then
  # The checks really run: SPF (MAIL FROM and HELO) and DMARC pass against
  # records served by bench/dns.py.
  python3 "$ROOT/bench/dns.py" --port 25353 --domain example.test --helo loadgen.example.test &
  DNS_PID=$!
  printf '[trust]\nenabled = true\n[delivery]\nnameservers = ["127.0.0.1:25353"]\n' >>"$CONF"
else
  # The load comes from 127.0.0.1 as a@example.test with no DNS to ask: the
  # inbound trust checks (on by default) would answer 451.
  printf '[trust]\nenabled = false\n' >>"$CONF"
fi
"$BIN" --config "$CONF" domain add example.test >/dev/null
for i in $(seq 1 20); do
  echo pass | "$BIN" --config "$CONF" user add "u$i@example.test" --password-stdin >/dev/null
done
echo pass | "$BIN" --config "$CONF" user add "a@example.test" --password-stdin >/dev/null
PRAISANI_LOG=warn "$BIN" --config "$CONF" serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID ${DNS_PID:-} 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  (exec 3<>/dev/tcp/127.0.0.1/22525) 2>/dev/null && break
  sleep 0.1
done
"$PEERS/setup-peers.sh" start >/dev/null 2>&1 || true

for w in $WHAT; do
  [ -n "${SKIP_PEERS:-}" ] && break
  case $w in
    smtp)
      echo "== SMTP: Postfix (virtual(8) to Maildir)" >&2
      SCENARIOS="postfix-virtual" "$PEERS/bench-smtp.sh"
      ;;
    pop3)
      echo "== POP3: Dovecot" >&2
      "$PEERS/bench-pop3.sh"
      ;;
  esac
done
echo "== praisani ($WHAT)" >&2
"$ROOT/bench/praisani_runs.py" --peers "$PEERS" --pid "$PID" --reps "$REPS" --what "$WHAT"
