#!/usr/bin/env python3
"""CPU time of the bench lab's processes, by component, from /proc.

  cpu_sample.py snap OUT LAB PGPID...   writes the CPU ticks so far of every
                                        process of the lab (its pilotlight
                                        processes, the load client, the children
                                        of the given postmasters) and of pgbench
  cpu_sample.py diff A B OPS [NAME=SECONDS...]
                                        prints, per component, CPU milliseconds
                                        per operation between two snaps, adding
                                        CPU seconds measured otherwise (a client
                                        timed by the shell)

A backend that ends between the snaps is counted through its postmaster's
cutime/cstime (the CPU of children it has reaped). Other processes that start
and end between the snaps are missed: time them and pass NAME=SECONDS.
"""
import json
import os
import sys


def processes():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline") as f:
                cmd = f.read().replace("\0", " ")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        yield (pid, comm, cmd, int(fields[1]), int(fields[11]) + int(fields[12]),
               int(fields[13]) + int(fields[14]))


def component(comm, cmd, ppid, lab, postmasters):
    if lab in cmd:
        for key, name in ((" load ", "load client"), ("trader serve", "trader"),
                          ("replication run", "replication"), ("lab agent", "agent")):
            if key in cmd:
                return name
        return "other"
    if comm.startswith("pgbench"):
        return "pgbench client"
    if str(ppid) in postmasters:
        words = cmd.split()
        role = words[1] if len(words) > 1 else ""
        if role in ("walsender", "walreceiver", "startup"):
            return "replication (wal)"
        if role in ("walwriter", "checkpointer", "autovacuum", "background"):
            return "postgres (background)"
        return "postgres (backends)"
    return None


def snap(out, lab, postmasters):
    ticks = {}
    for pid, comm, cmd, ppid, t, children in processes():
        if pid in postmasters:
            ticks["reaped-" + pid] = ["postgres (backends)", children]
        name = component(comm, cmd, ppid, lab, postmasters)
        if name is not None:
            ticks[pid] = [name, t]
    with open(out, "w") as f:
        json.dump(ticks, f)


def diff(a, b, ops, extra):
    with open(a) as f:
        before = json.load(f)
    with open(b) as f:
        after = json.load(f)
    hz = os.sysconf("SC_CLK_TCK")
    by = {}
    for pid, (name, t) in after.items():
        by[name] = by.get(name, 0) + t - (before[pid][1] if pid in before else 0)
    for item in extra:
        name, seconds = item.rsplit("=", 1)
        by[name] = by.get(name, 0) + float(seconds) * hz
    ops = max(float(ops), 1.0)
    total = sum(by.values()) * 1000.0 / hz / ops
    parts = sorted(by.items(), key=lambda kv: -kv[1])
    detail = ", ".join(f"{n} {v * 1000.0 / hz / ops:.3f}" for n, v in parts if v > 0)
    print(f"{total:.3f} ms CPU per op ({detail})")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "snap":
        snap(sys.argv[2], sys.argv[3], set(sys.argv[4:]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "diff":
        diff(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        sys.exit(__doc__)
