//! Brute-force protection: failed logins are slow, a few of them lock the
//! client address for a while (even the right password is refused then) —
//! the addresses that attack an account, not the account — the lock ends by
//! itself, and an unknown user cannot be told from a wrong password.
//!
//! The per-IP and per-account records are told apart by connecting from
//! other loopback addresses (127.0.0.2, …), which Linux routes to lo.

mod common;

use common::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

/// Lockout after 3 failures, for 2 s; failures take at least 100 ms.
fn lockout_server() -> Server {
    let s = Server::start_extra(
        ServerOpts {
            demo: true,
            limits: "auth_lockout_after = 3\nauth_lockout = \"2s\"\n".into(),
        },
        ExtraConfig::tls(),
    );
    s.add_user("alice@example.test", "alice-pass", &[]);
    s
}

#[test]
fn smtp_auth_lockout_refuses_the_right_password_until_it_expires() {
    require_tool!("python3");
    let s = lockout_server();
    let script = r#"
sub = int(sys.argv[1])
def auth(user, pw, source=None, mech='PLAIN'):
    c = Conn(sub, source=source); c.reply(); c.expect('EHLO client.test', 250)
    t = time.monotonic()
    if mech == 'PLAIN':
        r = c.cmd('AUTH PLAIN ' + b64('\0' + user + '\0' + pw))
    else:
        # SCRAM: the lock is checked as soon as the user name is known.
        r = c.cmd('AUTH SCRAM-SHA-256 ' + b64('n,,n=' + user + ',r=abcdefghijklmnop'))
    dt = time.monotonic() - t
    ok = None
    if r[0] == 235:
        r2 = c.cmd('MAIL FROM:<' + user + '>'); ok = r2[0]
    c.close()
    return r[0], r[1][0], dt, ok
# Three wrong passwords (auth_lockout_after = 3): 535 5.7.8 each, each
# slower than the last (100 ms floor, +1 s per earlier failure).
times = []
for i in range(3):
    code, line, dt = auth('demo@example.test', 'wrong-%d' % i)[:3]
    assert code == 535 and '5.7.8' in line, ('failure %d of 3 (earlier: %r)' % (i + 1, times), code, line)
    times.append(dt)
locked_at = time.monotonic()
assert times[0] >= 0.1, ('first failure faster than auth_failure_delay', times)
assert times[1] >= 1.0 and times[2] >= 2.0, ('failures do not slow down', times)
assert times[0] < 0.9 and times[1] < 1.9 and times[2] < 2.9, ('more delay than 1 s per earlier failure', times)
# Locked: the right password gets 454 4.7.0 from this address, for any
# account.
for user, pw, source, mech in [('demo@example.test', 'demo-pass', None, 'PLAIN'),
                               ('demo@example.test', 'demo-pass', None, 'SCRAM'),
                               ('alice@example.test', 'alice-pass', None, 'PLAIN')]:
    code, line, dt, _ = auth(user, pw, source, mech)
    assert code == 454 and '4.7.0' in line, ('locked', user, source, mech, code, line)
# The attacked account is not locked (issue 11 point 6: the attacker's
# address is), nor is another account from another address.
code, line, dt, mail = auth('DEMO@example.test', 'demo-pass', '127.0.0.3')
assert code == 235 and mail == 250, ('demo from 127.0.0.3', code, line, mail)
code, line, dt, mail = auth('alice@example.test', 'alice-pass', '127.0.0.4')
assert code == 235 and mail == 250, ('alice from 127.0.0.4', code, line, mail)
assert time.monotonic() - locked_at < 2.0, 'checks took longer than the lockout; raise auth_lockout'
# After the lockout the right password works (and clears the records) ...
time.sleep(max(0, locked_at + 2.3 - time.monotonic()))
code, line, dt, mail = auth('demo@example.test', 'demo-pass')
assert code == 235 and mail == 250, ('after the lockout', code, line)
# ... so the next wrong password is back to the floor delay, not +3 s.
code, line, dt, _ = auth('demo@example.test', 'wrong-again')
assert code == 535, (code, line)
assert 0.1 <= dt < 1.0, ('records not cleared by the successful login', dt)
print('OK')
"#;
    let out = python_tls(script, &[&s.submission_port.to_string()], T);
    assert_py_ok(&out, "SMTP lockout");
}

#[test]
fn pop3_lockout_is_login_delay_even_for_the_right_password() {
    require_tool!("python3");
    let s = lockout_server();
    let script = r#"
pop3 = int(sys.argv[1])
def login(user, pw, source=None, how='USER'):
    c = Conn(pop3, source=source); c.line()
    t = time.monotonic()
    if how == 'USER':
        r = c.pcmd('USER ' + user)
        assert r.startswith('+OK'), r
        r = c.pcmd('PASS ' + pw)
    else:
        r = c.pcmd('AUTH PLAIN ' + b64('\0' + user + '\0' + pw))
    dt = time.monotonic() - t
    if r.startswith('+OK'):
        c.pok('STAT')
        c.pok('QUIT')
    c.close()
    return r, dt
times = []
for i in range(3):
    r, dt = login('demo@example.test', 'wrong-%d' % i)
    assert r.startswith('-ERR') and '[LOGIN-DELAY]' not in r, (i, r)
    times.append(dt)
locked_at = time.monotonic()
assert times[0] >= 0.1 and times[1] >= 1.0 and times[2] >= 2.0, ('failure delays', times)
for user, pw, source, how in [('demo@example.test', 'demo-pass', None, 'USER'),
                              ('demo@example.test', 'demo-pass', None, 'AUTH'),
                              ('alice@example.test', 'alice-pass', None, 'USER')]:
    r, dt = login(user, pw, source, how)
    assert r.startswith('-ERR [LOGIN-DELAY]'), ('locked', user, source, how, r)
# The address is locked, not the account.
r, dt = login('demo@example.test', 'demo-pass', '127.0.0.2')
assert r.startswith('+OK'), ('demo from 127.0.0.2', r)
r, dt = login('alice@example.test', 'alice-pass', '127.0.0.4')
assert r.startswith('+OK'), ('alice from 127.0.0.4', r)
assert time.monotonic() - locked_at < 2.0, 'checks took longer than the lockout'
time.sleep(max(0, locked_at + 2.3 - time.monotonic()))
r, dt = login('demo@example.test', 'demo-pass')
assert r.startswith('+OK'), ('after the lockout', r)
r, dt = login('demo@example.test', 'wrong-again')
assert r.startswith('-ERR') and 0.1 <= dt < 1.0, ('records not cleared', r, dt)
print('OK')
"#;
    let out = python_tls(script, &[&s.pop3_port.to_string()], T);
    assert_py_ok(&out, "POP3 lockout");
}

#[test]
fn unknown_user_and_wrong_password_get_identical_replies() {
    require_tool!("python3");
    let s = Server::start_extra(ServerOpts::default(), ExtraConfig::tls());
    s.add_user("alice@example.test", "alice-pass", &[]);
    s.add_user("bob@example.test", "bob-pass", &[]);
    // Every attempt from its own address and about its own account, so no
    // earlier failure adds delay and the timings compare.
    let script = r#"
sub, pop3 = int(sys.argv[1]), int(sys.argv[2])
def smtp_plain(user, pw, source):
    c = Conn(sub, source=source); c.reply(); c.expect('EHLO client.test', 250)
    t = time.monotonic()
    r = c.cmd('AUTH PLAIN ' + b64('\0' + user + '\0' + pw))
    dt = time.monotonic() - t
    after = c.cmd('MAIL FROM:<' + user + '>')
    c.close()
    return r, dt, after[0]
def smtp_login(user, pw, source):
    c = Conn(sub, source=source); c.reply(); c.expect('EHLO client.test', 250)
    seq = [c.cmd('AUTH LOGIN'), c.cmd(b64(user))]
    t = time.monotonic()
    seq.append(c.cmd(b64(pw)))
    dt = time.monotonic() - t
    c.close()
    return seq, dt
def pop(user, pw, source):
    c = Conn(pop3, source=source); c.line()
    u = c.pcmd('USER ' + user)
    t = time.monotonic()
    p = c.pcmd('PASS ' + pw)
    dt = time.monotonic() - t
    st = c.pcmd('STAT')
    c.close()
    return u, p, dt, st
a = smtp_plain('demo@example.test', 'wrong', '127.0.0.11')
b = smtp_plain('nobody@example.test', 'wrong', '127.0.0.12')
c_ = smtp_plain('nobody@remote.test', 'wrong', '127.0.0.13')
assert a[0] == b[0] == c_[0], ('SMTP PLAIN replies differ', a[0], b[0], c_[0])
assert a[0][0] == 535, a
assert a[2] == b[2] == 530, (a, b)
for r in (a, b, c_):
    assert 0.1 <= r[1] < 1.0, ('failure timing', a[1], b[1], c_[1])
a = smtp_login('alice@example.test', 'wrong', '127.0.0.14')
b = smtp_login('nobody2@example.test', 'wrong', '127.0.0.15')
assert a[0] == b[0], ('SMTP LOGIN exchanges differ', a[0], b[0])
assert a[0][2][0] == 535, a
assert 0.1 <= a[1] < 1.0 and 0.1 <= b[1] < 1.0, (a[1], b[1])
a = pop('bob@example.test', 'wrong', '127.0.0.16')
b = pop('nobody3@example.test', 'wrong', '127.0.0.17')
assert a[0] == b[0] and a[0].startswith('+OK'), ('USER replies differ', a[0], b[0])
assert a[1] == b[1] and a[1].startswith('-ERR'), ('PASS replies differ', a[1], b[1])
assert a[3].startswith('-ERR') and b[3].startswith('-ERR'), (a[3], b[3])
assert 0.1 <= a[2] < 1.0 and 0.1 <= b[2] < 1.0, (a[2], b[2])
print('OK')
"#;
    let out = python_tls(
        script,
        &[&s.submission_port.to_string(), &s.pop3_port.to_string()],
        T,
    );
    assert_py_ok(&out, "unknown user vs wrong password");
}

/// One failed AUTH is one failure: the next attempt from the same address
/// waits 1 s more, as after one failed USER/PASS (not 2 s).
#[test]
fn a_failed_sasl_exchange_counts_once() {
    require_tool!("python3");
    let s = Server::start_extra(ServerOpts::default(), ExtraConfig::tls());
    let script = r#"
sub, pop3 = int(sys.argv[1]), int(sys.argv[2])
def smtp(user, source, mech):
    c = Conn(sub, source=source); c.reply(); c.expect('EHLO client.test', 250)
    t = time.monotonic()
    if mech == 'PLAIN':
        r = c.cmd('AUTH PLAIN ' + b64('\0' + user + '\0wrong'))
    else:
        c.expect('AUTH LOGIN', 334); c.expect(b64(user), 334); r = c.cmd(b64('wrong'))
    dt = time.monotonic() - t
    c.close()
    assert r[0] == 535, r
    return dt
def pop(user, source, how):
    c = Conn(pop3, source=source); c.line()
    t = time.monotonic()
    if how == 'USER':
        c.pok('USER ' + user); r = c.pcmd('PASS wrong')
    else:
        r = c.pcmd('AUTH PLAIN ' + b64('\0' + user + '\0wrong'))
    dt = time.monotonic() - t
    c.close()
    assert r.startswith('-ERR'), r
    return dt
results = {}
# Two failures per case, for two different unknown accounts from one fresh
# address each: the second waits for exactly one earlier failure.
for name, f, arg, src in [('SMTP AUTH PLAIN', smtp, 'PLAIN', '127.0.0.41'),
                          ('SMTP AUTH LOGIN', smtp, 'LOGIN', '127.0.0.42'),
                          ('POP3 USER/PASS', pop, 'USER', '127.0.0.43'),
                          ('POP3 AUTH PLAIN', pop, 'AUTH', '127.0.0.44')]:
    f('x1-' + src + '@example.test', src, arg)
    results[name] = round(f('x2-' + src + '@example.test', src, arg), 2)
bad = {k: v for k, v in results.items() if not (1.0 <= v < 1.9)}
assert not bad, ('second failure should take 1 s + floor', results)
print('OK')
"#;
    let out = python_tls(
        script,
        &[&s.submission_port.to_string(), &s.pop3_port.to_string()],
        T,
    );
    assert_py_ok(&out, "failure counting");
}

/// SCRAM tells nothing about whether an account exists: the server-first
/// message for a missing user has the same salt on every attempt and for
/// every spelling of the name (like a real account's), with the same
/// iteration count and salt length. Checked with the scramp library over
/// submission (after STARTTLS) and POP3 (after STLS).
#[test]
fn scram_server_first_does_not_reveal_missing_users() {
    require_tool!("python3");
    if !have_python_module("scramp", "pip install scramp", module_path!()) {
        return;
    }
    let s = Server::start_extra(ServerOpts::default(), ExtraConfig::tls());
    let script = r#"
from scramp import ScramClient
sub, pop3 = int(sys.argv[1]), int(sys.argv[2])
def attrs(msg):
    return dict(a.split('=', 1) for a in msg.split(','))
def smtp_first(user, source):
    c = Conn(sub, source=source); c.reply(); c.expect('EHLO client.test', 250)
    c.expect('STARTTLS', 220); c.upgrade(); c.expect('EHLO client.test', 250)
    cl = ScramClient(['SCRAM-SHA-256'], user, 'whatever')
    r = c.cmd('AUTH SCRAM-SHA-256 ' + b64(cl.get_client_first()))
    assert r[0] == 334, r
    first = base64.b64decode(r[1][0][4:]).decode()
    cl.set_server_first(first)
    c.send(b64(cl.get_client_final()) + '\r\n'); fin = c.reply()
    c.close()
    return attrs(first), fin[0]
def pop_first(user, source):
    c = Conn(pop3, source=source); c.line(); c.pok('STLS'); c.upgrade()
    cl = ScramClient(['SCRAM-SHA-256'], user, 'whatever')
    r = c.pcmd('AUTH SCRAM-SHA-256 ' + b64(cl.get_client_first()))
    assert r.startswith('+ '), r
    first = base64.b64decode(r[2:]).decode()
    c.send('*\r\n'); c.line()
    c.close()
    return attrs(first), None
n = [0]
def src():
    # A fresh address per attempt, so the throttle stays out of the way.
    n[0] += 1
    return '127.0.2.%d' % n[0]
for name, first in [('SMTP', smtp_first), ('POP3', pop_first)]:
    real = [first(u, src())[0] for u in ('demo@example.test', 'DEMO@Example.TEST')]
    assert real[0]['s'] == real[1]['s'], (name, 'real account salt differs per spelling', real)
    for missing in (['nobody@example.test', 'nobody@example.test', 'NoBody@EXAMPLE.test'],
                    ['ghost@remote.test', 'Ghost@Remote.Test', 'ghost@remote.test']):
        got = [first(u, src()) for u in missing]
        salts = {g[0]['s'] for g in got}
        assert len(salts) == 1, (name, 'missing user salt changes', missing, got)
        for g in got:
            assert g[0]['i'] == real[0]['i'], (name, 'iteration count differs', g, real[0])
            assert len(base64.b64decode(g[0]['s'])) == len(base64.b64decode(real[0]['s'])), (name, g, real[0])
            assert g[0]['s'] != real[0]['s'], (name, 'fake salt equals a real one', g)
            if g[1] is not None:
                assert g[1] == 535, (name, g)
print('OK')
"#;
    let out = python_tls(
        script,
        &[&s.submission_port.to_string(), &s.pop3_port.to_string()],
        T,
    );
    assert_py_ok(&out, "SCRAM enumeration");
}

/// A SCRAM exchange cancelled with `*` after the server-first message (the
/// client has learnt the salt) counts as a failed login, in SMTP and POP3:
/// `auth_lockout_after` cancellations lock the address out.
#[test]
fn a_cancelled_scram_exchange_counts_as_a_failure() {
    require_tool!("python3");
    if !have_python_module("scramp", "pip install scramp", module_path!()) {
        return;
    }
    let s = lockout_server();
    let script = r#"
from scramp import ScramClient
sub, pop3 = int(sys.argv[1]), int(sys.argv[2])
def smtp_cancel(source):
    c = Conn(sub, source=source); c.reply(); c.expect('EHLO client.test', 250)
    c.expect('STARTTLS', 220); c.upgrade(); c.expect('EHLO client.test', 250)
    cl = ScramClient(['SCRAM-SHA-256'], 'demo@example.test', 'x')
    r = c.cmd('AUTH SCRAM-SHA-256 ' + b64(cl.get_client_first()))
    if r[0] != 334:
        c.close(); return r[0]
    r = c.cmd('*'); c.close()
    assert r[0] == 501, r
    return 334
def smtp_plain(source):
    c = Conn(sub, source=source); c.reply(); c.expect('EHLO client.test', 250)
    c.expect('STARTTLS', 220); c.upgrade(); c.expect('EHLO client.test', 250)
    r = c.cmd('AUTH PLAIN ' + b64('\0alice@example.test\0alice-pass')); c.close()
    return r[0]
def pop_cancel(source):
    c = Conn(pop3, source=source); c.line(); c.pok('STLS'); c.upgrade()
    cl = ScramClient(['SCRAM-SHA-256'], 'alice@example.test', 'x')
    r = c.pcmd('AUTH SCRAM-SHA-256 ' + b64(cl.get_client_first()))
    if not r.startswith('+ '):
        c.close(); return r
    r = c.pcmd('*'); c.close()
    assert r.startswith('-ERR'), r
    return '+'
def pop_plain(source):
    c = Conn(pop3, source=source); c.line(); c.pok('STLS'); c.upgrade()
    r = c.pcmd('AUTH PLAIN ' + b64('\0alice@example.test\0alice-pass')); c.close()
    return r
# auth_lockout_after = 3: three cancelled exchanges, then the address is
# locked even for another account's right password.
for i in range(3):
    assert smtp_cancel('127.0.3.1') == 334, i
assert smtp_plain('127.0.3.1') == 454, 'SMTP: cancelled SCRAM exchanges not counted'
for i in range(3):
    assert pop_cancel('127.0.3.2') == '+', i
r = pop_plain('127.0.3.2')
assert r.startswith('-ERR [LOGIN-DELAY]'), ('POP3: cancelled SCRAM exchanges not counted', r)
print('OK')
"#;
    let out = python_tls(
        script,
        &[&s.submission_port.to_string(), &s.pop3_port.to_string()],
        T,
    );
    assert_py_ok(&out, "cancelled SCRAM counted");
}

/// Issue 11 point 6: simultaneous wrong passwords from one address are
/// counted before any is checked, so no more than `auth_lockout_after` of
/// them reach the password check; the others are refused as locked at once.
#[test]
fn simultaneous_wrong_passwords_from_one_address_are_throttled_before_checking() {
    require_tool!("python3");
    let s = lockout_server();
    let script = r#"
import threading
sub, pop3 = int(sys.argv[1]), int(sys.argv[2])
def smtp(i, out):
    c = Conn(sub, source='127.0.5.1'); c.reply(); c.expect('EHLO client.test', 250)
    out[i] = c.cmd('AUTH PLAIN ' + b64('\0demo@example.test\0wrong-%d' % i))[0]
    c.close()
def pop(i, out):
    c = Conn(pop3, source='127.0.5.2'); c.line()
    c.pok('USER alice@example.test')
    out[i] = c.pcmd('PASS wrong-%d' % i)
    c.close()
for name, f, checked in [('SMTP', smtp, lambda r: r == 535), ('POP3', pop, lambda r: '[LOGIN-DELAY]' not in r)]:
    out = [None] * 12
    ts = [threading.Thread(target=f, args=(i, out)) for i in range(12)]
    for t in ts: t.start()
    for t in ts: t.join()
    n = sum(1 for r in out if checked(r))
    # auth_lockout_after = 3: three checked (535 / -ERR), nine refused unchecked.
    assert n <= 3, (name, 'checked %d of 12 simultaneous wrong passwords' % n, out)
print('OK')
"#;
    let out = python_tls(
        script,
        &[&s.submission_port.to_string(), &s.pop3_port.to_string()],
        T,
    );
    assert_py_ok(&out, "simultaneous wrong passwords");
}

/// Issue 11 point 6: a successful login to the attacker's own account clears
/// that account's record only, not the address's: failures against another
/// account between own logins still lock the address.
#[test]
fn a_login_to_ones_own_account_does_not_clear_the_address() {
    require_tool!("python3");
    let s = lockout_server();
    let script = r#"
sub = int(sys.argv[1])
def auth(user, pw, source='127.0.5.3'):
    c = Conn(sub, source=source); c.reply(); c.expect('EHLO client.test', 250)
    r = c.cmd('AUTH PLAIN ' + b64('\0' + user + '\0' + pw))[0]
    c.close()
    return r
got = []
for i in range(2):
    got.append(auth('demo@example.test', 'guess-%d' % i))
    got.append(auth('alice@example.test', 'alice-pass'))
got.append(auth('demo@example.test', 'guess-2'))
assert got == [535, 235, 535, 235, 535], got
# Three failures from this address: locked, even for its own account.
r = auth('alice@example.test', 'alice-pass')
assert r == 454, ('own logins cleared the address record', got, r)
print('OK')
"#;
    let out = python_tls(script, &[&s.submission_port.to_string()], T);
    assert_py_ok(&out, "own login clears the address");
}

/// Issue 11 point 6: wrong passwords for one user from several addresses lock
/// those addresses, not the user: the real user still gets in from another
/// address, each time the attack is repeated; only far more failures
/// (`auth_account_lockout_after`) lock the account itself.
#[test]
fn failures_from_several_addresses_lock_the_addresses_not_the_account() {
    require_tool!("python3");
    let s = Server::start_extra(
        ServerOpts {
            demo: true,
            limits: "auth_lockout_after = 3\nauth_lockout = \"1m\"\n\
                     auth_account_lockout_after = 9\n"
                .into(),
        },
        ExtraConfig::tls(),
    );
    s.add_user("alice@example.test", "alice-pass", &[]);
    let script = r#"
sub = int(sys.argv[1])
def auth(user, pw, source):
    c = Conn(sub, source=source); c.reply(); c.expect('EHLO client.test', 250)
    r = c.cmd('AUTH PLAIN ' + b64('\0' + user + '\0' + pw))[0]
    c.close()
    return r
n = [0]
def fresh():
    n[0] += 1
    return '127.0.7.%d' % n[0]
for round in range(2):
    attackers = [fresh() for _ in range(3)]
    for a in attackers:
        assert auth('alice@example.test', 'guess', a) == 535, (round, a)
    # The attacking addresses are locked, for any account ...
    for a in attackers:
        r = auth('demo@example.test', 'demo-pass', a)
        assert r == 454, ('attacking address not locked', round, a, r)
    # ... the user is not.
    r = auth('alice@example.test', 'alice-pass', fresh())
    assert r == 235, ('account locked by failures from several addresses', round, r)
# The last resort: auth_account_lockout_after = 9 failures in the window
# lock the account from everywhere (the logins above cleared its record).
for i in range(9):
    assert auth('alice@example.test', 'guess', fresh()) == 535, i
r = auth('alice@example.test', 'alice-pass', fresh())
assert r == 454, ('account-wide lock', r)
r = auth('demo@example.test', 'demo-pass', fresh())
assert r == 235, ('another account', r)
print('OK')
"#;
    let out = python_tls(script, &[&s.submission_port.to_string()], T);
    assert_py_ok(&out, "several addresses");
}
