#!/usr/bin/env python3
"""Arca HA measurements on one machine: three nodes on one PostgreSQL database.

Builds the scenario (a database of its own, a TLS certificate, three node configurations,
init + Shamir unseal of every node), then measures, printing the figures at the end:

  kill      32 clients run a mixed wrap / unwrap / create-key / create-secret load over the three
            nodes; one node is killed with SIGKILL a third of the way in. Each client retries a
            failed call on the next node. Reported: calls, retries, calls that failed even after
            retries (must be 0), and acknowledged writes (keys and secrets whose create answered
            2xx) missing afterwards (must be 0).
  disable   a key is disabled through node A while node B (which has it cached) keeps wrapping
            with it: the time from the disable's answer until node B refuses (target <= 1 s);
            repeated, median and max.
  leader    secrets expiring every 0.5 s from shortly after the kill of the jobs' leader: the time
            from the kill until another node's jobs expire them (target <= 10 s), and how many
            times each expiry ran across all nodes' logs (must be exactly once).

Only the Python standard library; `arca`, `psql`, `openssl` on PATH or given. Everything it starts
is killed on exit; the database is dropped unless KEEP=1. Exit status 0 when every target held,
1 otherwise, 2 on a setup error.
"""

import base64
import http.client
import json
import os
import random
import signal
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

ARCA = os.environ.get("ARCA_BIN", "target/release/arca")
PG = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432")
OUT = os.environ.get("OUT") or f"/tmp/arca-ha-{int(time.time())}"
PORT = int(os.environ.get("BASE_PORT", "18601"))
CLIENTS = int(os.environ.get("CLIENTS", "32"))
DURATION = float(os.environ.get("DURATION", "20"))
DISABLE_ROUNDS = int(os.environ.get("DISABLE_ROUNDS", "20"))
EXPIRING = int(os.environ.get("EXPIRING", "20"))
KEEP = os.environ.get("KEEP") == "1"

procs = {}
logs = {}


def say(msg):
    print(msg, flush=True)


class Setup(Exception):
    pass


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def psql(sql):
    run(["psql", f"{PG}/postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql])


class Node:
    def __init__(self, i):
        self.i = i
        self.name = "abc"[i]
        self.port = PORT + i
        self.dir = os.path.join(OUT, f"node-{self.name}")
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "arca.toml")
        self.log = os.path.join(self.dir, "log.jsonl")
        self.proc = None

    def write_config(self, db_url):
        with open(self.config, "w") as f:
            f.write(
                f'listen = "127.0.0.1:{self.port}"\n'
                f'data_dir = "{self.dir}"\n'
                f'[tls]\ncert = "{OUT}/cert.pem"\nkey = "{OUT}/key.pem"\n'
                f'[keystore]\nkind = "shamir"\n'
                f'[store]\nkind = "postgres"\nurl = "{db_url}"\nmax_connections = 8\n'
                f"[jobs]\ninterval_secs = 1\n"
            )

    def start(self):
        out = open(self.log, "a")
        self.proc = subprocess.Popen(
            [ARCA, "server", "--config", self.config, "--log-format", "json"],
            stdout=subprocess.DEVNULL,
            stderr=out,
            env={**os.environ, "RUST_LOG": os.environ.get("NODE_LOG", "warn,arca_server=info,arca_services=info")},
        )
        procs[self.name] = self.proc
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                status, _ = call(self, "GET", "/health")
                if status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise Setup(f"node {self.name} exited; see {self.log}")
            time.sleep(0.1)
        raise Setup(f"node {self.name} did not come up")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


TLS = None
API_KEY = None


def connection(node):
    return http.client.HTTPSConnection("127.0.0.1", node.port, context=TLS, timeout=5)


def call(node, method, path, body=None, headers=None, conn=None):
    """One HTTPS call; returns (status, parsed JSON or None). Raises OSError on transport errors."""
    own = conn is None
    c = conn or connection(node)
    h = {"Accept": "application/json"}
    if API_KEY:
        h["Authorization"] = f"Bearer {API_KEY}"
    if body is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        raw = r.read()
    except (http.client.HTTPException, ssl.SSLError) as e:
        raise OSError(str(e)) from e
    finally:
        if own:
            c.close()
    try:
        return r.status, json.loads(raw) if raw else None
    except ValueError:
        return r.status, None


def kp(instance):
    return {"Bluemix-Instance": instance}


def create_key(node, instance, name, conn=None):
    body = {
        "metadata": {"collectionType": "application/vnd.ibm.kms.key+json", "collectionTotal": 1},
        "resources": [{"type": "application/vnd.ibm.kms.key+json", "name": name, "extractable": False}],
    }
    status, out = call(node, "POST", "/api/v2/keys", body, kp(instance), conn)
    return status, (out["resources"][0]["id"] if status == 201 else None)


def wrap(node, instance, key, conn=None):
    pt = base64.b64encode(os.urandom(32)).decode()
    status, out = call(node, "POST", f"/api/v2/keys/{key}/actions/wrap", {"plaintext": pt}, kp(instance), conn)
    return status, (out.get("ciphertext") if status == 200 and out else None)


def unwrap(node, instance, key, ct, conn=None):
    status, _ = call(node, "POST", f"/api/v2/keys/{key}/actions/unwrap", {"ciphertext": ct}, kp(instance), conn)
    return status, None


def create_secret(node, sm, name, expiration=None, conn=None):
    body = {"secret_type": "arbitrary", "name": name, "payload": "ha-" + name}
    if expiration:
        body["expiration_date"] = expiration
    status, out = call(node, "POST", f"/sm/{sm}/api/v2/secrets", body, None, conn)
    return status, (out["id"] if status == 201 else None)


def setup():
    global TLS, API_KEY
    os.makedirs(OUT, exist_ok=True)
    # A CA and a server certificate it signs (the CLI's TLS stack, rustls, refuses a CA
    # certificate used as the server's own).
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run(["openssl", "req", "-x509", *ec, "-keyout", f"{OUT}/ca-key.pem", "-out", f"{OUT}/ca.pem",
         "-days", "2", "-subj", "/CN=arca-ha-ca"])
    run(["openssl", "req", *ec, "-keyout", f"{OUT}/key.pem", "-out", f"{OUT}/server.csr", "-subj", "/CN=arca-ha"])
    with open(f"{OUT}/server.ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run(["openssl", "x509", "-req", "-in", f"{OUT}/server.csr", "-CA", f"{OUT}/ca.pem", "-CAkey", f"{OUT}/ca-key.pem",
         "-CAcreateserial", "-out", f"{OUT}/cert.pem", "-days", "2", "-extfile", f"{OUT}/server.ext"])
    TLS = ssl.create_default_context(cafile=f"{OUT}/ca.pem")
    db = f"arca_ha_{int(time.time())}_{os.getpid()}"
    psql(f'CREATE DATABASE "{db}"')
    nodes = [Node(i) for i in range(3)]
    for n in nodes:
        n.write_config(f"{PG}/{db}")
    nodes[0].start()
    status, init = call(nodes[0], "POST", "/v1/sys/init", {"shares": 3, "threshold": 2})
    if status != 200:
        raise Setup(f"init: {status} {init}")
    shares = init["shares"]
    API_KEY = init["api_key"]
    for n in nodes:
        if not n.alive():
            n.start()
        for share in shares[:2]:
            status, out = call(n, "POST", "/v1/sys/unseal", {"share": share})
            if status != 200:
                raise Setup(f"unseal {n.name}: {status} {out}")
    status, kms = call(nodes[0], "POST", "/v1/instances", {"name": "ha-kms", "service": "kms"})
    status2, sm = call(nodes[0], "POST", "/v1/instances", {"name": "ha-sm", "service": "secrets-manager"})
    if status != 201 or status2 != 201:
        raise Setup(f"instances: {status} {kms} {status2} {sm}")
    return db, nodes, kms["id"], sm["id"]


class Client(threading.Thread):
    """One load client: ops over the nodes, each failed call retried on the next node."""

    def __init__(self, idx, nodes, kms, sm, key, ciphertext, stop):
        super().__init__(daemon=True)
        self.idx, self.nodes, self.kms, self.sm = idx, nodes, kms, sm
        self.key, self.ct, self.stop = key, ciphertext, stop
        self.rng = random.Random(idx)
        self.calls = self.retries = self.failed = 0
        self.keys, self.secrets = [], []
        self.conns = {}
        self.next_node = idx % len(nodes)
        self.errors = []

    def conn(self, node):
        if node.name not in self.conns:
            self.conns[node.name] = connection(node)
        return self.conns[node.name]

    def attempt(self, op, seq):
        for attempt in range(6):
            node = self.nodes[self.next_node]
            try:
                c = self.conn(node)
                if op == "wrap":
                    status, _ = wrap(node, self.kms, self.key, c)
                    ok = status == 200
                elif op == "unwrap":
                    status, _ = unwrap(node, self.kms, self.key, self.ct, c)
                    ok = status == 200
                elif op == "key":
                    status, kid = create_key(node, self.kms, f"ha-{self.idx}-{seq}-{attempt}", c)
                    ok = status == 201
                    if ok:
                        self.keys.append(kid)
                else:
                    status, sid = create_secret(node, self.sm, f"ha-{self.idx}-{seq}-{attempt}", None, c)
                    ok = status == 201
                    if ok:
                        self.secrets.append(sid)
                if ok:
                    return
                err = f"{op} on {node.name}: HTTP {status}"
            except OSError as e:
                err = f"{op} on {node.name}: {e}"
                self.conns.pop(node.name, None)
            # Next node, after a short pause.
            self.retries += 1
            self.next_node = (self.next_node + 1) % len(self.nodes)
            time.sleep(0.05 * (attempt + 1))
        self.failed += 1
        self.errors.append(err)

    def run(self):
        seq = 0
        while not self.stop.is_set():
            r = self.rng.random()
            op = "wrap" if r < 0.4 else "unwrap" if r < 0.7 else "key" if r < 0.85 else "secret"
            self.calls += 1
            seq += 1
            self.attempt(op, seq)
            self.next_node = (self.next_node + 1) % len(self.nodes)


def scenario_kill(nodes, kms, sm):
    _, key = create_key(nodes[0], kms, "ha-wrap")
    _, ct = wrap(nodes[0], kms, key)
    stop = threading.Event()
    clients = [Client(i, nodes, kms, sm, key, ct, stop) for i in range(CLIENTS)]
    t0 = time.time()
    for c in clients:
        c.start()
    time.sleep(DURATION / 3)
    victim = nodes[2]
    victim.kill()
    killed_at = time.time() - t0
    time.sleep(DURATION * 2 / 3)
    stop.set()
    for c in clients:
        c.join(30)
    elapsed = time.time() - t0
    calls = sum(c.calls for c in clients)
    retries = sum(c.retries for c in clients)
    failed = sum(c.failed for c in clients)
    keys = [k for c in clients for k in c.keys]
    secrets = [s for c in clients for s in c.secrets]
    survivor = nodes[0]
    missing_keys = sum(1 for k in keys if call(survivor, "GET", f"/api/v2/keys/{k}", None, kp(kms))[0] != 200)
    missing_secrets = sum(1 for s in secrets if call(survivor, "GET", f"/sm/{sm}/api/v2/secrets/{s}/metadata")[0] != 200)
    errors = [e for c in clients for e in c.errors][:5]
    return {
        "clients": CLIENTS, "seconds": round(elapsed, 1), "killed_node": victim.name,
        "killed_at_s": round(killed_at, 1), "calls": calls, "calls_per_s": round(calls / elapsed),
        "retries": retries, "failed_after_retries": failed,
        "acknowledged_keys": len(keys), "acknowledged_secrets": len(secrets),
        "missing_keys": missing_keys, "missing_secrets": missing_secrets, "sample_errors": errors,
    }


def scenario_disable(a, b, kms):
    _, key = create_key(a, kms, "ha-disable")
    delays = []
    ca, cb = connection(a), connection(b)
    for _ in range(DISABLE_ROUNDS):
        # B must be using the key (so it has it cached) before it is disabled through A.
        deadline = time.time() + 10
        while wrap(b, kms, key, cb)[0] != 200:
            if time.time() > deadline:
                raise Setup("node b never accepted the enabled key")
        status, _ = call(a, "POST", f"/api/v2/keys/{key}/actions/disable", None, kp(kms), ca)
        if status != 204:
            raise Setup(f"disable: {status}")
        t0 = time.perf_counter()
        while wrap(b, kms, key, cb)[0] == 200:
            if time.perf_counter() - t0 > 10:
                raise Setup("node b still wraps with the disabled key after 10 s")
        delays.append(time.perf_counter() - t0)
        call(a, "POST", f"/api/v2/keys/{key}/actions/enable", None, kp(kms), ca)
    return {
        "rounds": len(delays), "median_ms": round(statistics.median(delays) * 1000, 1),
        "max_ms": round(max(delays) * 1000, 1),
    }


def log_lines(node):
    out = []
    with open(node.log) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def message(entry):
    return entry.get("fields", {}).get("message", "")


def leader_of(nodes):
    """The node that most recently logged taking the jobs' leadership, among the living."""
    best = None
    for n in nodes:
        if not n.alive():
            continue
        for e in log_lines(n):
            if message(e) == "this node now leads the background jobs":
                t = e.get("timestamp", "")
                if best is None or t > best[0]:
                    best = (t, n)
    return best[1] if best else None


def rfc3339(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def scenario_leader(nodes, sm):
    living = [n for n in nodes if n.alive()]
    leader = leader_of(living)
    if leader is None:
        raise Setup("no node logged leading the jobs")
    other = next(n for n in living if n is not leader)
    # Secrets expiring every 0.5 s from 2 s from now; the leader is killed 1 s from now.
    now = time.time()
    ids = {}
    for i in range(EXPIRING):
        exp = now + 2 + i * 0.5
        status, sid = create_secret(other, sm, f"expiring-{i}", rfc3339(exp))
        if status != 201:
            raise Setup(f"expiring secret: {status}")
        ids[sid] = exp
    time.sleep(max(0, now + 1 - time.time()))
    leader.kill()
    killed = time.time()
    destroyed = {}
    deadline = killed + 60
    while len(destroyed) < len(ids) and time.time() < deadline:
        for sid in ids:
            if sid in destroyed:
                continue
            status, meta = call(other, "GET", f"/sm/{sm}/api/v2/secrets/{sid}/metadata")
            if status == 200 and meta.get("state") == 5:
                destroyed[sid] = time.time()
        time.sleep(0.1)
    first = min(destroyed.values()) if destroyed else None
    # Exactly once: every node's log, the dead leader's included.
    counts = {sid: 0 for sid in ids}
    for n in nodes:
        for e in log_lines(n):
            if message(e) == "secret expired: data destroyed":
                sid = e.get("fields", {}).get("secret_id") or e.get("span", {}).get("secret_id")
                if sid in counts:
                    counts[sid] += 1
    lags = [destroyed[s] - max(ids[s], killed) for s in destroyed]
    return {
        "killed_leader": leader.name, "new_leader": (leader_of([other]) or other).name,
        "resume_s": round(first - killed, 2) if first else None,
        "expired": len(destroyed), "of": len(ids),
        "max_expiry_lag_s": round(max(lags), 2) if lags else None,
        "ran_twice": sum(1 for c in counts.values() if c > 1),
        "never_ran": sum(1 for c in counts.values() if c == 0),
    }


def main():
    say(f"bench/ha: output in {OUT}")
    db = None
    try:
        db, nodes, kms, sm = setup()
        say("three nodes up, unsealed, one database")
        kill = scenario_kill(nodes, kms, sm)
        say(json.dumps({"kill": kill}))
        disable = scenario_disable(nodes[0], nodes[1], kms)
        say(json.dumps({"disable": disable}))
        leader = scenario_leader(nodes, sm)
        say(json.dumps({"leader": leader}))
    except (Setup, subprocess.CalledProcessError, OSError) as e:
        say(f"setup error: {e}")
        return 2
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        if db and not KEEP:
            try:
                psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            except subprocess.CalledProcessError:
                pass
    ok = (
        kill["failed_after_retries"] == 0 and kill["missing_keys"] == 0 and kill["missing_secrets"] == 0
        and disable["max_ms"] <= 1000
        and leader["resume_s"] is not None and leader["resume_s"] <= 10
        and leader["ran_twice"] == 0 and leader["never_ran"] == 0
    )
    summary = f"""## bench/ha ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {ARCA})

| figure | value | target |
|---|---|---|
| node killed (SIGKILL) under load | node {kill['killed_node']} at {kill['killed_at_s']} s of {kill['seconds']} s, {kill['clients']} clients | |
| calls (wrap, unwrap, create key, create secret) | {kill['calls']} ({kill['calls_per_s']}/s) | |
| retries on another node | {kill['retries']} | |
| calls failed after retries | {kill['failed_after_retries']} | 0 |
| acknowledged creates missing afterwards | {kill['missing_keys']} of {kill['acknowledged_keys']} keys, {kill['missing_secrets']} of {kill['acknowledged_secrets']} secrets | 0 |
| key disabled on A → refused on B | median {disable['median_ms']} ms, max {disable['max_ms']} ms ({disable['rounds']} rounds) | ≤ 1000 ms |
| jobs' leader killed → jobs run on another node | {leader['resume_s']} s (leader {leader['killed_leader']} → {leader['new_leader']}) | ≤ 10 s |
| expiries run twice / never | {leader['ran_twice']} / {leader['never_ran']} of {leader['of']} | 0 / 0 |

Result: {'PASS' if ok else 'FAIL'}
"""
    with open(os.path.join(OUT, "summary.md"), "w") as f:
        f.write(summary)
    say(summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
