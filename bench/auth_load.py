#!/usr/bin/env python3
"""Peak memory of praisani under simultaneous failed logins (issue 11 point 7).

Starts `praisani serve --demo` on loopback with a fresh data directory, opens N POP3
connections at once (from 250 loopback addresses, 127.0.20.x), sends USER/PASS with a wrong
password on all of them at the same moment, waits for every answer, and prints the server's
peak RSS (VmHWM from /proc/PID/status) before and after, and how long the logins took.
Throttling is set out of the way (huge lockout thresholds) so every login reaches argon2.

    python3 bench/auth_load.py [--bin target/debug/praisani] [--n 1000] [--hashes 0]
"""
import argparse, os, socket, subprocess, sys, tempfile, threading, time

ap = argparse.ArgumentParser()
ap.add_argument('--bin', default='target/debug/praisani')
ap.add_argument('--n', type=int, default=1000)
ap.add_argument('--hashes', type=int, default=None,
                help='limits.auth_max_parallel_hashes (omit for the default)')
args = ap.parse_args()


def free_port():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close(); return p


def status(pid, key):
    for line in open('/proc/%d/status' % pid):
        if line.startswith(key + ':'):
            return int(line.split()[1])  # kB


smtp, pop3 = free_port(), free_port()
d = tempfile.mkdtemp(prefix='praisani-authload-')
extra = '' if args.hashes is None else 'auth_max_parallel_hashes = %d\n' % args.hashes
cfg = os.path.join(d, 'praisani.toml')
open(cfg, 'w').write(f'''hostname = "mx.example.test"
data_dir = "{d}/data"
postmaster = "demo@example.test"
[listen]
smtp = ["127.0.0.1:{smtp}"]
submission = []
submissions = []
pop3 = ["127.0.0.1:{pop3}"]
pop3s = []
http = []
https = []
[limits]
max_connections = {args.n + 100}
max_connections_per_ip = {args.n + 100}
auth_lockout_after = 1000000
auth_account_lockout_after = 0
{extra}[pop3]
allow_plaintext = true
''')
log = open(os.path.join(d, 'server.log'), 'w')
srv = subprocess.Popen([args.bin, '--config', cfg, 'serve', '--demo'], stdout=log, stderr=log)
for _ in range(300):
    try:
        socket.create_connection(('127.0.0.1', pop3), 1).close(); break
    except OSError:
        time.sleep(0.1)
time.sleep(0.5)
idle = status(srv.pid, 'VmHWM')

ready = threading.Barrier(args.n + 1)
replies = [None] * args.n


def login(i):
    try:
        c = socket.create_connection(('127.0.0.1', pop3), 60,
                                     source_address=('127.0.20.%d' % (i % 250 + 1), 0))
        f = c.makefile('rb')
        f.readline()
        c.sendall(b'USER demo@example.test\r\n'); f.readline()
    except OSError as e:
        replies[i] = 'connect: %s' % e
        ready.wait(); return
    ready.wait()
    try:
        c.sendall(b'PASS wrong-%d\r\n' % i)
        replies[i] = f.readline().decode().strip()
    except OSError as e:
        replies[i] = 'error: %s' % e
    c.close()


ts = [threading.Thread(target=login, args=(i,)) for i in range(args.n)]
for t in ts: t.start()
ready.wait()
t0 = time.monotonic()
for t in ts: t.join()
took = time.monotonic() - t0
peak = status(srv.pid, 'VmHWM')
srv.terminate(); srv.wait()
failed = sum(1 for r in replies if r and r.startswith('-ERR'))
other = [r for r in replies if not (r and r.startswith('-ERR'))]
print('logins %d: -ERR %d, other %d %s' % (args.n, failed, len(other), other[:3]))
print('peak RSS (VmHWM): idle %.1f MiB, after %.1f MiB; %.1f s for all answers'
      % (idle / 1024, peak / 1024, took))
