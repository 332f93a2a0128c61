#!/usr/bin/env bash
# bench/dkim.sh — what DKIM verification costs, with the inbound checks on.
#
# Starts praisani (release build) on 127.0.0.1:22525 with [trust] on against
# bench/dns.py, which publishes SPF, DMARC p=reject and two DKIM keys for
# example.test. bench/signed_load.py then sends the same 4 KiB message
# unsigned, signed rsa-sha256 (2048 bits) and signed ed25519-sha256: 20
# sessions, 5000 messages, one per connection, REPS times each. The same
# client is run against Postfix (../shared/peers, 127.0.0.1:12525) with the
# rsa-signed message unless SKIP_PEERS=1.
# Env: REPS=3  BIN=path/to/praisani  PEERS=../shared/peers  SKIP_PEERS=1
# First the checks alone (crates/mailhost/examples/trust_cost.rs): median time
# per check of each message with the DNS answers cached. Prints one JSON line
# per run on stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
REPS=${REPS:-3}
if [ -z "${BIN:-}" ]; then
  cargo build --release --manifest-path "$ROOT/Cargo.toml" -p praisani >&2
  BIN=$ROOT/target/release/praisani
fi
cargo build --release --manifest-path "$ROOT/Cargo.toml" -p praisani-mailhost --example trust_cost >&2
COST=$ROOT/target/release/examples/trust_cost
WORK=$(mktemp -d /tmp/praisani-dkim.XXXXXX)
CONF=$WORK/praisani.toml
LOAD="$ROOT/bench/signed_load.py"
for kind in none rsa ed25519; do
  python3 "$LOAD" 127.0.0.1:1 --sign "$kind" --selector "$kind" \
    --key-out "$WORK/$kind.json" --make-key-only >"$WORK/$kind.eml"
done
python3 "$ROOT/bench/dns.py" --port 25353 --domain example.test --helo loadgen.example.test \
  --dkim "$WORK/rsa.json" --dkim "$WORK/ed25519.json" &
DNS_PID=$!
cat >"$CONF" <<TOML
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
[trust]
enabled = true
[delivery]
nameservers = ["127.0.0.1:25353"]
TOML
"$BIN" --config "$CONF" domain add example.test >/dev/null
echo pass | "$BIN" --config "$CONF" user add u1@example.test --password-stdin >/dev/null
echo pass | "$BIN" --config "$CONF" user add a@example.test --password-stdin >/dev/null
PRAISANI_LOG=warn "$BIN" --config "$CONF" serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID $DNS_PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  (exec 3<>/dev/tcp/127.0.0.1/22525) 2>/dev/null && break
  sleep 0.1
done

drain() {
  # Empties u1's mailbox between runs, so every run stores into the same size of maildrop.
  python3 - <<'PY'
import poplib
p = poplib.POP3("127.0.0.1", 22110, timeout=60)
p.user("u1@example.test"); p.pass_("pass")
for i in range(1, p.stat()[0] + 1):
    p.dele(i)
p.quit()
PY
}

# One signed message, checked: its Authentication-Results must say dkim=pass,
# or the figures would measure a failing verification.
python3 "$LOAD" 127.0.0.1:22525 --message-file "$WORK/rsa.eml" -s 1 -m 1 >/dev/null
python3 - <<'PY'
import poplib, sys
p = poplib.POP3("127.0.0.1", 22110, timeout=60)
p.user("u1@example.test"); p.pass_("pass")
head = b"\n".join(p.top(1, 0)[1]).decode()
p.dele(1); p.quit()
if "dkim=pass" not in head or "dmarc=pass" not in head:
    sys.exit("the signed message did not pass:\n" + head)
print("checked: dkim=pass dmarc=pass", file=sys.stderr)
PY

# The checks alone, each message checked 3000 times on one thread with warm
# caches: the CPU they add to a message.
"$COST" --dns 127.0.0.1:25353 --rounds 3000 "$WORK/none.eml" "$WORK/rsa.eml" "$WORK/ed25519.eml"

for r in $(seq 1 "$REPS"); do
  for kind in none rsa ed25519; do
    python3 "$LOAD" 127.0.0.1:22525 --message-file "$WORK/$kind.eml" --pid "$PID" \
      --label "praisani-$kind#$r"
    drain
  done
  if [ -z "${SKIP_PEERS:-}" ]; then
    "$PEERS/setup-peers.sh" start >/dev/null 2>&1 || true
    python3 "$LOAD" 127.0.0.1:12525 --message-file "$WORK/rsa.eml" --label "postfix-rsa#$r"
  fi
done
