#!/usr/bin/env python3
"""Markdown summary of bench/secrets/run.sh results: python3 summarize.py results.jsonl [FLOOR_US]

Per (operation, connections): Arca and OpenBao (in-memory dev storage, and raft storage when measured)
req/s, p50, p99 and server CPU µs/req, the ratios Arca/OpenBao, and Arca's CPU per request against
the floor (FLOOR_US, default 9.2 µs: the HTTPS stack with no application logic, floor-baseline.md).
With several rounds each cell is the median over the clean rounds; * marks a cell whose every
round was spoiled by outside load. Errors: non-2xx + socket errors summed over the rounds.
"""
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
FLOOR_US = float(sys.argv[2]) if len(sys.argv) > 2 else 9.2
wrk = [r for r in rows if r["kind"] == "wrk"]
ops = [o for o in ("read", "create", "version", "version-spread") if any(r["op"] == o for r in wrk)]
OPNAME = {
    "read": "read (Arca GET /secrets/{id} / OpenBao kv-v2 GET)",
    "create": "create (unique name per request)",
    "version": "new version of ONE secret from every connection (Arca POST /secrets/{id}/versions / "
               "OpenBao kv-v2 write to the same path): the contended case",
    "version-spread": "new versions spread over a pool of secrets / paths, no two requests in flight on "
                      "the same one: the uncontended cost",
}


def pick(server, op, conns):
    rs = [r for r in wrk if (r["server"], r["op"], r["conns"]) == (server, op, conns)]
    clean = [r for r in rs if not r["spoiled"]]
    return (clean, False) if clean else (rs, bool(rs))


def med(rs, key):
    vals = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def f(v, fmt):
    return "-" if v is None else format(v, fmt)


def cell(server, op, conns):
    rs, spoiled = pick(server, op, conns)
    if not rs:
        return None
    return {"rps": med(rs, "rps"), "p50": med(rs, "lat_p50_ms"), "p99": med(rs, "lat_p99_ms"),
            "cpu": med(rs, "srv_cpu_us_per_req"), "spoiled": spoiled,
            "errs": sum(r["non2xx"] + r["sock_errors"] for r in wrk
                        if (r["server"], r["op"], r["conns"]) == (server, op, conns)),
            "fail": any(r.get("errors_fail") for r in wrk
                        if (r["server"], r["op"], r["conns"]) == (server, op, conns))}


raft = any(r["server"] == "openbao-raft" for r in wrk)
print("## Arca vs OpenBao kv-v2 (HTTPS, keep-alive)\n")
hdr = ["op", "conns", "Arca req/s", "Arca p50 / p99 ms", "Arca CPU µs/req", "Arca CPU ÷ floor",
       "OpenBao req/s", "OpenBao p50 / p99 ms", "OpenBao CPU µs/req", "Arca/OpenBao req/s",
       "Arca/OpenBao CPU"]
if raft:
    hdr += ["OpenBao-raft req/s", "OpenBao-raft p50 / p99 ms", "OpenBao-raft CPU µs/req",
            "Arca/OpenBao-raft req/s"]
hdr += ["errors (Arca / OpenBao" + (" / raft)" if raft else ")")]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for op in ops:
    for c in sorted({r["conns"] for r in wrk if r["op"] == op}):
        a, b, rf = cell("arca", op, c), cell("openbao", op, c), cell("openbao-raft", op, c)

        def trio(x):
            if not x:
                return ["-", "-", "-"]
            return [f(x["rps"], ",.0f") + ("*" if x["spoiled"] else ""),
                    f(x["p50"], ".2f") + " / " + f(x["p99"], ".2f"), f(x["cpu"], ".1f")]

        row = [op, str(c)] + trio(a)[:3]
        row.append(f(a["cpu"] / FLOOR_US if a and a["cpu"] else None, ".1f") + ("×" if a and a["cpu"] else ""))
        row += trio(b)
        rr = a["rps"] / b["rps"] if a and b and b["rps"] else None
        cr = a["cpu"] / b["cpu"] if a and b and a["cpu"] and b["cpu"] else None
        row += [f(rr, ".2f") + ("×" if rr else ""), f(cr, ".2f") + ("×" if cr else "")]
        if raft:
            row += trio(rf)
            r2 = a["rps"] / rf["rps"] if a and rf and rf["rps"] else None
            row += [f(r2, ".2f") + ("×" if r2 else "")]
        errs = [a, b, rf] if raft else [a, b]
        row.append(" / ".join("-" if not x else (str(x["errs"]) + (" FAIL" if x["fail"] else "")) for x in errs))
        print("| " + " | ".join(row) + " |")
print()
print(f"Arca/OpenBao req/s > 1: Arca serves more; Arca/OpenBao CPU < 1: Arca spends less server CPU per "
      f"request. Arca CPU ÷ floor: Arca's server CPU per request over {FLOOR_US} µs, the HTTPS stack alone "
      "(floor-baseline.md). * = every round of the cell was spoiled by outside load.")
for op in ops:
    print(f"- {op}: {OPNAME[op]}")

print("\n## Every measured run\n")
print("CPU in cores (the machine has 2): server under test / wrk / the idle servers / anything else; "
      "pre = machine busy just before the run. stored = objects the run really wrote (secrets or "
      "versions), counted on the server afterwards.\n")
h2 = ["server", "op", "conns", "round", "requests", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
      "CPU µs/req", "srv / wrk / idle-srv / other cores", "pre (waited)", "non-2xx", "sock err", "stored",
      "status"]
print("| " + " | ".join(h2) + " |")
print("|" + "---|" * len(h2))
for r in wrk:
    st = []
    if r["spoiled"]:
        st.append("SPOILED")
    if r.get("stored_mismatch"):
        st.append("STORED≠2xx")
    if r.get("errors_fail"):
        st.append("FAIL")
    print("| " + " | ".join([
        r["server"], r["op"], str(r["conns"]), str(r["round"]), str(r["requests"]),
        f'{r["rps"]:,.0f}', f'{r["lat_p50_ms"]:.2f}', f'{r["lat_p99_ms"]:.2f}', f'{r["lat_p999_ms"]:.1f}',
        f'{r["lat_max_ms"]:.0f}', f(r["srv_cpu_us_per_req"], ".1f"),
        f'{r["srv_cpu_cores"]:.2f} / {r["wrk_cpu_cores"]:.2f} / {r["idle_servers_cpu_cores"]:.2f} / {r["other_cpu_cores"]:.2f}',
        f'{r["pre_busy_cores"]} ({r["quiet_wait_s"]} s)', str(r["non2xx"]), str(r["sock_errors"]),
        "-" if r["stored"] is None else str(r["stored"]), " ".join(st) or "ok"]) + " |")

diag = [r for r in rows if r["kind"] == "diag"]
if diag:
    print("\n## Diagnostic re-runs of failed cells (2 s, status codes counted)\n")
    for d in diag:
        print(f'- {d["server"]} {d["op"]} c={d["conns"]}: {d["requests"]} requests, status codes '
              f'{json.dumps(d["status_codes"])}; first error: `{d["error_sample"][:300]}`')

mem = [r for r in rows if r["kind"] == "mem"]
if mem:
    print("\n## Memory (VmRSS by phase; peak VmHWM), MiB\n")
    for s in ("arca", "openbao", "openbao-raft"):
        ph = [r for r in mem if r["server"] == s]
        if ph:
            print(f"- {s}: " + ", ".join(f'{r["phase"]} {r["vmrss_kb"]/1024:.1f}' for r in ph)
                  + f'; peak {max(r["vmhwm_kb"] for r in ph)/1024:.1f}')
v = [r for r in rows if r["kind"] == "verdict"]
if v:
    print()
    print("Verdict: " + ("FAILED: non-2xx responses, socket errors or stored-count mismatches (see FAIL)"
                         if v[-1]["failed"] else "0 non-2xx, 0 socket errors, stored counts match, in every run")
          + f'; quiet-wait used {v[-1]["quiet_wait_used_s"]} s.')
