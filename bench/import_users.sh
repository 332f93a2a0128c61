#!/usr/bin/env bash
# bench/import_users.sh — `praisani import users` with N accounts (default
# 5000) whose passwords are SHA512-CRYPT hashes (made by `openssl passwd -6`,
# the form Dovecot's passwd-files hold), into a fresh embedded store: the
# first run (check + one commit), the re-run that finds every account
# unchanged, and a dry run; the same for the CSV form. Prints one JSON line
# per run on stdout. Env: N=5000  REPS=3  BIN=path/to/praisani
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-5000}
REPS=${REPS:-3}
if [ -z "${BIN:-}" ]; then
  cargo build --release --manifest-path "$ROOT/Cargo.toml" -p praisani >&2
  BIN=$ROOT/target/release/praisani
fi
WORK=$(mktemp -d /tmp/praisani-import.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
for i in $(seq 1 "$N"); do echo "pw-$i-$RANDOM$RANDOM"; done >"$WORK/passwords"
openssl passwd -6 -in "$WORK/passwords" >"$WORK/hashes"
paste -d: <(seq 1 "$N") "$WORK/hashes" |
  awk -F: '{ printf "user%s@bench.test:{SHA512-CRYPT}%s:5000:5000::/var/vmail/bench.test/user%s::userdb_quota_rule=*:storage=1G\n", $1, $2, $1 }' \
    >"$WORK/passwd"
{ echo "address,password_hash,quota"; paste -d, <(seq 1 "$N" | sed 's/^/user/; s/$/@bench.test/') "$WORK/hashes" | sed 's/$/,1G/'; } >"$WORK/users.csv"
run() { # label file args…
  local label=$1 file=$2; shift 2
  local t0 t1 out
  t0=$(date +%s.%N)
  out=$("$BIN" --config "$CONF" --json import users "$file" "$@")
  t1=$(date +%s.%N)
  # The summary comes on stdin: with every account listed it is too long for argv.
  printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({"run": sys.argv[1], "accounts": int(sys.argv[3]), "seconds": round(float(sys.argv[2]), 3), "added": r["added"], "unchanged": r["unchanged"]}))' \
    "$label" "$(echo "$t1 - $t0" | bc)" "$N"
}
for rep in $(seq 1 "$REPS"); do
  for form in passwd csv; do
    rm -rf "$WORK/data"
    CONF=$WORK/praisani.toml
    printf 'data_dir = "%s/data"\n' "$WORK" >"$CONF"
    file=$WORK/passwd
    [ "$form" = csv ] && file=$WORK/users.csv
    run "$form first run" "$file" --create-domains
    run "$form re-run (unchanged)" "$file"
    run "$form dry run" "$file" --dry-run
  done
done
