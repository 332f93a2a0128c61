#!/usr/bin/env python3
"""praisani throughput on the embedded store and on PostgreSQL with 1, 2 and 3
nodes, with the peers' load tools (smtp_load.py / Postfix smtp-source, and
pop3_load.py / poplib workers), on this machine.

  bench/nodes.py --bin target/release/praisani --peers ../shared/peers \\
                 --setups embedded,pg1,pg2,pg3 --reps 3

For each setup: a fresh data directory per node (and a fresh database for the
pg setups, made with psql at PRAISANI_PG_URL), users u1..u20@example.test
(password "pass"), then per repetition

  SMTP: 5000 messages of 4 KiB from 20 sessions, split evenly over the nodes
        (one smtp_load.py per node, started together); rate = 5000 / the
        slowest node's wall time; the messages are then drained.
  POP3: 20 × 250 messages of 4 KiB filled in, then the 20 users split over
        the nodes (one pop3_load.py per node, started together) RETR + DELE
        everything; rate = 5000 / the slowest wall time.

Rates use the tools' own timed windows (the slowest of the runs started
together). CPU: praisani's over all threads of all nodes (/proc/PID/stat) and,
for pg setups, PostgreSQL's (every postgres process), per message, over the
whole run including tool start-up. One JSON line per run on stdout, medians on
stderr. The machine has 2 cores: nodes, PostgreSQL and the load tools share
them, so more nodes cannot add capacity here; the figures show what the
shared database costs, not how far it scales on separate machines.
"""
import argparse, json, os, secrets, shutil, statistics, subprocess, sys, tempfile, time

HZ = os.sysconf("SC_CLK_TCK")
ADMIN = os.environ.get("PRAISANI_PG_URL", "postgres://postgres@127.0.0.1:5432/test")


def cpu_of(pids):
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
        except FileNotFoundError:
            continue
        v = s[s.rindex(")") + 2:].split()
        total += (int(v[11]) + int(v[12])) / HZ
    return total


def postgres_pids():
    out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def psql(sql, url=ADMIN):
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True,
                   capture_output=True)


def run_json(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def parallel(cmds):
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in cmds]
    results = []
    for p, c in zip(procs, cmds):
        out, err = p.communicate(timeout=900)
        lines = [l for l in out.splitlines() if l.startswith("{")]
        if p.returncode != 0 or not lines:
            sys.exit(f"failed: {' '.join(c)}\n{err[-2000:]}")
        results.append(json.loads(lines[-1]))
    return results


class Setup:
    def __init__(self, bin_, name, nodes, backend):
        self.bin, self.name, self.backend = bin_, name, backend
        self.work = tempfile.mkdtemp(prefix=f"praisani-nodes-{name}-")
        self.db = None
        store = ""
        if backend == "postgres":
            self.db = "praisani_bench_" + secrets.token_hex(4)
            psql(f"CREATE DATABASE {self.db}")
            base = ADMIN.rsplit("/", 1)[0]
            store = f'[store]\nbackend = "postgres"\nurl = "{base}/{self.db}"\nmax_connections = 16\n'
        self.nodes = []
        for i in range(nodes):
            smtp, pop3 = 24525 + 10 * i, 24110 + 10 * i
            conf = os.path.join(self.work, f"node{i}.toml")
            with open(conf, "w") as f:
                f.write(f'''hostname = "bench{i}.example.test"
postmaster = "bench@example.test"
data_dir = "{self.work}/data{i}"
[listen]
smtp = ["127.0.0.1:{smtp}"]
pop3 = ["127.0.0.1:{pop3}"]
submission = []
submissions = []
pop3s = []
http = []
https = []
[limits]
max_connections_per_ip = 5000
max_connections = 5000
[trust]
enabled = false
{store}''')
            self.nodes.append({"conf": conf, "smtp": smtp, "pop3": pop3})
        c0 = self.nodes[0]["conf"]
        self.cli(c0, "domain", "add", "example.test")
        for u in [f"u{i}@example.test" for i in range(1, 21)] + ["a@example.test"]:
            subprocess.run([self.bin, "--config", c0, "user", "add", u, "--password-stdin"],
                           input="pass\n", text=True, check=True, capture_output=True)
        for n in self.nodes:
            log = open(os.path.join(self.work, f"{n['smtp']}.log"), "w")
            n["proc"] = subprocess.Popen([self.bin, "--config", n["conf"], "serve"],
                                         stdout=log, stderr=log,
                                         env={**os.environ, "PRAISANI_LOG": "warn"})
        for n in self.nodes:
            for _ in range(200):
                try:
                    import socket
                    socket.create_connection(("127.0.0.1", n["pop3"]), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)

    def cli(self, conf, *args):
        subprocess.run([self.bin, "--config", conf, *args], check=True, capture_output=True)

    def pids(self):
        return [n["proc"].pid for n in self.nodes]

    def close(self):
        for n in self.nodes:
            n["proc"].terminate()
        for n in self.nodes:
            n["proc"].wait(timeout=30)
        if self.db:
            psql(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
        shutil.rmtree(self.work, ignore_errors=True)


def measure(setup, cmds, units, key):
    pg = postgres_pids() if setup.backend == "postgres" else []
    c0, p0 = cpu_of(setup.pids()), cpu_of(pg)
    res = parallel(cmds)
    c1, p1 = cpu_of(setup.pids()), cpu_of(pg)
    # The tools time their own window (from the load's start to the last
    # reply); the runs were started together, so the slowest one is the
    # window of the whole.
    wall = max(r[key] for r in res)
    return {
        "wall_s": round(wall, 3),
        "msgs_per_s": round(units / wall, 1),
        "praisani_cpu_ms_per_msg": round(1000 * (c1 - c0) / units, 4),
        "postgres_cpu_ms_per_msg": round(1000 * (p1 - p0) / units, 4),
        "tool_results": res,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--peers", required=True)
    ap.add_argument("--setups", default="embedded,pg1,pg2,pg3")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    tool = lambda name: os.path.join(a.peers, name)
    users = [f"u{i}@example.test" for i in range(1, 21)]
    summary = {}
    for name in a.setups.split(","):
        backend = "embedded" if name == "embedded" else "postgres"
        n = 1 if name == "embedded" else int(name[2:])
        s = Setup(a.bin, name, n, backend)
        try:
            for r in range(1, a.reps + 1):
                # SMTP: the 20 sessions and 5000 messages split over the nodes.
                cmds = []
                for i, node in enumerate(s.nodes):
                    part = users[i::n]
                    cmds.append([tool("smtp_load.py"), f"127.0.0.1:{node['smtp']}",
                                 "-s", str(20 // n), "-m", str(5000 // n), "-l", "4096",
                                 "-f", "a@example.test", "-t", ",".join(part), "--no-idle-probe"])
                res = measure(s, cmds, (5000 // n) * n, "accept_s")
                res["label"] = f"{name}-smtp-4096#{r}"
                print(json.dumps(res), flush=True)
                summary.setdefault(f"{name} smtp", []).append(res)
                pop = lambda node, part, extra: [tool("pop3_load.py"), "--port", str(node["pop3"]),
                                                 "--user-list", ",".join(part), "--password", "pass",
                                                 "--no-idle-probe", *extra]
                run_json(pop(s.nodes[0], users, []))  # drain
                # POP3: 20 × 250 messages, the users split over the nodes.
                run_json([tool("smtp_load.py"), f"127.0.0.1:{s.nodes[0]['smtp']}", "-s", "20",
                          "-m", "5000", "-l", "4096", "-f", "a@example.test", "-t", ",".join(users),
                          "--no-idle-probe"])
                run_json(pop(s.nodes[0], users, ["--stat", "--wait-for", "250"]))
                cmds = [pop(node, users[i::n], []) for i, node in enumerate(s.nodes)]
                res = measure(s, cmds, 5000, "wall_s")
                res["label"] = f"{name}-pop3-4096#{r}"
                print(json.dumps(res), flush=True)
                summary.setdefault(f"{name} pop3", []).append(res)
        finally:
            s.close()
    for label, runs in summary.items():
        rates = [x["msgs_per_s"] for x in runs]
        print(f"{label}: msg/s median {statistics.median(rates):.0f} "
              f"(min {min(rates):.0f} .. max {max(rates):.0f})  praisani CPU ms/msg "
              f"{statistics.median(x['praisani_cpu_ms_per_msg'] for x in runs):.3f}  "
              f"PostgreSQL CPU ms/msg {statistics.median(x['postgres_cpu_ms_per_msg'] for x in runs):.3f}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
