#!/usr/bin/env python3
"""Markdown summary of bench/kms/run.sh results: python3 summarize.py results.jsonl

Per (operation, connections): Arca, OpenBao (and floor) req/s, p50, p99 and server CPU µs/req,
plus the ratios Arca/OpenBao. With several rounds, each cell is the median over the clean rounds
(a run is spoiled when processes other than the benchmark used > MAX_OTHER cores); if every round
of a cell was spoiled, the median of all of them is shown and marked with *.
"""
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
wrk = [r for r in rows if r["kind"] == "wrk"]
servers = [s for s in ("arca", "openbao", "floor") if any(r["server"] == s for r in wrk)]
OPNAME = {
    "wrap": "wrap (Arca wrap / OpenBao transit encrypt / floor /wrap), 32 B",
    "unwrap": "unwrap (Arca unwrap / OpenBao transit decrypt)",
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


cells = []
for op in ("wrap", "unwrap"):
    for c in sorted({r["conns"] for r in wrk}):
        d = {}
        for s in servers:
            rs, spoiled = pick(s, op, c)
            if rs:
                d[s] = {
                    "rps": med(rs, "rps"), "p50": med(rs, "lat_p50_ms"), "p99": med(rs, "lat_p99_ms"),
                    "cpu": med(rs, "srv_cpu_us_per_req"), "n": len(rs), "spoiled": spoiled,
                    "errs": sum(r["non2xx"] + r["sock_errors"] for r in rs),
                }
        if d:
            cells.append((op, c, d))

print("## Arca vs OpenBao (HTTPS, keep-alive; median of clean rounds)\n")
hdr = ["op", "conns"]
for s in ("arca", "openbao"):
    hdr += [f"{s} req/s", f"{s} p50 ms", f"{s} p99 ms", f"{s} CPU µs/req"]
hdr += ["Arca/OpenBao req/s", "Arca/OpenBao CPU µs/req"]
if "floor" in servers:
    hdr += ["floor req/s", "floor CPU µs/req", "Arca/floor req/s"]
hdr += ["Arca errors"]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
ratios64 = {}
for op, c, d in cells:
    a, b, fl = d.get("arca"), d.get("openbao"), d.get("floor")
    row = [op, str(c)]
    for x in (a, b):
        if x:
            star = "*" if x["spoiled"] else ""
            row += [f(x["rps"], ",.0f") + star, f(x["p50"], ".2f"), f(x["p99"], ".2f"), f(x["cpu"], ".1f")]
        else:
            row += ["-"] * 4
    rr = a["rps"] / b["rps"] if a and b and b["rps"] else None
    cr = a["cpu"] / b["cpu"] if a and b and a["cpu"] and b["cpu"] else None
    if c == 64 and rr is not None:
        ratios64[op] = rr
    row += [f(rr, ".2f") + ("×" if rr else ""), f(cr, ".2f") + ("×" if cr else "")]
    if "floor" in servers:
        if fl:
            row += [f(fl["rps"], ",.0f") + ("*" if fl["spoiled"] else ""), f(fl["cpu"], ".1f"),
                    f(a["rps"] / fl["rps"] if a and fl["rps"] else None, ".2f")]
        else:
            row += ["-", "-", "-"]
    row += [str(a["errs"]) if a else "-"]
    print("| " + " | ".join(row) + " |")
print()
print("Ratios: req/s ratio > 1 means Arca serves more; CPU ratio < 1 means Arca spends less server CPU "
      "per request. * = every round of that cell was spoiled by outside load (see the per-run table).")
if ratios64:
    print()
    print("Goal (Arca ≥ 2× OpenBao req/s at 64 connections over TLS): " + "; ".join(
        f"{op} {r:.2f}× → {'MET' if r >= 2 else 'NOT MET'}" for op, r in ratios64.items()))

print("\n## Every measured run\n")
print("CPU in cores (the machine has 2): server under test / wrk / the idle servers / anything else; "
      "pre = machine busy just before the run, after waiting up to QUIET_WAIT s.\n")
h2 = ["server", "op", "conns", "round", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "CPU µs/req",
      "srv / wrk / idle-srv / other cores", "pre (waited)", "non-2xx", "sock err", "status"]
print("| " + " | ".join(h2) + " |")
print("|" + "---|" * len(h2))
for r in wrk:
    st = []
    if r["spoiled"]:
        st.append("SPOILED")
    if r.get("errors_fail"):
        st.append("FAIL")
    print("| " + " | ".join([
        r["server"], r["op"], str(r["conns"]), f'{r["round"]}' + (f'.{r["attempt"]}' if r["attempt"] else ""),
        f'{r["rps"]:,.0f}', f'{r["lat_p50_ms"]:.2f}', f'{r["lat_p99_ms"]:.2f}', f'{r["lat_p999_ms"]:.1f}',
        f(r["srv_cpu_us_per_req"], ".1f"),
        f'{r["srv_cpu_cores"]:.2f} / {r["wrk_cpu_cores"]:.2f} / {r["idle_servers_cpu_cores"]:.2f} / {r["other_cpu_cores"]:.2f}',
        f'{r["pre_busy_cores"]} ({r["quiet_wait_s"]} s)', str(r["non2xx"]), str(r["sock_errors"]),
        " ".join(st) or "ok"]) + " |")

mem = [r for r in rows if r["kind"] == "mem"]
if mem:
    print("\n## Memory (VmRSS / VmHWM, MiB)\n")
    for s in servers:
        ph = [r for r in mem if r["server"] == s]
        print(f"- {s}: " + ", ".join(f'{r["phase"]} {r["vmrss_kb"]/1024:.1f}' for r in ph)
              + (f'; peak {max(r["vmhwm_kb"] for r in ph)/1024:.1f}' if ph else ""))
v = [r for r in rows if r["kind"] == "verdict"]
if v:
    print()
    print("Verdict: " + ("FAILED — Arca returned non-2xx responses or socket errors"
                         if v[-1]["arca_errors"] else "Arca: 0 non-2xx, 0 socket errors in every run")
          + f'; quiet-wait used {v[-1]["quiet_wait_used_s"]} s.')
