"""The backup scenario of bench/ha (see ha.py): a backup of a loaded cluster restored into a
fresh database, then everything checked through a node on it.

  1. 32 clients create KEYS root keys (wrapping one random data key with each, remembered) and
     SECRETS secrets (random payloads, remembered) through the cluster's nodes.
  2. `arca operator backup` through node A while the cluster serves (timed; file size).
  3. `arca operator backup verify` offline, and `--decrypt` with the unseal shares (timed).
  4. `arca operator restore` into a new, empty database with the shares on stdin (timed).
  5. A fourth node on the restored database, unsealed with the same shares: every data key
     unwraps to what was wrapped, every secret reads its payload (counted, must be all).

Takes the ha module (its helpers and globals) as a parameter: ha.py runs as __main__.
"""

import base64
import json
import os
import subprocess
import threading
import time

WORKERS = 32


def _parallel(n, fn):
    """Runs fn(i) for i in range(n) on WORKERS threads; returns the results in order."""
    out = [None] * n
    nxt = [0]
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            out[i] = fn(i)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


class _Conns(threading.local):
    """One keep-alive connection per thread and node."""

    def get(self, h, node):
        if not hasattr(self, "by_node"):
            self.by_node = {}
        c = self.by_node.get(node.name)
        if c is None:
            c = h.connection(node)
            self.by_node[node.name] = c
        return c

    def drop(self, node):
        c = getattr(self, "by_node", {}).pop(node.name, None)
        if c is not None:
            c.close()


def _call(h, conns, node, method, path, body=None, headers=None, tries=5):
    for attempt in range(tries):
        try:
            return h.call(node, method, path, body, headers, conns.get(h, node))
        except OSError:
            conns.drop(node)
            if attempt == tries - 1:
                raise
            time.sleep(0.1)
    raise OSError("unreachable")


def scenario_backup(h, nodes, shares, keys, secrets):
    live = [n for n in nodes if n.alive()]
    a = live[0]
    conns = _Conns()
    status, kms = h.call(a, "POST", "/v1/instances", {"name": "bk-kms", "service": "kms"})
    status2, sm = h.call(a, "POST", "/v1/instances", {"name": "bk-sm", "service": "secrets-manager"})
    if status != 201 or status2 != 201:
        raise h.Setup(f"backup instances: {status} {status2}")
    kms, sm = kms["id"], sm["id"]

    def make_key(i):
        node = live[i % len(live)]
        body = {
            "metadata": {"collectionType": "application/vnd.ibm.kms.key+json", "collectionTotal": 1},
            "resources": [{"type": "application/vnd.ibm.kms.key+json", "name": f"bk-{i}", "extractable": False}],
        }
        st, out = _call(h, conns, node, "POST", "/api/v2/keys", body, h.kp(kms))
        if st != 201:
            raise h.Setup(f"create key: {st} {out}")
        key = out["resources"][0]["id"]
        pt = base64.b64encode(os.urandom(32)).decode()
        st, out = _call(h, conns, node, "POST", f"/api/v2/keys/{key}/actions/wrap", {"plaintext": pt}, h.kp(kms))
        if st != 200:
            raise h.Setup(f"wrap: {st} {out}")
        return key, pt, out["ciphertext"]

    def make_secret(i):
        node = live[i % len(live)]
        payload = base64.b64encode(os.urandom(24)).decode()
        st, out = _call(h, conns, node, "POST", f"/sm/{sm}/api/v2/secrets",
                        {"secret_type": "arbitrary", "name": f"bk-{i}", "payload": payload})
        if st != 201:
            raise h.Setup(f"create secret: {st} {out}")
        return out["id"], payload

    h.say(f"backup: creating {keys} keys (each wrapping a data key) and {secrets} secrets")
    t = time.time()
    made_keys = _parallel(keys, make_key)
    made_secrets = _parallel(secrets, make_secret)
    populate_s = time.time() - t

    env = {**os.environ, "ARCA_URL": f"https://127.0.0.1:{a.port}", "ARCA_CACERT": f"{h.OUT}/ca.pem",
           "ARCA_API_KEY": h.API_KEY}
    path = os.path.join(h.OUT, "cluster.arcabk")
    stdin_shares = "".join(s + "\n" for s in shares[:2])

    def arca(args, stdin=None):
        t0 = time.time()
        r = subprocess.run([h.ARCA, *args, "-o", "json"], input=stdin, capture_output=True, text=True,
                           env=env, timeout=600)
        if r.returncode != 0:
            raise h.Setup(f"arca {' '.join(args)}: {r.stderr.strip()}")
        return json.loads(r.stdout), time.time() - t0

    taken, backup_s = arca(["operator", "backup", "--out", path])
    size = os.path.getsize(path)
    _, verify_s = arca(["operator", "backup", "verify", "--file", path])
    opened, verify_decrypt_s = arca(["operator", "backup", "verify", "--file", path, "--decrypt"], stdin_shares)
    rows = {t["name"]: t["rows"] for t in opened["tables"]}

    db = f"arca_ha_restore_{int(time.time())}_{os.getpid()}"
    h.psql(f'CREATE DATABASE "{db}"')
    d = h.Node(3)
    d.write_config(f"{h.PG}/{db}")
    try:
        restored, restore_s = arca(["operator", "restore", "--file", path, "--config", d.config], stdin_shares)
        t = time.time()
        d.start()
        for share in shares[:2]:
            st, out = h.call(d, "POST", "/v1/sys/unseal", {"share": share})
            if st != 200:
                raise h.Setup(f"unseal restored node: {st} {out}")
        node_up_s = time.time() - t

        def check_key(i):
            key, pt, ct = made_keys[i]
            st, out = _call(h, conns, d, "POST", f"/api/v2/keys/{key}/actions/unwrap", {"ciphertext": ct}, h.kp(kms))
            return st == 200 and out and out.get("plaintext") == pt

        def check_secret(i):
            sid, payload = made_secrets[i]
            st, out = _call(h, conns, d, "GET", f"/sm/{sm}/api/v2/secrets/{sid}")
            return st == 200 and out and out.get("payload") == payload

        t = time.time()
        keys_ok = sum(1 for ok in _parallel(keys, check_key) if ok)
        secrets_ok = sum(1 for ok in _parallel(secrets, check_secret) if ok)
        check_s = time.time() - t
    finally:
        if d.alive():
            d.kill()
        if not h.KEEP:
            try:
                h.psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            except subprocess.CalledProcessError:
                pass
    return {
        "keys": keys,
        "secrets": secrets,
        "populate_s": round(populate_s, 1),
        "rows": taken["rows"],
        "kp_keys_rows": rows.get("kp_keys"),
        "sm_secrets_rows": rows.get("sm_secrets"),
        "backup_s": round(backup_s, 2),
        "bytes": size,
        "verify_s": round(verify_s, 2),
        "verify_decrypt_s": round(verify_decrypt_s, 2),
        "restore_s": round(restore_s, 2),
        "restored_rows": restored["rows"],
        "node_up_s": round(node_up_s, 2),
        "check_s": round(check_s, 1),
        "keys_unwrapped": keys_ok,
        "secrets_read": secrets_ok,
    }
