#!/usr/bin/env python3
"""Runs the peers' load tools (smtp_load.py, pop3_load.py) against praisani,
REPS times each, and adds the server CPU that the tools cannot see.

The tools count server CPU from /proc/PID/schedstat of each process in the
server's tree. That fits Postfix and Dovecot (one thread per process) but sees
only the main thread of a multi-threaded server, so praisani's work shows up
as "other" CPU. Here the server's CPU is read from /proc/PID/stat (utime +
stime, which sum all threads) around each timed run, and the tools' own noise
rejection is left to this script: a run is flagged when CPU outside client and
server exceeds 15 %.

Prints one JSON line per run and a median summary per scenario on stderr.
"""
import argparse, json, os, statistics, subprocess, sys

HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    v = s[s.rindex(")") + 2:].split()
    return (int(v[11]) + int(v[12])) / HZ


def run_json(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def timed(pid, cmd, units):
    c0 = proc_cpu_s(pid)
    res = run_json(cmd)
    srv = proc_cpu_s(pid) - c0
    cpu = res.get("cpu", {})
    window = cpu.get("window_s") or res.get("wall_s") or res.get("accept_s")
    res["praisani_server_cpu_s"] = round(srv, 3)
    res["praisani_server_cpu_ms_per_msg"] = round(1000 * srv / units, 4)
    if window:
        res["praisani_server_cpu_pct"] = round(100 * srv / (window * NCPU), 1)
        other = cpu.get("machine_busy_pct", 0) - cpu.get("client_cpu_pct", 0) - res["praisani_server_cpu_pct"]
        res["praisani_other_cpu_pct"] = round(max(0.0, other), 1)
        res["noisy"] = other > 15
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--smtp", default="127.0.0.1:22525")
    ap.add_argument("--pop3-port", default="22110")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--what", default="smtp pop3")
    a = ap.parse_args()
    tool = lambda name: os.path.join(a.peers, name)
    users = [f"u{i}@example.test" for i in range(1, 21)]
    results = {}

    def record(label, res):
        res["label"] = label
        print(json.dumps(res), flush=True)
        results.setdefault(label.split("#")[0], []).append(res)

    pop = [tool("pop3_load.py"), "--port", a.pop3_port, "--users", "20", "--password", "pass"]
    if "smtp" in a.what:
        for r in range(1, a.reps + 1):
            cmd = [tool("smtp_load.py"), a.smtp, "-s", "20", "-m", "5000", "-l", "4096",
                   "-f", "a@example.test", "-t", "u1@example.test", "--quiet-gate", "90",
                   "--wait-pop3", f"127.0.0.1:{a.pop3_port}:u1@example.test:pass", "--label", f"smtp#{r}"]
            record(f"praisani-smtp-4096#{r}", timed(a.pid, cmd, 5000))
            run_json([tool("pop3_load.py"), "--port", a.pop3_port, "--user-list", "u1@example.test",
                      "--password", "pass", "--no-idle-probe", "--label", "drain"])
    if "pop3" in a.what:
        for size, per in ((4096, 250), (262144, 10)):
            for r in range(1, a.reps + 1):
                left = run_json(pop + ["--stat"])["total_msgs"]
                if left:
                    run_json(pop + ["--no-idle-probe", "--label", "drain"])
                run_json([tool("smtp_load.py"), a.smtp, "-s", "20", "-m", str(20 * per), "-l", str(size),
                          "-f", "a@example.test", "-t", ",".join(users), "--no-idle-probe", "--label", "fill"])
                cmd = pop + ["--wait-for", str(per), "--quiet-gate", "90", "--label", f"pop3-{size}#{r}"]
                record(f"praisani-pop3-{size}-x{per}#{r}", timed(a.pid, cmd, 20 * per))

    for label, runs in results.items():
        rate = "accept_msgs_per_s" if "smtp" in label else "msgs_per_s"
        rates = [x[rate] for x in runs]
        ms = [x["praisani_server_cpu_ms_per_msg"] for x in runs]
        noisy = sum(1 for x in runs if x.get("noisy"))
        extra = ""
        if "pop3" in label:
            extra = f"  MB/s median {statistics.median(x['MB_per_s'] for x in runs):.1f}"
        print(f"{label}: {rate} median {statistics.median(rates):.1f} "
              f"(min {min(rates):.1f} .. max {max(rates):.1f}){extra}  "
              f"server CPU ms/msg median {statistics.median(ms):.3f}  noisy runs {noisy}/{len(runs)}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
