#!/usr/bin/python3
"""Where the observer's instructions on a flagged request go, piece by piece.

The whole observer, (b) − (a) of `apache_bench.py callgrind`, is the module's hooks plus
the scores snippet (conf/modsec_observe_rules.conf), and the snippet is several rules,
each with its own cost in ModSecurity. This runs Apache under callgrind as
`apache_bench.py callgrind` does (prefork -X, one dump per connection, N clean and N
attack requests) in configuration (a) and in (b) with variants of the snippet built from
the shipped file, alternated over rounds; differences between variants price each piece:

  module     (b) without the snippet: the module's hooks only
  rules      99902 (the clean requests' test) and one phase-5 SecAction exporting a
             constant: a rule that does not match, and the fixed cost of one that does
  test       99902 and this CRS's level-1 rule (99904 for CRS 4, 99905 for CRS 3.3)
             first, exporting constants: + its TX target (the version and level test)
  two        as `test`, exporting the two level-1 scores (two TX macros)
  own-first  the shipped rules with this CRS's level-1 rule moved first (all its macros)
  shipped    the snippet as shipped (CRS 4's rule first)

Usage (as root, after bench/apache_bench.sh has installed packages and built):
  bench/snippet_cost.py [--crs 3|4] [--requests N] [--rounds R] [--json PATH]
Markdown to stdout, everything to PATH or bench/results/snippet-cost-crs<N>-<time>.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import apache_bench as ab  # noqa: E402

VARIANTS = ("module", "rules", "test", "two", "own-first", "shipped")

# Level-1 rule of each CRS version and what its export looks like with constants (field
# layout as in the shipped rules, read by common/anomaly_scores.cpp).
LEVEL1 = {
    "4": ("99904", "MSO_CRS4", "5,4,,1,,,5,,,,0,,,",
          "5,4,,1,,,%{tx.inbound_anomaly_score_pl1},,,,%{tx.outbound_anomaly_score_pl1},,,"),
    "3": ("99905", "MSO_CRS3", "5,4,,1,5,,,,0,,,",
          "5,4,,1,%{tx.anomaly_score_pl1},,,,%{tx.outbound_anomaly_score_pl1},,,"),
}


def snippet_rules(text: str) -> dict[str, str]:
    """The shipped snippet's rules by id (comments dropped), and its end marker."""
    rules: dict[str, str] = {}
    for block in re.split(r"\n(?=SecRule |SecAction|SecMarker)", text):
        lines = [ln for ln in block.splitlines() if not ln.startswith("#")]
        body = "\n".join(lines).strip()
        if not body:
            continue
        m = re.search(r"id:(\d+)", body)
        rules[m.group(1) if m else "marker"] = body
    return rules


def with_export(rule: str, env: str, value: str) -> str:
    out, n = re.subn(rf"setenv:'{env}=[^']*'", f"setenv:'{env}={value}'", rule)
    if n != 1:
        raise ValueError(f"no setenv:'{env}=...' in rule:\n{rule}")
    return out


def variant_text(rules: dict[str, str], crs: str, name: str) -> str:
    own, env, constants, two = LEVEL1[crs]
    other = "99905" if own == "99904" else "99904"
    others = [i for i in ("99906", "99907", "99908") if i in rules]
    if name == "module":
        return ""
    if name == "rules":
        parts = [rules["99902"], rules["99908"]]
    elif name == "test":
        parts = [rules["99902"], with_export(rules[own], env, constants)]
    elif name == "two":
        parts = [rules["99902"], with_export(rules[own], env, two)]
    elif name == "own-first":
        parts = [rules["99902"], rules[own], rules[other]] + [rules[i] for i in others]
    elif name == "shipped":
        parts = [rules[i] for i in ("99902", "99904", "99905")] + [rules[i] for i in others]
    else:
        raise ValueError(name)
    return "\n\n".join(parts + [rules["marker"]]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crs", choices=("3", "4"), default="3")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("error: run as root (Apache's children switch to www-data)")
    ab.CRS = args.crs
    if args.crs == "4" and ab.crs4_dir() is None:
        sys.exit("error: --crs 4 needs CRS 4.28 at ../shared/crs-4.28.0 or MSO_CRS4_DIR")
    bins = ab.Binaries.find()
    rules = snippet_rules(bins.snippet.read_text())
    names = ["a", *VARIANTS]
    runs: dict[str, list[dict]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="mso-snippet-") as tmp:
        files = {}
        for v in VARIANTS:
            files[v] = Path(tmp) / f"{v}.conf"
            files[v].write_text(variant_text(rules, args.crs, v))
            os.chmod(files[v], 0o644)
        os.chmod(tmp, 0o755)
        for rnd in range(args.rounds):
            # Alternate the order between rounds so drift hits every variant alike.
            for name in (names if rnd % 2 == 0 else list(reversed(names))):
                if name == "a":
                    r = ab.callgrind_one("a", bins, args.requests)
                else:
                    b = copy.copy(bins)
                    b.snippet = files[name]
                    r = ab.callgrind_one("b", b, args.requests)
                runs[name].append(r)
                ab.log(f"round {rnd + 1} {name}: attack "
                       f"{r['attack']['ir_per_request']:,.0f}, clean "
                       f"{r['clean']['ir_per_request']:,.0f}")
    med = {n: {k: statistics.median(r[k]["ir_per_request"] for r in runs[n])
               for k in ("clean", "attack")} for n in names}
    result = {"kind": "snippet-cost", "crs": args.crs, "machine": ab.machine_info(),
              "parameters": {"requests": args.requests, "rounds": args.rounds,
                             "clean_path": ab.CLEAN_PATH, "attack_path": ab.ATTACK_PATH},
              "variants": {v: variant_text(rules, args.crs, v) for v in VARIANTS},
              "runs": {n: [{k: r[k]["ir_per_request"] for k in ("clean", "attack")}
                           | {"module": r["attack"]["module_per_request"],
                              "collector": r.get("collector")} for r in runs[n]]
                       for n in names},
              "medians": med}
    lines = [f"snippet pieces, CRS {args.crs}, callgrind, {args.requests} requests of each "
             f"kind, {args.rounds} rounds; instructions per request, medians "
             "(each round's value in brackets)", "",
             "| configuration | attack − (a) | clean − (a) |", "| --- | ---: | ---: |"]
    for v in VARIANTS:
        def cell(k: str, v: str = v) -> str:
            each = ", ".join(f"{r[k]['ir_per_request'] - med['a'][k]:,.0f}" for r in runs[v])
            return f"{med[v][k] - med['a'][k]:,.0f} ({each})"
        lines.append(f"| {v} | {cell('attack')} | {cell('clean')} |")
    lines.append(f"| (a) ModSecurity + CRS, whole process | {med['a']['attack']:,.0f} | "
                 f"{med['a']['clean']:,.0f} |")
    text = "\n".join(lines)
    result["markdown"] = text
    path = args.json or (HERE / "results" / f"snippet-cost-crs{args.crs}-"
                         f"{time.strftime('%Y%m%d-%H%M%S')}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(text)
    print(f"\n(JSON: {path})", flush=True)


if __name__ == "__main__":
    main()
