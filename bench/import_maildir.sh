#!/usr/bin/env bash
# bench/import_maildir.sh — `praisani import maildir` into the embedded store:
# messages per second and peak RSS, for a generated Dovecot-style Maildir of
# N small messages (~2 KiB) plus L large ones (1 MiB), with a dovecot-uidlist.
#
#   N=20000 L=20 bench/import_maildir.sh      # BIN=… to skip the release build
#
# Prints one line per run: messages, octets, seconds, msg/s, peak RSS (KiB).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-20000}
L=${L:-20}
if [ -z "${BIN:-}" ]; then
  cargo build --release --manifest-path "$ROOT/Cargo.toml" -p praisani >&2
  BIN=$ROOT/target/release/praisani
fi
WORK=$(mktemp -d /tmp/praisani-import-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
python3 - "$WORK/Maildir" "$N" "$L" <<'PY'
import os, sys
root, n, large = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(root, d))
t0 = 1733000000
lines = ["3 V%d N%d" % (t0, n + large + 1)]
body = "".join("line %d of the message body, some text to make it look like mail\n" % i
               for i in range(30))
big = "x" * 76 + "\n"
for uid in range(1, n + large + 1):
    name = "%d.M%dP%d.bench,S=0" % (t0 + uid, uid, 4242)
    seen = uid % 2 == 0
    path = os.path.join(root, "cur" if seen else "new", name + (":2,S" if seen else ""))
    with open(path, "w") as f:
        f.write("From: sender%d@example.net\nTo: u1@example.test\nSubject: message %d\n"
                "Message-ID: <%d@bench.example.net>\nDate: Thu, 04 Dec 2026 19:00:00 +0000\n\n" % (uid, uid, uid))
        f.write(big * (1024 * 1024 // 77) if uid > n else body)
    lines.append("%d :%s" % (uid, name))
with open(os.path.join(root, "dovecot-uidlist"), "w") as f:
    f.write("\n".join(lines) + "\n")
PY
CONF=$WORK/praisani.toml
printf 'hostname = "bench.example.test"\npostmaster = "bench@example.test"\ndata_dir = "%s"\n' "$WORK/data" >"$CONF"
"$BIN" --config "$CONF" domain add example.test >/dev/null
echo pass | "$BIN" --config "$CONF" user add u1@example.test --password-stdin >/dev/null
OCTETS=$(du -sb "$WORK/Maildir" | cut -f1)
sync
START=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" --config "$CONF" --json import maildir "$WORK/Maildir" --to u1@example.test >"$WORK/out.json"
END=$(date +%s.%N)
python3 - "$WORK/out.json" "$START" "$END" "$(cat "$WORK/rss")" "$OCTETS" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
secs = float(sys.argv[3]) - float(sys.argv[2])
n = out["imported"]
print("messages=%d octets=%s seconds=%.2f msg_per_s=%.0f peak_rss_kib=%s" % (
    n, sys.argv[5], secs, n / secs, sys.argv[4]))
PY
