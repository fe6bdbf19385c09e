#!/usr/bin/env python3
"""Checks one case of scripts/slurm/test.sh: the RAM energy its ranks reported, summed per node,
against the node's truth (RAM forced to 10 W, so 10 W x the time the node was measured: from the
first measurement of a rank on it to the last one).

  check_ranks.py CASE OUT_DIR EXPECTED_RANKS [--distinct-ranks]

OUT_DIR holds one file per rank, <host>-<pid>.txt, the lines tests/c/node_rank.c printed (a
rank's totals are its last flush or stop: a killed rank's last flush).
Prints one table line `CASE | ratio | per node | ranks` and exits 1 when a ratio is off by more
than 2 %, a rank is missing or failed, or (--distinct-ranks) two ranks report the same rank."""

import os
import sys

RAM_W = 10.0
WS_PER_KWH = 3.6e6
TOLERANCE = 0.02


def parse(path):
    r = {}
    for line in open(path):
        f = dict(p.split("=", 1) for p in line.split() if "=" in p)
        # A rank's last totals: its stop, or its last flush if it was killed.
        if f.get("event") in ("flush", "stop"):
            r.update(
                rank=int(f["rank"]),
                ram_kwh=float(f["ram_kwh"]),
                to=float(f["t_call"]),
                frm=float(f["t_call"]) - float(f["duration_s"]),
            )
        elif f.get("event") == "json":
            r["counts_node"] = f.get("counts_node")
    return r


def main():
    case, out, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    distinct = "--distinct-ranks" in sys.argv[4:]
    nodes, ranks, problems = {}, [], []
    for name in sorted(os.listdir(out)):
        if not name.endswith(".txt"):
            continue
        r = parse(os.path.join(out, name))
        if "rank" not in r:
            err = os.path.join(out, name[:-4] + ".err")
            problems.append(f"{name}: no totals ({open(err).read().strip()[-300:] if os.path.exists(err) else ''})")
            continue
        nodes.setdefault(name.rsplit("-", 1)[0], []).append(r)
        ranks.append(r["rank"])
    if len(ranks) != expected:
        problems.append(f"{len(ranks)} ranks reported, {expected} expected")
    if distinct and len(set(ranks)) != len(ranks):
        problems.append(f"ranks not distinct: {sorted(ranks)}")
    total, truth, per_node = 0.0, 0.0, []
    for host, rs in sorted(nodes.items()):
        node_truth = RAM_W * (max(r["to"] for r in rs) - min(r["frm"] for r in rs)) / WS_PER_KWH
        node_sum = sum(r["ram_kwh"] for r in rs)
        total, truth = total + node_sum, truth + node_truth
        ratio = node_sum / node_truth if node_truth > 0 else float("nan")
        per_node.append(f"{host}:{len(rs)}:{ratio:.3f}")
        if not abs(ratio - 1) <= TOLERANCE:
            problems.append(
                f"node {host}: ranks' sum {node_sum:.3e} kWh over the node's {node_truth:.3e} kWh = {ratio:.3f}"
            )
    ratio = total / truth if truth > 0 else float("nan")
    print(f"{case} | {ratio:.3f} | {' '.join(per_node)} | ranks {sorted(ranks)}")
    for p in problems:
        print(f"  FAIL {case}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
