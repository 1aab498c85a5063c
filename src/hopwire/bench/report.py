"""The text `hopwire bench` prints: what ran where, then one table per workload.

Tables are Markdown (pipes, aligned), so that a run's output can be pasted
into a README as it is. Every function takes the results document (the one
`--json` writes) and returns lines; nothing here measures.

Ratios always read from the contender's side against hopwire: "2.13x slower"
means hopwire does the same work 2.13 times as fast.
"""

from __future__ import annotations

import sys
from typing import Any

from . import pool_peers as pp
from .environment import describe_machine, describe_twin


class Symbols:
    """Typographic characters, with ASCII stand-ins when stdout cannot encode them."""

    def __init__(self, utf8: bool | None = None) -> None:
        if utf8 is None:
            utf8 = (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
        self.times = "×" if utf8 else "x"
        self.en_dash = "–" if utf8 else "-"
        self.em_dash = "—" if utf8 else "-"
        self.mu = "µ" if utf8 else "u"


def markdown(head: list[str], rows: list[list[str]], align: str) -> list[str]:
    """A Markdown table, columns padded; `align` has one "<" or ">" per column."""
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if a == "<" else c.rjust(w)
                                 for c, w, a in zip(cells, widths, align)) + " |"
    rule = "| " + " | ".join(("-" * (w - 1) + ":") if a == ">" else "-" * w
                             for w, a in zip(widths, align)) + " |"
    return [line(head), rule] + [line(r) for r in rows]


def ratio_text(ratio: float | None, s: Symbols) -> str:
    """`ratio` = the contender's time for the same work / hopwire's."""
    if ratio is None:
        return ""
    if 0.995 <= ratio <= 1.005:
        return "same"
    word = "slower" if ratio > 1 else "faster"
    r = ratio if ratio > 1 else 1 / ratio
    return f"{r:.2f}{s.times} {word}" if r < 10 else f"{r:.1f}{s.times} {word}"


# -- header ------------------------------------------------------------------------

def header(doc: dict[str, Any], s: Symbols) -> list[str]:
    env = doc["environment"]
    lines = [
        "hopwire bench: hopwire against the HTTP/1.x libraries installed here"
        + (" (and the HTTP/2 ones)" if (doc.get("http2") or {}).get("workloads") else ""),
        f"  machine   {describe_machine(env['machine'])}",
        f"  python    {env['python']}",
        f"  hopwire   {env['hopwire']['version']}; parser twin: {describe_twin(env['hopwire'])}",
    ]
    peers, missing = _peer_versions(doc)
    lines.append(f"  peers     {', '.join(peers) or s.em_dash}")
    if missing:
        lines.append(f"  missing   {', '.join(missing)}: not installed, not run")
    if "load_before" in env:
        lines.append(f"  load      1-min load average {env['load_before']:.2f} at the start")
    if doc.get("command"):
        lines.append(f"  command   {doc['command']}")
    return lines


def _peer_versions(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """"name version" of each peer that ran, and the names of those not installed."""
    found: dict[str, str] = {}
    missing: list[str] = []
    parsers = doc.get("parsers")
    if parsers:
        for key, c in parsers["contenders"].items():
            if key.startswith("hopwire"):
                continue
            name = c["label"].split()[0]
            if "skipped" in c:
                if "not installed" in c["skipped"] and name not in missing:
                    missing.append(name)
            elif c["version"]:
                found.setdefault(name, c["version"])
    pools = doc.get("pools")
    if pools:
        for key, version in pools["versions"].items():
            if key.endswith("-uvloop"):  # a contender on uvloop: its version is uvloop's
                name = "uvloop"
            elif key.startswith(("hopwire", "floor")):
                continue
            else:
                name = key.split("-")[0]
            if version == "not installed":
                if name not in missing:
                    missing.append(name)
            elif version:
                found.setdefault(name, version)
    h2 = doc.get("http2") or {}
    for key, version in h2.get("versions", {}).items():
        if key.endswith("-uvloop"):
            name = "uvloop"
        elif key.startswith("hopwire"):
            continue
        else:
            name = key.split("-")[0]
        if version == "not installed":
            if name not in missing:
                missing.append(name)
        elif version:
            found.setdefault(name, version)
    proxy = doc.get("proxy")
    if proxy:
        text = str(proxy.get("servers", {}).get("nginx-proxy", ""))
        if text.startswith("nginx "):  # "nginx 1.22.1 reverse proxy, ..."
            found.setdefault("nginx", text.split()[1].rstrip(","))
    return [f"{name} {version}" for name, version in found.items()], missing


# -- parsers -----------------------------------------------------------------------

def parsers_report(pdoc: dict[str, Any], s: Symbols) -> list[str]:
    st = pdoc["settings"]
    contenders = pdoc["contenders"]
    gate = pdoc["gate"]
    checked = sum(len(v) for v in gate.values())
    failed = [(key, name, problem) for key, by in gate.items() for name, problem in by.items() if problem]
    base = pdoc.get("baseline")
    lines = [
        "## Parsers: a fresh parser per call, the whole buffer at once, every message collected",
        "",
        f"  method    {st['rounds']} interleaved rounds of one ~{st['batch_ms']:g} ms batch per "
        "contender, gc off while timing; median over rounds",
        f"  gate      {checked - len(failed)}/{checked} (contender, workload) pairs give the expected "
        "method, target, headers and body" + ("" if failed else " (all)"),
    ]
    for key, name, problem in failed:
        lines.append(f"            FAIL {contenders[key]['label']} on {name}: {problem} (not timed there)")
    for c in contenders.values():
        if "skipped" in c:
            lines.append(f"  skipped   {c['label']}: {c['skipped']}")
    for note in pdoc.get("notes", []):
        lines.append(f"  note      {note}")
    for name, result in pdoc["workloads"].items():
        lines += [""] + parser_table(name, result, contenders, base, s)
    if len(pdoc["workloads"]) > 1:
        lines += [""] + parser_summary(pdoc, s)
    return lines


def parser_table(name: str, result: dict[str, Any], contenders: dict[str, Any], base: str | None,
                 s: Symbols) -> list[str]:
    per = f"{result['messages']} messages per call" if result["messages"] > 1 else "1 message per call"
    base_label = contenders[base]["label"] if base else "hopwire"
    out = [f"### {name}: {result['title']} [{result['bytes']:,} B, {per}]", ""]
    head = ["contender", "ns/msg (median)", f"spread (min{s.en_dash}max)", "msgs/s",
            f"CPU {s.mu}s/msg", f"vs {base_label}"]
    rows = []
    for key, st in result["contenders"].items():
        ratio = "baseline" if key == result.get("baseline") else ratio_text(st.get("vs_baseline"), s)
        rows.append([st["label"], f"{st['median_ns']:,.0f}",
                     f"{st['min_ns']:,.0f}{s.en_dash}{st['max_ns']:,.0f}",
                     f"{st['msgs_per_s']:,.0f}", f"{st['cpu_us']:.2f}", ratio or "n/a"])
    out += markdown(head, rows, "<>>>><")
    for key, problem in result.get("excluded", {}).items():
        out.append(f"{contenders[key]['label']}: excluded, its output differs: {problem}")
    out += ["", f"{result.get('rounds', '?')} rounds"]
    return out


def parser_summary(pdoc: dict[str, Any], s: Symbols) -> list[str]:
    """Workloads x contenders: median ns per message, and the ratio to hopwire in brackets."""
    keys: list[str] = []
    for result in pdoc["workloads"].values():
        keys += [k for k in result["contenders"] if k not in keys]
    labels = [pdoc["contenders"][k]["label"] for k in keys]
    rows = []
    for result in pdoc["workloads"].values():
        cells = [result["title"]]
        for key in keys:
            st = result["contenders"].get(key)
            if st is None:
                cells.append(s.em_dash)
            elif key == result.get("baseline") or st.get("vs_baseline") is None:
                cells.append(f"{st['median_ns']:,.0f}")
            else:
                cells.append(f"{st['median_ns']:,.0f} ({st['vs_baseline']:.2f}{s.times})")
        rows.append(cells)
    return (["### summary: median ns per message (lower is better); in brackets, "
             "how many times hopwire's time", ""]
            + markdown(["workload"] + labels, rows, "<" + ">" * len(keys)))


# -- pools -------------------------------------------------------------------------

def _ok(rows: dict[str, Any], key: str) -> dict[str, Any] | None:
    row = rows.get(key)
    return row if row is not None and row["status"] == "ok" else None


def _hopwire_for(key: str) -> str:
    """hopwire of the same I/O model as contender `key` (sync, asyncio or uvloop)."""
    return pp.HOPWIRE_FOR.get(pp.CONTENDERS[key].model, "hopwire-sync")


def pools_report(doc: dict[str, Any], s: Symbols) -> list[str]:
    st = doc["settings"]
    lines = [
        "## Connection pools: GET / (200, 13-byte body, checked) against one local server",
        "",
        f"  server    {doc.get('server', '')}",
    ]
    if doc.get("server_note"):
        lines.append(f"            ({doc['server_note']})")
    lines.append(f"  CPUs      {doc.get('placement', '')}")
    if "others_cpu" in doc:
        lines.append(f"  load      other processes used {doc['others_cpu']:.0%} of one CPU during "
                     "this part (approx.)")
    lines.append(f"  method    {st['rounds']} interleaved rounds of one ~{st['batch_s']:g} s batch per "
                 "contender, after a checked first run, calibration and warm-up; median over rounds; gc on")
    for i, (key, note) in enumerate(doc.get("notes", {}).items()):
        lines.append(("  notes     " if i == 0 else "            ") + f"{key}: {note}")
    for name, result in doc.get("workloads", {}).items():
        lines += [""] + pool_table(name, result, s)
    if len(doc.get("workloads", {})) > 1:
        lines += ["", f"### summary: median req/s (client CPU {s.mu}s per request)", ""]
        lines += pool_summary(doc, s)
    return lines


def pool_table(name: str, result: dict[str, Any], s: Symbols) -> list[str]:
    rows = result["contenders"]
    floor = _ok(rows, result["floor"])
    out = [f"### {name}: {result['title']}", ""]
    head = ["contender", "I/O", "req/s (median)", f"spread (min{s.en_dash}max)", f"CPU {s.mu}s/req",
            f"server {s.mu}s/req", "vs hopwire", "% of floor"]
    table: list[list[str]] = []
    notes: list[str] = []
    for key, row in rows.items():
        cls = pp.CONTENDERS[key]
        if row["status"] != "ok":
            if row["status"] == "n/a":
                continue  # a workload the client cannot do (pipelining): not a row
            table.append([key, cls.model, row["status"], "", "", "", "", ""])
            if row.get("detail") and row["status"] == "failed":
                notes.append(f"{key}: {row['detail']}")
            continue
        hw_key = _hopwire_for(key)
        hw = _ok(rows, hw_key)
        table.append([
            key, cls.model, f"{row['req_s']:,.0f}",
            f"{row['req_s_min']:,.0f}{s.en_dash}{row['req_s_max']:,.0f}",
            f"{row['cpu_us']:.1f}",
            f"{row['server_cpu_us']:.1f}" if "server_cpu_us" in row else "",
            "baseline" if key == hw_key else ratio_text(hw["req_s"] / row["req_s"] if hw else None, s),
            f"{row['req_s'] / floor['req_s']:.0%}" if floor else "",
        ])
    out += markdown(head, table, "<<>>>>><")
    return out + _rounds_and_failures(rows, notes, s)


def _rounds_and_failures(rows: dict[str, Any], notes: list[str], s: Symbols) -> list[str]:
    """The lines under a workload's table: rounds, requests per batch, failures."""
    batches = ", ".join(f"{k} {r['batch']:,}" for k, r in rows.items() if r["status"] == "ok")
    rounds = max((r["rounds"] for r in rows.values() if r["status"] == "ok"), default=0)
    return (["", f"{rounds} rounds; requests per batch: {batches or s.em_dash}"]
            + [f"FAILED {note}" for note in notes])


def pool_summary(doc: dict[str, Any], s: Symbols) -> list[str]:
    """Contenders x workloads: median req/s and client CPU µs per request."""
    names = list(doc["workloads"])
    keys: list[str] = []
    for result in doc["workloads"].values():
        keys += [k for k in result["contenders"] if k not in keys]
    head = ["contender"] + [f"{n} req/s ({s.mu}s CPU)" for n in names]
    table = []
    for key in keys:
        cells = [key]
        for name in names:
            row = doc["workloads"][name]["contenders"].get(key)
            if row is None or row["status"] == "n/a":
                cells.append(s.em_dash)
            elif row["status"] != "ok":
                cells.append(row["status"])
            else:
                cells.append(f"{row['req_s']:,.0f} ({row['cpu_us']:.0f})")
        table.append(cells)
    return markdown(head, table, "<" + ">" * len(names))


# -- HTTP/2 ------------------------------------------------------------------------

def http2_report(doc: dict[str, Any], s: Symbols) -> list[str]:
    """The HTTP/2 part: what ran where, a table per workload, head of line, the targets."""
    title = "## HTTP/2: GET / (200, 13-byte body, checked), h2c with prior knowledge, one connection"
    if doc.get("skipped"):
        return [title, "", f"  skipped   {doc['skipped']}"]
    st, hs = doc["settings"], doc.get("hol_settings", {})
    lines = [title, "", f"  server    {doc.get('server', '')}", f"  CPUs      {doc.get('placement', '')}"]
    if "others_cpu" in doc:
        lines.append(f"  load      other processes used {doc['others_cpu']:.0%} of one CPU during "
                     "this part (approx.)")
    lines.append(f"  method    {st['rounds']} interleaved rounds of one ~{st['batch_s']:g} s batch per "
                 "contender, after a checked first run, calibration and warm-up; median over rounds; gc on")
    if hs:
        lines.append(f"            head of line: up to {hs['rounds']} rounds of 16 per contender, "
                     "interleaved, after a checked round and a warm-up round")
    for i, (key, note) in enumerate(doc.get("notes", {}).items()):
        lines.append(("  notes     " if i == 0 else "            ") + f"{key}: {note}")
    for name, result in doc.get("workloads", {}).items():
        lines += [""] + http2_table(name, result, s)
    if doc.get("head_of_line"):
        lines += [""] + hol_table(doc["head_of_line"], s)
    if len(doc.get("workloads", {})) > 1:
        lines += ["", f"### HTTP/2 summary: median req/s (client CPU {s.mu}s per request)", ""]
        lines += _summary_table(doc["workloads"], s)
    if doc.get("ratios"):
        lines += ["", "### HTTP/2 figures and targets (this run)", ""]
        lines += targets_table(doc["ratios"], s)
    return lines


def _protocol(key: str) -> str:
    return "HTTP/2" if getattr(pp.H2_CONTENDERS[key], "protocol", "h2c") == "h2c" else "HTTP/1.1"


def http2_table(name: str, result: dict[str, Any], s: Symbols) -> list[str]:
    rows = result["contenders"]
    out = [f"### {name}: {result['title']}", ""]
    head = ["contender", "protocol", "I/O", "req/s (median)", f"spread (min{s.en_dash}max)",
            f"CPU {s.mu}s/req", f"server {s.mu}s/req", "vs hopwire"]
    table: list[list[str]] = []
    notes: list[str] = []
    for key, row in rows.items():
        cls = pp.H2_CONTENDERS[key]
        if row["status"] != "ok":
            if row["status"] == "n/a":
                continue
            table.append([key, _protocol(key), cls.model, row["status"], "", "", "", ""])
            if row.get("detail") and row["status"] == "failed":
                notes.append(f"{key}: {row['detail']}")
            continue
        hw_key = pp.H2_HOPWIRE_FOR.get(cls.model, "hopwire-h2-sync")
        hw = _ok(rows, hw_key)
        table.append([
            key, _protocol(key), cls.model, f"{row['req_s']:,.0f}",
            f"{row['req_s_min']:,.0f}{s.en_dash}{row['req_s_max']:,.0f}", f"{row['cpu_us']:.1f}",
            f"{row['server_cpu_us']:.1f}" if "server_cpu_us" in row else "",
            "baseline" if key == hw_key else ratio_text(hw["req_s"] / row["req_s"] if hw else None, s),
        ])
    out += markdown(head, table, "<<<>>>><")
    return out + _rounds_and_failures(rows, notes, s)


def hol_table(result: dict[str, Any], s: Symbols) -> list[str]:
    out = [f"### h2_head_of_line: {result['title']}", ""]
    head = ["contender", "protocol", "slow ms (median)", "fast p50 ms", "fast p99 ms", "fast max ms",
            "rounds"]
    table: list[list[str]] = []
    notes: list[str] = []
    for key, row in result["contenders"].items():
        if row["status"] != "ok":
            table.append([key, _protocol(key), row["status"], "", "", "", ""])
            if row.get("detail") and row["status"] == "failed":
                notes.append(f"{key}: {row['detail']}")
            continue
        table.append([key, row["protocol"], f"{row['slow_ms']:.1f}", f"{row['fast_p50_ms']:.2f}",
                      f"{row['fast_p99_ms']:.2f}", f"{row['fast_max_ms']:.2f}", str(row["rounds"])])
    out += markdown(head, table, "<<>>>>>")
    out += ["", f"each round: GET /slow (answered {result['slow_ms']} ms late), then {result['fast']} GET / "
            "at once, one connection; fast: the latencies of those " + str(result["fast"])]
    out += [f"FAILED {note}" for note in notes]
    return out


def targets_table(figures: list[dict[str, Any]], s: Symbols) -> list[str]:
    table = []
    for f in figures:
        unit = {"x": s.times, "us": f" {s.mu}s", "ms": " ms"}[f["unit"]]
        value = f"{f['value']:.2f}{unit}" if f["unit"] != "us" else f"{f['value']:.1f}{unit}"
        if f["target"] is None:
            target, met = "", ""
        else:
            op = "≥" if f["unit"] == "x" else "≤"
            op = op if s.times == "×" else (">=" if op == "≥" else "<=")
            target = f"{op} {f['target']:g}{unit}"
            met = "yes" if f["ok"] else "NO"
        table.append([f["name"], value, target, met])
    return markdown(["figure", "value", "target", "met"], table, "<>><")


def _summary_table(workloads: dict[str, Any], s: Symbols) -> list[str]:
    names = list(workloads)
    keys: list[str] = []
    for result in workloads.values():
        keys += [k for k in result["contenders"] if k not in keys]
    table = []
    for key in keys:
        cells = [key]
        for name in names:
            row = workloads[name]["contenders"].get(key)
            if row is None or row["status"] == "n/a":
                cells.append(s.em_dash)
            elif row["status"] != "ok":
                cells.append(row["status"])
            else:
                cells.append(f"{row['req_s']:,.0f} ({row['cpu_us']:.0f})")
        table.append(cells)
    return markdown(["contender"] + [f"{n} req/s ({s.mu}s CPU)" for n in names], table,
                    "<" + ">" * len(names))


# -- proxy -------------------------------------------------------------------------

def _us(row: dict[str, Any], name: str, signed: bool = False) -> str:
    if name not in row:
        return ""
    return f"{row[name]:+,.0f}" if signed else f"{row[name]:,.0f}"


def proxy_report(doc: dict[str, Any], s: Symbols) -> list[str]:
    """The proxy part: what ran where, a table per workload, a summary."""
    st = doc["settings"]
    lines = [
        "## Proxy: GET / (200, 13-byte body, checked) through a reverse proxy to one local origin",
        "",
        f"  origin    {doc.get('origin', '')}",
    ]
    if doc.get("origin_note"):
        lines.append(f"            ({doc['origin_note']})")
    for i, (key, text) in enumerate(doc.get("servers", {}).items()):
        lines.append(("  proxies   " if i == 0 else "            ") + f"{key}: {text}")
    lines += [
        "  client    one thread, the pool floor's client: raw sockets, httptools, every answer checked",
        f"  CPUs      {doc.get('placement', '')}",
    ]
    if "others_cpu" in doc:
        lines.append(f"  load      other processes used {doc['others_cpu']:.0%} of one CPU during "
                     "this part (approx.)")
    lines.append(f"  method    {st['rounds']} interleaved rounds of one ~{st['batch_s']:g} s batch per "
                 "route, after a checked first run, calibration and warm-up; median over rounds; gc on")
    for name, result in doc.get("workloads", {}).items():
        lines += [""] + proxy_table(name, result, s)
    if len(doc.get("workloads", {})) > 1:
        lines += ["", f"### summary: median req/s; in brackets, the proxy's CPU {s.mu}s per request", ""]
        lines += proxy_summary(doc, s)
    return lines


def proxy_table(name: str, result: dict[str, Any], s: Symbols) -> list[str]:
    rows = result["routes"]
    latency = any("p50_us" in row for row in rows.values())
    out = [f"### {name}: {result['title']}", ""]
    head = ["route", "req/s (median)", f"spread (min{s.en_dash}max)"]
    if latency:
        head += [f"p50 {s.mu}s", f"p99 {s.mu}s", f"added p50 {s.mu}s", f"added p99 {s.mu}s"]
    head += [f"client {s.mu}s/req", f"proxy {s.mu}s/req", f"origin {s.mu}s/req", "of nginx-proxy"]
    table: list[list[str]] = []
    notes: list[str] = []
    for key, row in rows.items():
        if row["status"] != "ok":
            table.append([key, row["status"]] + [""] * (len(head) - 2))
            if row["status"] == "failed" and row.get("detail"):
                notes.append(f"{key}: {row['detail']}")
            continue
        cells = [key, f"{row['req_s']:,.0f}", f"{row['req_s_min']:,.0f}{s.en_dash}{row['req_s_max']:,.0f}"]
        if latency:
            cells += [_us(row, "p50_us"), _us(row, "p99_us"), _us(row, "added_p50_us", True),
                      _us(row, "added_p99_us", True)]
        cells += [f"{row['cpu_us']:.1f}", f"{row['proxy_cpu_us']:.1f}" if "proxy_cpu_us" in row else "",
                  f"{row['origin_cpu_us']:.1f}" if "origin_cpu_us" in row else "",
                  f"{row['vs_ceiling']:.2f}{s.times}" if "vs_ceiling" in row else ""]
        table.append(cells)
    out += markdown(head, table, "<" + ">" * (len(head) - 1))
    return out + _rounds_and_failures(rows, notes, s)


def proxy_summary(doc: dict[str, Any], s: Symbols) -> list[str]:
    """Routes x workloads: median req/s (the proxy's CPU µs per request)."""
    names = list(doc["workloads"])
    keys: list[str] = []
    for result in doc["workloads"].values():
        keys += [k for k in result["routes"] if k not in keys]
    head = ["route"] + [f"{n} req/s" for n in names] + ["of nginx-proxy (req/s)"]
    table = []
    for key in keys:
        cells = [key]
        ratios = []
        for name in names:
            row = doc["workloads"][name]["routes"].get(key)
            if row is None:
                cells.append(s.em_dash)
            elif row["status"] != "ok":
                cells.append(row["status"])
            else:
                cpu = f" ({row['proxy_cpu_us']:.0f})" if "proxy_cpu_us" in row else ""
                cells.append(f"{row['req_s']:,.0f}{cpu}")
                if "vs_ceiling" in row:
                    ratios.append(f"{row['vs_ceiling']:.2f}")
        cells.append(" / ".join(ratios) + (s.times if ratios else ""))
        table.append(cells)
    return markdown(head, table, "<" + ">" * (len(names) + 1))


HTTP2_FOOTNOTES = [
    "HTTP/2: vs hopwire compares with hopwire over HTTP/2 of the same I/O model; server {mu}s/req is",
    "nginx's; head of line: each request timed on its own, from its task's start to its checked answer.",
]

PROXY_FOOTNOTES = [
    "proxy: req/s through each route, one client; added {mu}s: the route's latency minus the direct",
    "route's in the same round (median over rounds); client/proxy/origin {mu}s/req: CPU time per",
    "request of this process (time.process_time), of the proxy's process (all its threads) and of",
    "the origin (Linux schedstat); of nginx-proxy: req/s as a multiple of nginx's as reverse proxy.",
]


# -- the whole report ----------------------------------------------------------------

FOOTNOTES = [
    "ns/msg: wall time of whole parse() calls / messages; CPU {mu}s: this process's CPU time",
    "(time.process_time) per message or request, all its threads; server {mu}s/req: the server",
    "process's CPU per request (Linux schedstat). vs hopwire: how the contender compares with",
    "hopwire doing the same work (for pools, hopwire of the same I/O model: sync, asyncio or uvloop).",
    "% of floor: the contender's req/s as a share of the bare socket + httptools loop's.",
]


def report(doc: dict[str, Any], s: Symbols | None = None) -> str:
    """The whole text of a `hopwire bench` run."""
    s = s or Symbols()
    lines = header(doc, s)
    if doc.get("parsers"):
        lines += [""] + parsers_report(doc["parsers"], s)
    if doc.get("pools"):
        lines += [""] + pools_report(doc["pools"], s)
    if doc.get("http2"):
        lines += [""] + http2_report(doc["http2"], s)
    if doc.get("proxy"):
        lines += [""] + proxy_report(doc["proxy"], s)
    lines.append("")
    if doc.get("parsers") or doc.get("pools") or (doc.get("http2") or {}).get("workloads"):
        lines += [line.format(mu=s.mu) for line in FOOTNOTES]
    if (doc.get("http2") or {}).get("workloads"):
        lines += [line.format(mu=s.mu) for line in HTTP2_FOOTNOTES]
    if doc.get("proxy"):
        lines += [line.format(mu=s.mu) for line in PROXY_FOOTNOTES]
    lines.append(f"({doc.get('elapsed_s', 0):.0f} s)")
    return "\n".join(lines)
