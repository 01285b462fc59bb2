#!/usr/bin/env python3
"""VM benchmark driver (runs inside the guest, see bench/vm/guest.sh).

  bench.py table   --out DIR [--reps 3] [--services 100] [--dests 100] [--edits 1000]
                   [--director-reals 10000]
      Task A, in the caller's (private) network namespace: table install and
      weight changes through our netlink backend (examples/netlink_bench.rs)
      versus ipvsadm (-R batch, one process per -e), and the full director
      (checktype=on) filling the table and reloading one weight change.
  bench.py compare --out DIR --daemon ldirectord-rs|keepalived --n N
                   [--steady 20] [--hang-window 20] [--warmup 5] [--fill-max S]
                   [--detect-max S] [--restore-max S] [--poll-ms MS] [--print-budget]
      Task B, one daemon at one size, in the caller's (fresh) network
      namespace: backends + daemon programming the real IPVS table;
      time to fill the table, steady-state CPU per check/RSS/check rate,
      10% fail detection, 10% hang behaviour, and every removal of a real
      never made to fail over the whole run (from the daemon's log). Every
      phase is capped (defaults scale with N), so a daemon that cannot keep
      up still ends in bounded time; --print-budget prints that bound.
  bench.py interleave --out DIR --n N [--rounds 4] [--window 5] [--settle 1.5]
                   [--fill-max S] [--print-budget]
      Steady-state CPU per check of both daemons, run side by side (own netns
      vb-k / vb-r, own backends, made by the caller), only one unfrozen at a
      time, alternating windows: host-load drift hits both alike.
  bench.py summarize DIR
      Medians, ratios; writes DIR/summary.json and DIR/summary.md.

Binaries come from env: LD_BIN (ldirectord-rs), NB_BIN (netlink_bench example),
BK_BIN (backends). Every process started here is stopped by PID.
"""
import argparse
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402

LD = os.environ.get("LD_BIN", "target/release/ldirectord-rs")
NB = os.environ.get("NB_BIN", "target/release/examples/netlink_bench")
BK = os.environ.get("BK_BIN", "target/release/backends")
CTL = ("127.0.0.1", 7999)
# daemons' logs go to the guest's own /tmp (copied to the results at the end): the results
# directory is 9p, where every flushed line costs a round trip to the host
LOGDIR = os.environ.get("VB_LOGDIR", "/tmp/vb-logs")
TICK = os.sysconf("SC_CLK_TCK")
STARTED = []  # Popen objects to stop on exit


def log(msg):
    sys.stderr.write("%s bench: %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def now_ns():
    return time.time_ns()


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


def stop(p, sig=signal.SIGTERM, wait=30):
    if p is None or p.poll() is not None:
        return None
    t = time.monotonic()
    try:
        p.send_signal(sig)
        p.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return time.monotonic() - t


def stop_all():
    for p in reversed(STARTED):
        stop(p, wait=10)


def spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    STARTED.append(p)
    return p


# ------------------------------------------------------------------ /proc
def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        if ppid == pid:
            out.append(int(d))
    return out


def tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += children_of(p)
    return pids


def cpu_s(pids):
    """utime+stime in seconds summed over pids (each includes its threads)."""
    tot = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        f_ = st[st.rindex(")") + 2:].split()
        tot += int(f_[11]) + int(f_[12])
    return tot / TICK


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# ------------------------------------------------------------------ backends
def ns_socket(ns):
    """A TCP socket created inside network namespace ns (None: this one)."""
    if ns is None:
        return socket.socket()
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    here = os.open("/proc/self/ns/net", os.O_RDONLY)
    there = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if libc.setns(there, 0x40000000) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
        try:
            return socket.socket()
        finally:
            if libc.setns(here, 0x40000000) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(here)
        os.close(there)


def ctl(cmd, ns=None):
    s = ns_socket(ns)
    s.settimeout(30)
    s.connect(CTL)
    with s:
        s.sendall((cmd + "\n").encode())
        f = s.makefile("r")
        first = f.readline().strip()
        if first.startswith("done "):
            return int(first.split()[1])
        if first.startswith("stats "):
            n = int(first.split()[1])
            rows = []
            for _ in range(n):
                i, c, g = f.readline().split()
                rows.append((int(c), int(g)))
            f.readline()
            return rows
        raise RuntimeError("backends said %r to %r" % (first, cmd))


def start_backends(n, out, pre=()):
    p = spawn(list(pre) + [BK, "--count", str(n)], stdout=subprocess.PIPE, stderr=open(out + "/backends.err", "w"), text=True)
    line = p.stdout.readline().strip()
    if line != "ready %d" % n:
        raise RuntimeError("backends did not start: %r" % line)
    return p


# ------------------------------------------------------------------ helpers
def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(q / 100.0 * (len(xs) - 1)))))
    return xs[k]


def dist(xs):
    if not xs:
        return None
    return {"n": len(xs), "p50": pct(xs, 50), "p90": pct(xs, 90), "p99": pct(xs, 99), "max": max(xs)}


def nb_json(args, timeout=None):
    r = subprocess.run([NB] + args, capture_output=True, text=True, timeout=timeout)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        raise RuntimeError("netlink_bench %s: rc %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return json.loads(r.stdout)


def dest_count():
    return int(run([NB, "count"]).split()[1])


def ipvsadm_clear():
    run(["ipvsadm", "-C"])


# ------------------------------------------------------------------ task A
NS_SEQ = [0]


def fresh_ns():
    """A new network namespace (empty IPVS table, empty destination trash)."""
    NS_SEQ[0] += 1
    ns = "vb-a%d" % NS_SEQ[0]
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    run(["ip", "netns", "add", ns])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    return ns


def drop_ns(ns):
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def timed(argv, **kw):
    t = time.monotonic()
    subprocess.run(argv, check=True, **kw)
    return (time.monotonic() - t) * 1e3


def task_table(o):
    """Run from the guest's root namespace: every install starts in a fresh
    namespace (a cleared table keeps its deleted destinations in the kernel's
    trash for 1-3 minutes, and re-adding one scans that trash: measured
    separately as "reinstall")."""
    os.makedirs(o.out, exist_ok=True)
    s, d, e = o.services, o.dests, o.edits
    inst = o.out + "/ipvsadm-install.txt"
    with open(inst, "w") as f:
        f.write(gen.ipvsadm_install(s, d))
    edits2 = gen.ipvsadm_edits(s, d, e, 2)
    edits3 = gen.ipvsadm_edits(s, d, e, 3).splitlines()
    res = {"services": s, "dests_per_service": d, "edits": e, "reps": []}
    for rep in range(o.reps):
        r = {}
        # ours: install, edits, dump, clear; then install again at once (trash)
        ns = fresh_ns()
        x = ["ip", "netns", "exec", ns]
        log("table rep %d: netlink_bench install (%s)" % (rep, ns))
        r["ours"] = json.loads(run(x + [NB, "install", "--services", str(s), "--dests", str(d), "--edits", str(e)]))
        r["ours_reinstall"] = json.loads(run(x + [NB, "install", "--services", str(s), "--dests", str(d)]))
        drop_ns(ns)
        # ipvsadm: -R install, -R batch of -e, one process per -e, -C; -R again (trash)
        ns = fresh_ns()
        x = ["ip", "netns", "exec", ns]
        log("table rep %d: ipvsadm -R install (%s)" % (rep, ns))
        with open(inst) as f:
            r["ipvsadm_restore_ms"] = timed(x + ["ipvsadm", "-R"], stdin=f)
        n = int(run(x + [NB, "count"]).split()[1])
        if n != s * d:
            raise RuntimeError("ipvsadm -R installed %d destinations, want %d" % (n, s * d))
        r["ipvsadm_edit_batch_ms"] = timed(x + ["ipvsadm", "-R"], input=edits2, text=True)
        if o.procs:
            log("table rep %d: %d ipvsadm -e processes" % (rep, len(edits3)))
            # the loop itself runs in the namespace; one ipvsadm process per change
            t = time.monotonic()
            with open(o.out + "/edits3.txt", "w") as f:
                f.write("\n".join(edits3) + "\n")
            run(x + ["sh", "-c", 'while read -r l; do ipvsadm $l || exit 1; done < "$1"', "sh",
                     o.out + "/edits3.txt"])
            r["ipvsadm_edit_procs_ms"] = (time.monotonic() - t) * 1e3
            w3 = run(x + ["ipvsadm", "-Sn"]).count("-w 3")
            if w3 != e:
                raise RuntimeError("after the ipvsadm -e processes %d destinations have weight 3, want %d" % (w3, e))
        r["ipvsadm_clear_ms"] = timed(x + ["ipvsadm", "-C"])
        with open(inst) as f:
            r["ipvsadm_reinstall_ms"] = timed(x + ["ipvsadm", "-R"], stdin=f)
        drop_ns(ns)
        res["reps"].append(r)
        log("table rep %d: %s" % (rep, json.dumps(r)))
        with open(o.out + "/table.json", "w") as f:  # partial results survive a timeout
            json.dump(res, f, indent=1)
    # the full director, checktype=on (no probes), each start in a fresh namespace
    n = o.director_reals
    if n:
        res["director"] = {"reals": n, "reps": []}
        dl = o.out + "/director"
        os.makedirs(dl, exist_ok=True)
        for rep in range(o.reps):
            ns = fresh_ns()
            x = ["ip", "netns", "exec", ns]
            # the event log on the guest's own /tmp, not on the 9p results directory: each
            # line is flushed at once, and a 9p write is a round trip to the host
            os.makedirs(LOGDIR, exist_ok=True)
            cfg, lg = dl + "/ld.cf", LOGDIR + "/ld-%d.log" % rep
            with open(cfg, "w") as f:
                f.write(gen.ldcf(n, lg, checktype="on"))
            log("director rep %d: start with %d reals (%s)" % (rep, n, ns))
            t0 = now_ns()
            p = spawn(x + [LD, "-f", cfg, "run", "--ipvs", "netlink"],
                      stdout=open(dl + "/out-%d.txt" % rep, "w"), stderr=subprocess.STDOUT)
            w = json.loads(run(x + [NB, "wait-count", str(n), "--timeout", "600", "--interval-ms", "100"]))
            r = {"fill_ms": (w["reached_ns"] - t0) / 1e6 if w["reached_ns"] else None}
            time.sleep(2)
            with open(cfg, "w") as f:
                f.write(gen.ldcf(n, lg, checktype="on", weights={0: 3}))
            t = time.monotonic()
            p.send_signal(signal.SIGHUP)
            rl = None
            while time.monotonic() - t < 300 and rl is None:
                time.sleep(0.05)
                with open(lg) as f:
                    for line in f:
                        m = re.search(r"Reloaded configuration from .*: (\d+) table operations in ([\d.]+) ms", line)
                        if m:
                            rl = (int(m.group(1)), float(m.group(2)))
            r["reload_wall_ms"] = (time.monotonic() - t) * 1e3
            r["reload_ops"], r["reload_ms"] = rl if rl else (None, None)
            r["weight_after_reload"] = "127.1.0.1:8080 Masq 3" in re.sub(r"\s+", " ", run(x + ["ipvsadm", "-Ln"]))
            r["rss_kib"] = status_kib(p.pid, "VmHWM")
            r["stop_ms"] = (stop(p, wait=120) or 0) * 1e3
            r["left_after_stop"] = int(run(x + [NB, "count"]).split()[1])
            shutil.copy(lg, dl)
            drop_ns(ns)
            res["director"]["reps"].append(r)
            log("director rep %d: %s" % (rep, json.dumps(r)))
            with open(o.out + "/table.json", "w") as f:
                json.dump(res, f, indent=1)
    with open(o.out + "/table.json", "w") as f:
        json.dump(res, f, indent=1)


# ------------------------------------------------------------------ task B
class Stamper(threading.Thread):
    """Copies a pipe to a file, each line prefixed by its arrival time (unix ns)."""

    def __init__(self, pipe, path):
        super().__init__(daemon=True)
        self.pipe, self.f = pipe, open(path, "w")

    def run(self):
        for line in self.pipe:
            self.f.write("%d %s" % (now_ns(), line))
            self.f.flush()


def start_daemon(kind, n, out, timeout, pre=()):
    pre = list(pre)
    logs = os.path.join(LOGDIR, os.path.basename(out.rstrip("/")))
    os.makedirs(logs, exist_ok=True)
    if kind == "ldirectord-rs":
        cfg, lg = out + "/ldirectord.cf", logs + "/ldirectord.log"
        with open(cfg, "w") as f:
            f.write(gen.ldcf(n, lg, timeout=timeout))
        p = spawn(pre + [LD, "-f", cfg, "run", "--ipvs", "netlink"],
                  stdout=open(out + "/daemon.out", "w"), stderr=subprocess.STDOUT)
        return p, lg
    cfg, lg = out + "/keepalived.conf", logs + "/keepalived.log"
    with open(cfg, "w") as f:
        f.write(gen.keepalived(n, timeout=timeout))
    p = spawn(pre + ["keepalived", "--check", "--dont-fork", "--log-console", "--no-syslog",
               "--use-file", cfg, "--pid", out + "/keepalived.pid",
               "--checkers_pid", out + "/checkers.pid"],
              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    Stamper(p.stdout, lg).start()
    return p, lg


REAL_RE = re.compile(r"(127\.1\.\d+\.\d+):8080")
KA_REAL_RE = re.compile(r"\[(127\.1\.\d+\.\d+)\]:tcp:8080")


def log_events(kind, lg, since_ns, word):
    """First log time (unix ns) per real index of a removal (word='gone') or
    re-add ('back') after since_ns."""
    out = {}
    try:
        lines = open(lg).read().splitlines()
    except OSError:
        return out
    for line in lines:
        if kind == "ldirectord-rs":
            ts, _, rest = line.partition(" ")
            try:
                t = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1e6) * 1000
            except ValueError:
                continue
            ok = rest.startswith("Deleted real server") if word == "gone" else rest.startswith("Added real server")
            m = REAL_RE.search(rest)
        else:
            ts, _, rest = line.partition(" ")
            try:
                t = int(ts)
            except ValueError:
                continue
            ok = ("Removing service" in rest) if word == "gone" else ("Adding service" in rest)
            m = KA_REAL_RE.search(rest)
        if not ok or not m or t < since_ns:
            continue
        out.setdefault(int(ipaddress.IPv4Address(m.group(1))) - gen.REAL_BASE, t)
    return out


def log_removals(kind, lg):
    """Every removal in a daemon's log: [(unix ns, real index, reason)], in log
    order. keepalived's removal line gives no reason: the last other line that
    named the same real before it (its failed check) stands for one."""
    out, last = [], {}
    try:
        lines = open(lg, errors="replace").read().splitlines()
    except OSError:
        return out
    for line in lines:
        ts, _, rest = line.partition(" ")
        if kind == "ldirectord-rs":
            try:
                t = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1e6) * 1000
            except ValueError:
                continue
            m = REAL_RE.search(rest)
            if rest.startswith("Deleted real server") and m:
                why = rest.partition("reason: ")[2] or "?"
                out.append((t, int(ipaddress.IPv4Address(m.group(1))) - gen.REAL_BASE, why))
        else:
            try:
                t = int(ts)
            except ValueError:
                continue
            m = KA_REAL_RE.search(rest) or REAL_RE.search(rest)
            if not m:
                continue
            i = int(ipaddress.IPv4Address(m.group(1))) - gen.REAL_BASE
            if "Removing service" in rest:
                out.append((t, i, last.get(i, "?")))
            elif "Adding service" not in rest:
                last[i] = rest
    return out


def reason_key(why):
    """A removal reason without its addresses and numbers, for counting."""
    why = re.sub(r"\[?127\.\d+\.\d+\.\d+\]?(:\S+)?", "ADDR", why)
    why = re.sub(r"^\w{3} \w{3} +\d+ [\d:]+ \d{4}: ", "", why)  # keepalived's console date
    why = re.sub(r"^.*?(Keepalived_healthcheckers|Keepalived)\S*:?\s*", "", why)
    return re.sub(r"\d+", "N", why).strip()[:80]


def healthy_removals(events, never_failed, phases, excluded):
    """Removals of reals that were never made to fail, per phase.
    phases: [(name, start_ns, end_ns)] in order; excluded: [(start_ns, end_ns)]
    windows not counted (strace attached)."""
    res = {"deletions": 0, "distinct": 0, "by_phase": {}, "excluded": 0, "reasons": {}}
    seen = set()
    for name, _, _ in phases:
        res["by_phase"][name] = {"deletions": 0, "distinct": 0}
    per_phase = {}
    for t, i, why in events:
        if i not in never_failed:
            continue
        ph = next((name for name, a, b in phases if a <= t < b), None)
        if ph is None:
            continue
        if any(a <= t < b for a, b in excluded):
            res["excluded"] += 1
            continue
        res["deletions"] += 1
        seen.add(i)
        res["by_phase"][ph]["deletions"] += 1
        per_phase.setdefault(ph, set()).add(i)
        k = reason_key(why)
        res["reasons"][k] = res["reasons"].get(k, 0) + 1
    res["distinct"] = len(seen)
    for ph, s in per_phase.items():
        res["by_phase"][ph]["distinct"] = len(s)
    res["reasons"] = dict(sorted(res["reasons"].items(), key=lambda x: -x[1])[:5])
    res["first"] = sorted(seen)[:10]
    return res


def within(lat_ms, switched, window_ms):
    """Latencies of a switch measured against the number switched: the
    distribution over all of them (a real never seen is later than any), and
    how many changed within the window."""
    n_in = sum(1 for x in lat_ms if x <= window_ms)
    xs = sorted(lat_ms) + [float("inf")] * max(0, switched - len(lat_ms))
    d = {"switched": switched, "within_window": n_in, "window_ms": window_ms}
    for q in (50, 90, 99):
        v = pct(xs, q)
        d["p%d" % q] = None if v is None or v == float("inf") else v
        d["p%d_over_window" % q] = v == float("inf")
    return d


def poll_ms(n, given=0):
    """Interval of the table watcher's netlink dumps: a dump of 10,000
    destinations costs ~0.6 s of emulated CPU, so big tables are polled less
    often (the resolution of table-based times is this interval)."""
    return given or max(100, min(1000, n // 10))


def watch(first, count, stride, until, timeout, every=100):
    return spawn([NB, "watch", "--first", str(first), "--count", str(count), "--stride", str(stride),
                  "--until", until, "--timeout", str(timeout), "--interval-ms", str(every)],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def watch_result(p, timeout):
    try:
        so, se = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        so, se = p.communicate()
    try:
        return json.loads(so)
    except ValueError:
        raise RuntimeError("watch failed: %s" % se)


def switch(n, first, stride, mode, kind, lg, timeout, label, res, every=100):
    """Switch n/10 reals to mode; measure the table change (watcher) and the log.
    The watcher gives up `timeout` s after the switch (the phase's cap)."""
    k = max(1, n // 10)
    until = "back" if mode == "ok" else "gone"
    w = watch(first, k, stride, until, timeout + 1, every)
    time.sleep(1.0)  # the watcher's first dump precedes the switch
    done = ctl("set %d %d %s %d" % (first, k, mode, stride))
    r = watch_result(w, timeout + 60)
    lat = [(t - done) / 1e6 for t in r["events"].values()]
    le = log_events(kind, lg, done, until)
    watched = set(first + j * stride for j in range(k))
    llat = [(t - done) / 1e6 for i, t in le.items() if i in watched]
    res[label] = {"switched": k, "done_ns": done, "end_ns": now_ns(), "table_ms": dist(lat),
                  "log_ms": dist(llat), "table": within(lat, k, timeout * 1e3),
                  "log": within(llat, k, timeout * 1e3), "poll_ms": every,
                  "missing": len(r["missing"]), "others_gone": len(r["others_gone"]),
                  "others_gone_first": r["others_gone"][:10], "polls": r["polls"]}
    log("%s: %s" % (label, json.dumps(res[label])))
    return done


def strace_close(pids, secs, path):
    argv = ["timeout", "-s", "INT", str(secs), "strace", "-f", "-T", "-qq", "-e", "trace=close,setsockopt",
            "-o", path]
    for p in pids:
        argv += ["-p", str(p)]
    subprocess.run(argv, capture_output=True)
    durs = []
    try:
        for line in open(path):
            m = re.search(r"close(?:\(\d+\)| resumed>).*=\s+\S+.*<([\d.]+)>", line)
            if m:
                durs.append(float(m.group(1)) * 1e3)
    except OSError:
        pass
    slow = [x for x in durs if x >= 10]
    try:
        txt = open(path).read()
    except OSError:
        txt = ""
    lingers = re.findall(r"SO_LINGER, \{l_onoff=(\d+), l_linger=(\d+)\}", txt)
    return {"closes": len(durs), "ge10ms": len(slow), "ms": dist(durs),
            "slow_p50_ms": pct(slow, 50), "slow_sum_ms": sum(slow),
            "so_linger_calls": len(lingers), "so_linger_values": sorted(set(lingers))}


def tree_kib(pid, key):
    return sum(status_kib(x, key) or 0 for x in tree(pid))


def compare_caps(o):
    """Each phase's cap (s), from the options (defaults scale with N)."""
    n = o.n
    c = {
        "fill": o.fill_max or max(120, int(n * 0.018)),
        "detect": o.detect_max or 60,
        "restore": o.restore_max or (60 if n <= 1000 else 30),
        "poll_ms": poll_ms(n, o.poll_ms),
    }
    # backends start and stop, daemon start and stop (cleanstop), strace attach, dumps
    c["budget"] = int(60 + c["fill"] + 60 + o.warmup + o.steady + (c["detect"] + 2) + 2 * (c["restore"] + 2)
                      + 3 + o.hang_window + 2 + (o.strace + 30 if o.strace else 0) + 120 + 10 + 60
                      + n * 0.01)
    return c


def task_compare(o):
    out = o.out
    n, kind = o.n, o.daemon
    caps = compare_caps(o)
    if o.print_budget:
        print(caps["budget"])
        return
    os.makedirs(out, exist_ok=True)
    res = {"daemon": kind, "n": n, "interval_s": 1, "timeout_s": o.timeout, "caps": caps,
           "windows": {"warmup_s": o.warmup, "steady_s": o.steady, "hang_s": o.hang_window}}
    began = time.monotonic()
    every = caps["poll_ms"]
    if dest_count() != 0:
        raise RuntimeError("the IPVS table of this namespace is not empty")
    bk = start_backends(n, out)
    t0 = now_ns()
    p, lg = start_daemon(kind, n, out, o.timeout)
    res["start_ns"] = t0

    def save():  # partial results survive a timeout or a failure
        with open(out + "/compare.json", "w") as f:
            json.dump(res, f, indent=1)

    w = nb_json(["wait-count", str(n), "--timeout", str(caps["fill"]), "--interval-ms", str(every)],
                timeout=caps["fill"] + 60)
    res["fill_ms"] = (w["reached_ns"] - t0) / 1e6 if w["reached_ns"] else None
    res["fill"] = {"reached": w["reached_ns"] is not None, "dests": w["dests"], "cap_s": caps["fill"],
                   "polls": w["polls"]}
    log("%s n=%d: table full after %s ms (%s)" % (kind, n, res["fill_ms"], json.dumps(res["fill"])))
    if p.poll() is not None:
        raise RuntimeError("%s exited with %s" % (kind, p.returncode))
    pids = tree(p.pid)
    res["pids"] = len(pids)
    time.sleep(o.warmup)

    # steady state
    steady_ns = now_ns()
    res["dests_at_steady_start"] = dest_count()
    ctl("reset")
    c0, b0, t = cpu_s(tree(p.pid)), cpu_s([bk.pid]), time.monotonic()
    time.sleep(o.steady)
    rows = ctl("stats")
    c1, b1, dt = cpu_s(tree(p.pid)), cpu_s([bk.pid]), time.monotonic() - t
    checks = sum(c for c, _ in rows)
    gaps = [g / 1e6 for _, g in rows]
    cpr = checks / n / dt
    res["steady"] = {
        "window_s": dt, "checks": checks, "cpu_s": c1 - c0, "backends_cpu_s": b1 - b0,
        "cpu_s_per_1000_checks": (c1 - c0) / checks * 1000 if checks else None,
        "cpu_us_per_check": (c1 - c0) / checks * 1e6 if checks else None,
        "cores": (c1 - c0) / dt,
        "checks_per_real_per_s": cpr,
        "interval_held": "yes" if cpr >= 0.95 else "no",
        "reals_never_checked": sum(1 for c, _ in rows if c == 0),
        "max_gap_ms": dist(gaps),
        "late_reals_gap_over_1100ms": sum(1 for g in gaps if g > 1100),
        "rss_kib": tree_kib(p.pid, "VmRSS"),
        "rss_hwm_kib": tree_kib(p.pid, "VmHWM"),
    }
    res["dests_at_steady_end"] = dest_count()
    log("steady: %s" % json.dumps(res["steady"]))
    save()

    # 10% fail, then back
    switch(n, 0, 10, "fail", kind, lg, caps["detect"], "fail", res, every)
    switch(n, 0, 10, "ok", kind, lg, caps["restore"], "fail_restore", res, every)
    save()
    time.sleep(3)

    # 10% hang: detection, healthy reals' check rate, wrong removals, CPU
    k = max(1, n // 10)
    hung = set(5 + 10 * j for j in range(k))
    ctl("reset")
    c0, t = cpu_s(tree(p.pid)), time.monotonic()
    wt = watch(5, k, 10, "gone", o.hang_window + 1, every)
    time.sleep(1.0)
    done = ctl("set 5 %d hang 10" % k)
    time.sleep(o.hang_window)
    rows = ctl("stats")
    c1, dt = cpu_s(tree(p.pid)), time.monotonic() - t
    r = watch_result(wt, o.hang_window + 60)
    healthy = [(c, g) for i, (c, g) in enumerate(rows) if i not in hung]
    hc = sum(c for c, _ in healthy)
    allc = sum(c for c, _ in rows)
    le = log_events(kind, lg, done, "gone")
    lat = [(x - done) / 1e6 for x in r["events"].values()]
    llat = [(x - done) / 1e6 for i, x in le.items() if i in hung]
    res["hang"] = {
        "switched": k, "window_s": dt, "hang_window_s": o.hang_window, "poll_ms": every,
        "table_ms": dist(lat),
        "log_ms": dist(llat),
        "table": within(lat, k, o.hang_window * 1e3),
        "log": within(llat, k, o.hang_window * 1e3),
        "missing": len(r["missing"]),
        "healthy_wrongly_removed": len(r["others_gone"]),
        "healthy_wrongly_removed_log": len([i for i in le if i not in hung]),
        "healthy_wrongly_removed_first": r["others_gone"][:10],
        "healthy_checks_per_real_per_s": hc / len(healthy) / dt if healthy else None,
        "healthy_max_gap_ms": dist([g / 1e6 for _, g in healthy]),
        "healthy_late_gap_over_1100ms": sum(1 for _, g in healthy if g > 1100e6),
        "cpu_s": c1 - c0, "connections_accepted": allc,
        "cpu_s_per_1000_checks": (c1 - c0) / allc * 1000 if allc else None,
    }
    log("hang: %s" % json.dumps(res["hang"]))
    res["rss_hwm_kib"] = tree_kib(p.pid, "VmHWM")
    res["rss_hwm_kib_each"] = [status_kib(x, "VmHWM") for x in tree(p.pid)]
    res["rss_end_kib"] = tree_kib(p.pid, "VmRSS")
    save()
    # close() durations while reals hang (strace slows the daemon: after the measurements;
    # removals logged while it is attached, and one timeout after, are not counted below)
    excluded = []
    if o.strace:
        s0 = now_ns()
        res["hang_strace_close"] = strace_close(tree(p.pid), o.strace, out + "/strace-close.txt")
        excluded.append((s0, now_ns() + int((o.timeout + 2) * 1e9)))
        log("strace close: %s" % json.dumps(res["hang_strace_close"]))
    switch(n, 5, 10, "ok", kind, lg, caps["restore"], "hang_restore", res, every)
    stop_ns = now_ns()
    res["stop_s"] = stop(p, wait=120)
    # every removal of a real that was never made to fail, from the daemon's start
    # until it was told to stop (the log; keepalived's removals at stop not counted)
    fail_ns = res["fail"]["done_ns"]
    never_failed = set(range(n)) - set(range(0, n, 10)) - hung
    phases = [("start", t0, steady_ns), ("steady", steady_ns, fail_ns), ("switches", fail_ns, stop_ns)]
    ev = log_removals(kind, lg)
    res["healthy_removed_run"] = healthy_removals(ev, never_failed, phases, excluded)
    res["healthy_removed_run"].update({"never_failed": len(never_failed),
                                       "excluded_windows_s": [(b - a) / 1e9 for a, b in excluded]})
    # any real at all, before the first switch (start, warm-up, steady)
    pre = [i for t, i, _ in ev if t0 <= t < fail_ns]
    res["removed_before_switches"] = {"deletions": len(pre), "distinct": len(set(pre))}
    log("healthy reals removed over the run: %s" % json.dumps(res["healthy_removed_run"]))
    shutil.copy(lg, out)
    res["left_after_stop"] = dest_count()
    try:
        with socket.create_connection(CTL, timeout=10) as s:
            s.sendall(b"quit\n")
    except OSError:
        pass
    stop(bk, wait=10)
    res["complete"] = True
    res["elapsed_s"] = time.monotonic() - began
    save()


def task_interleave(o):
    """Both daemons at once, each in its own netns with its own backends; only
    one runs at a time (the other is SIGSTOPped), alternating short windows,
    so slow drifts of the emulation's speed (host load) hit both alike."""
    out, n = o.out, o.n
    fill = o.fill_max or max(120, int(n * 0.018))
    perf = o.perf if shutil.which("perf") else 0
    if o.print_budget:
        print(int(60 + 2 * (60 + fill + 30) + o.rounds * 2 * (o.settle + o.window + 5)
                  + (2 * (o.settle + perf + 130) if perf else 0) + 2 * (60 + 10) + 60 + n * 0.01))
        return
    os.makedirs(out, exist_ok=True)
    subj = {}
    for kind, ns in (("keepalived", "vb-k"), ("ldirectord-rs", "vb-r")):
        d = out + "/" + kind
        os.makedirs(d, exist_ok=True)
        pre = ["ip", "netns", "exec", ns]
        bk = start_backends(n, d, pre)
        t0 = now_ns()
        p, _ = start_daemon(kind, n, d, o.timeout, pre)
        w = nb_json_ns(ns, ["wait-count", str(n), "--timeout", str(fill), "--interval-ms", str(poll_ms(n))],
                       timeout=fill + 60)
        log("interleave %s: table %s (%s)" % (kind, "full" if w["reached_ns"] else "NOT full", w))
        for x in tree(p.pid):
            os.kill(x, signal.SIGSTOP)
        subj[kind] = {"ns": ns, "p": p, "bk": bk, "rounds": [],
                      "fill_ms": (w["reached_ns"] - t0) / 1e6 if w["reached_ns"] else None,
                      "fill_dests": w["dests"]}
    order = ["keepalived", "ldirectord-rs"]
    for r in range(o.rounds):
        for kind in (order if r % 2 == 0 else order[::-1]):
            sj = subj[kind]
            pids = tree(sj["p"].pid)
            for x in pids:
                os.kill(x, signal.SIGCONT)
            time.sleep(o.settle)
            ctl("reset", sj["ns"])
            c0, b0, t = cpu_s(pids), cpu_s([sj["bk"].pid]), time.monotonic()
            time.sleep(o.window)
            rows = ctl("stats", sj["ns"])
            c1, b1, dt = cpu_s(pids), cpu_s([sj["bk"].pid]), time.monotonic() - t
            for x in pids:
                os.kill(x, signal.SIGSTOP)
            checks = sum(c for c, _ in rows)
            rr = {"window_s": dt, "checks": checks, "cpu_s": c1 - c0, "backends_cpu_s": b1 - b0,
                  "cpu_s_per_1000_checks": (c1 - c0) / checks * 1000 if checks else None,
                  "checks_per_real_per_s": checks / n / dt}
            sj["rounds"].append(rr)
            log("interleave %s round %d: %s" % (kind, r, json.dumps(rr)))
    res = {"n": n, "window_s": o.window, "rounds": o.rounds, "fill_cap_s": fill}
    for kind, sj in subj.items():
        rs = sj["rounds"]
        cpu, chk = sum(x["cpu_s"] for x in rs), sum(x["checks"] for x in rs)
        res[kind] = {"rounds": rs, "cpu_s": cpu, "checks": chk,
                     "cpu_s_per_1000_checks": cpu / chk * 1000 if chk else None,
                     "cpu_us_per_check": cpu / chk * 1e6 if chk else None,
                     "median_round_cpu_s_per_1000": med([x["cpu_s_per_1000_checks"] for x in rs]),
                     "checks_per_real_per_s": med([x["checks_per_real_per_s"] for x in rs]),
                     "fill_ms": sj["fill_ms"], "fill_dests": sj["fill_dests"],
                     "rss_kib": tree_kib(sj["p"].pid, "VmRSS"),
                     "rss_hwm_kib": tree_kib(sj["p"].pid, "VmHWM")}
    with open(out + "/interleave.json", "w") as f:  # the profiles below are extra
        json.dump(res, f, indent=1)
    if perf:
        # where the CPU goes, one daemon at a time (flat profile, 999 Hz cpu-clock);
        # the guest's /proc/kallsyms is saved by guest.sh for the host-side report.
        # perf's own start-up takes 20-40 s under emulation: bounded, and its failure
        # costs only the profile
        for kind, sj in subj.items():
            pids = tree(sj["p"].pid)
            for x in pids:
                os.kill(x, signal.SIGCONT)
            time.sleep(o.settle)
            data = "%s/%s/perf.data" % (out, kind)
            try:
                subprocess.run(["timeout", "-k", "10", "-s", "INT", str(int(perf + 90)),
                                "perf", "record", "-q", "-F", "999", "-e", "cpu-clock", "-o", data,
                                "-p", ",".join(str(x) for x in pids), "--", "sleep", str(perf)],
                               capture_output=True, timeout=perf + 120)
                log("interleave %s: perf profile in %s" % (kind, data))
            except subprocess.TimeoutExpired:
                log("interleave %s: perf did not finish, no profile" % kind)
            for x in pids:
                os.kill(x, signal.SIGSTOP)
            # (reported on the host by run.sh: symbol lookup is slow under emulation)
    for kind, sj in subj.items():
        for x in tree(sj["p"].pid):
            os.kill(x, signal.SIGCONT)
        stop(sj["p"], wait=60)
        stop(sj["bk"], wait=10)


def nb_json_ns(ns, args, timeout=None):
    r = subprocess.run(["ip", "netns", "exec", ns, NB] + args, capture_output=True, text=True, timeout=timeout)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        raise RuntimeError("netlink_bench %s: rc %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return json.loads(r.stdout)


# ------------------------------------------------------------------ summary
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=1):
    if x is None:
        return "-"
    if isinstance(x, float):
        return ("%%.%df" % nd) % x
    return str(x)


def ratio(a, b):
    return a / b if a is not None and b else None


def summarize(d):
    summ, md = {}, []
    tj = os.path.join(d, "table", "table.json")
    if os.path.exists(tj):
        t = json.load(open(tj))
        reps = t["reps"]
        m = {
            "ours_install_ms": med([r["ours"]["add_ms"] for r in reps]),
            "ipvsadm_restore_ms": med([r["ipvsadm_restore_ms"] for r in reps]),
            "ours_edit_ms": med([r["ours"]["edit_ms"] for r in reps]),
            "ipvsadm_edit_batch_ms": med([r["ipvsadm_edit_batch_ms"] for r in reps]),
            "ipvsadm_edit_procs_ms": med([r.get("ipvsadm_edit_procs_ms") for r in reps]),
            "ours_clear_ms": med([r["ours"]["clear_ms"] for r in reps]),
            "ipvsadm_clear_ms": med([r["ipvsadm_clear_ms"] for r in reps]),
            "ours_dump_ms": med([r["ours"]["dump_ms"] for r in reps]),
            "ours_reinstall_ms": med([r.get("ours_reinstall", {}).get("add_ms") for r in reps]),
            "ipvsadm_reinstall_ms": med([r.get("ipvsadm_reinstall_ms") for r in reps]),
        }
        if "director" in t:
            dr = t["director"]["reps"]
            m["director_fill_ms"] = med([r["fill_ms"] for r in dr])
            m["director_reload_ms"] = med([r["reload_ms"] for r in dr])
            m["director_reload_ops"] = med([r["reload_ops"] for r in dr])
            m["director_reload_wall_ms"] = med([r["reload_wall_ms"] for r in dr])
            m["director_stop_ms"] = med([r["stop_ms"] for r in dr])
        summ["table"] = m
        n = t["services"] * t["dests_per_service"]
        md += ["### Task A: %d destinations (%d services x %d), %d weight changes; median of %d"
               % (n, t["services"], t["dests_per_service"], t["edits"], len(reps)), "",
               "| operation | ours (netlink) ms | ipvsadm ms | ours/ipvsadm |", "|---|---:|---:|---:|"]
        md.append("| install %d dests (ours: one request each; ipvsadm -R) | %s | %s | %s |" % (
            n, fmt(m["ours_install_ms"]), fmt(m["ipvsadm_restore_ms"]),
            fmt(ratio(m["ours_install_ms"], m["ipvsadm_restore_ms"]), 2)))
        md.append("| %d weight changes vs one `ipvsadm -R` batch | %s | %s | %s |" % (
            t["edits"], fmt(m["ours_edit_ms"]), fmt(m["ipvsadm_edit_batch_ms"]),
            fmt(ratio(m["ours_edit_ms"], m["ipvsadm_edit_batch_ms"]), 2)))
        md.append("| %d weight changes vs %d `ipvsadm -e` processes | %s | %s | %s |" % (
            t["edits"], t["edits"], fmt(m["ours_edit_ms"]), fmt(m["ipvsadm_edit_procs_ms"]),
            fmt(ratio(m["ours_edit_ms"], m["ipvsadm_edit_procs_ms"]), 3)))
        md.append("| delete all (%d del_service vs ipvsadm -C) | %s | %s | %s |" % (
            t["services"], fmt(m["ours_clear_ms"]), fmt(m["ipvsadm_clear_ms"]),
            fmt(ratio(m["ours_clear_ms"], m["ipvsadm_clear_ms"]), 2)))
        md.append("| reinstall right after deleting them all (kernel trash scan) | %s | %s | %s |" % (
            fmt(m["ours_reinstall_ms"]), fmt(m["ipvsadm_reinstall_ms"]),
            fmt(ratio(m["ours_reinstall_ms"], m["ipvsadm_reinstall_ms"]), 2)))
        md.append("| dump %d dests (netlink) | %s | | |" % (n, fmt(m["ours_dump_ms"])))
        if "director" in t:
            md.append("| director start until all %d reals in the kernel (checktype=on) | %s | %s (ipvsadm -R) | %s |" % (
                t["director"]["reals"], fmt(m["director_fill_ms"]), fmt(m["ipvsadm_restore_ms"]),
                fmt(ratio(m["director_fill_ms"], m["ipvsadm_restore_ms"]), 2)))
            md.append("| director SIGHUP reload, one weight changed (logged; %s ops) | %s | | |" % (
                fmt(m["director_reload_ops"]), fmt(m["director_reload_ms"])))
            md.append("| same, wall time SIGHUP until the log line | %s | | |" % fmt(m["director_reload_wall_ms"]))
            md.append("| director stop (cleanstop: deletes all) | %s | | |" % fmt(m["director_stop_ms"]))
        md.append("")
    # task B
    comp = {}
    for sub in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        cj = os.path.join(d, sub, "compare.json")
        if os.path.exists(cj):
            c = json.load(open(cj))
            comp.setdefault(c["n"], {})[c["daemon"]] = c
    inter = {}
    for sub in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        ij = os.path.join(d, sub, "interleave.json")
        if os.path.exists(ij):
            it = json.load(open(ij))
            inter[it["n"]] = it
    if comp:
        summ["compare"] = {}

    def g(c, *path):
        for p in path:
            if c is None:
                return None
            c = c.get(p) if isinstance(c, dict) else None
        return c

    def fill(c):
        if c is None:
            return None
        if c.get("fill_ms") is not None:
            return c["fill_ms"]
        f = c.get("fill")
        return "> %d s (%d of %d)" % (f["cap_s"], f["dests"], c["n"]) if f else None

    def lat(part, q):
        def f(c):
            t = g(c, *part)
            if t is None:
                return None
            if t.get("p%d_over_window" % q):
                return "> %d" % t["window_ms"]
            return t.get("p%d" % q)
        return f

    def within_(part):
        def f(c):
            t = g(c, *part)
            return None if t is None else "%d of %d" % (t["within_window"], t["switched"])
        return f

    def hrun(c):
        h = g(c, "healthy_removed_run")
        return None if h is None else "%d (%d distinct)" % (h["deletions"], h["distinct"])

    def hphase(ph):
        def f(c):
            h = g(c, "healthy_removed_run", "by_phase", ph)
            return None if h is None else "%d (%d distinct)" % (h["deletions"], h["distinct"])
        return f

    def inter_(kind, key):
        def f(c):
            return g(inter.get(c["n"]) if c else None, kind, key)
        return f

    for n in sorted(comp):
        a, b = comp[n].get("ldirectord-rs"), comp[n].get("keepalived")
        P = lambda *path: (lambda c: g(c, *path))  # noqa: E731
        rows = [
            ("table full after start (ms; daemon start to every real in the IPVS table)", fill, fill, 0),
            ("steady: CPU per check (us)", lambda c: g(c, "steady", "cpu_us_per_check") or (
                g(c, "steady", "cpu_s_per_1000_checks") or 0) * 1e3 or None, None, 0),
            ("steady: CPU per check, interleaved run (us)", inter_("ldirectord-rs", "cpu_us_per_check"),
             inter_("keepalived", "cpu_us_per_check"), 0),
            ("steady: CPU s per 1,000 checks", P("steady", "cpu_s_per_1000_checks"), None, 3),
            ("steady: cores used", P("steady", "cores"), None, 3),
            ("steady: checks per real per s (target 1.0)", P("steady", "checks_per_real_per_s"), None, 3),
            ("steady: interval held (>= 0.95 checks per real per s)", P("steady", "interval_held"), None, 0),
            ("steady: max gap between checks of a real, p99 (ms)", P("steady", "max_gap_ms", "p99"), None, 0),
            ("steady: reals with a gap > 1.1 s", P("steady", "late_reals_gap_over_1100ms"), None, 0),
            ("steady: reals in the table at its start / end", lambda c: None if c is None else "%s / %s" % (
                c.get("dests_at_steady_start", "-"), c.get("dests_at_steady_end", "-")), None, 0),
            ("RSS steady, all processes (KiB)", P("steady", "rss_kib"), None, 0),
            ("peak RSS VmHWM, all processes (KiB)", P("rss_hwm_kib"), None, 0),
            ("healthy reals wrongly removed, whole run: deletions (distinct)", hrun, None, 0),
            ("  of which at start (until the steady window)", hphase("start"), None, 0),
            ("  of which in the steady window", hphase("steady"), None, 0),
            ("  of which during the fail/hang switches", hphase("switches"), None, 0),
            ("any real removed before the first switch", lambda c: None if g(c, "removed_before_switches") is None
             else "%d (%d distinct)" % (c["removed_before_switches"]["deletions"],
                                        c["removed_before_switches"]["distinct"]), None, 0),
            ("10% fail (503): detection in the table p50 (ms)", lat(("fail", "table"), 50), None, 0),
            ("10% fail (503): detection in the table p99 (ms)", lat(("fail", "table"), 99), None, 0),
            ("10% fail (503): detection in the table max (ms)", P("fail", "table_ms", "max"), None, 0),
            ("10% fail (503): detection from the log p50 / p99 (ms)", lambda c: None if g(c, "fail", "log") is None
             else "%s / %s" % (fmt(lat(("fail", "log"), 50)(c), 0), fmt(lat(("fail", "log"), 99)(c), 0)), None, 0),
            ("10% fail (503): removed within the cap", within_(("fail", "table")), None, 0),
            ("10% fail: healthy reals removed meanwhile (watcher)", P("fail", "others_gone"), None, 0),
            ("restore after fail p50 (ms)", P("fail_restore", "table_ms", "p50"), None, 0),
            ("10% hang: removal from the table p50 (ms)", lat(("hang", "table"), 50), None, 0),
            ("10% hang: removal from the table p99 (ms)", lat(("hang", "table"), 99), None, 0),
            ("10% hang: removal from the log p50 / p99 (ms)", lambda c: None if g(c, "hang", "log") is None
             else "%s / %s" % (fmt(lat(("hang", "log"), 50)(c), 0), fmt(lat(("hang", "log"), 99)(c), 0)), None, 0),
            ("10% hang: hung reals removed within the window", within_(("hang", "table")), None, 0),
            ("10% hang: never removed (watcher)", P("hang", "missing"), None, 0),
            ("10% hang: healthy reals wrongly removed (watcher)", P("hang", "healthy_wrongly_removed"), None, 0),
            ("10% hang: healthy checks per real per s", P("hang", "healthy_checks_per_real_per_s"), None, 3),
            ("10% hang: healthy max gap p99 (ms)", P("hang", "healthy_max_gap_ms", "p99"), None, 0),
            ("10% hang: healthy reals with a gap > 1.1 s", P("hang", "healthy_late_gap_over_1100ms"), None, 0),
            ("10% hang: CPU s per 1,000 connections", P("hang", "cpu_s_per_1000_checks"), None, 3),
            ("hang (strace): close() calls >= 10 ms", P("hang_strace_close", "ge10ms"), None, 0),
            ("hang (strace): median of those (ms)", P("hang_strace_close", "slow_p50_ms"), None, 1),
            ("hang (strace): close() calls seen", P("hang_strace_close", "closes"), None, 0),
            ("hang (strace): setsockopt(SO_LINGER) calls", P("hang_strace_close", "so_linger_calls"), None, 0),
            ("stop (s)", P("stop_s"), None, 2),
            ("this run took (s)", P("elapsed_s"), None, 0),
        ]
        ca, cb = (g(a, "caps") or {}), (g(b, "caps") or {})
        caps = ca or cb
        wins = (g(a or b, "windows", "steady_s") or g(a or b, "steady", "window_s"),
                g(a or b, "windows", "hang_s") or g(a or b, "hang", "hang_window_s"))
        md += ["### Task B: N = %d reals, HTTP checks every 1 s, timeout 3 s" % n, "",
               "Windows: steady %s s, hang %s s; caps: fill %s s, 503 detection %s s; table polled every %s ms."
               % (fmt(wins[0], 0), fmt(wins[1], 0), caps.get("fill", "-"), caps.get("detect", "-"),
                  caps.get("poll_ms", "-")), "",
               "| measure | ldirectord-rs | keepalived | ours/keepalived |", "|---|---:|---:|---:|"]
        s2 = {}
        for label, fa, fb, nd in rows:
            x, y = fa(a), (fb or fa)(b)
            s2[label] = [x, y]
            r = ratio(x, y) if isinstance(x, (int, float)) and isinstance(y, (int, float)) else None
            md.append("| %s | %s | %s | %s |" % (label, fmt(x, nd), fmt(y, nd), fmt(r, 2)))
        md.append("")
        for kind, c in (("ldirectord-rs", a), ("keepalived", b)):
            rs = g(c, "healthy_removed_run", "reasons")
            if rs:
                md.append("%s: reasons of the wrong removals: %s" % (
                    kind, "; ".join("%s x%d" % (k, v) for k, v in rs.items())))
            if c is not None and not c.get("complete", True):
                md.append("%s: **run incomplete** (partial results)" % kind)
        summ["compare"][str(n)] = s2
        md.append("")
    if inter:
        summ["interleave"] = {}
        md += ["### Task B, steady CPU with the two daemons interleaved (one SIGSTOPped while the other "
               "is measured)", "",
               "| N | rounds x window | ldirectord-rs CPU s / 1,000 checks | keepalived | ours/keepalived "
               "| ours checks/real/s | keepalived checks/real/s |", "|---:|---|---:|---:|---:|---:|---:|"]
        rest = ["", "| N | CPU per check ours / keepalived (us) | ratio | RSS ours / keepalived (KiB) "
                "| peak RSS ours / keepalived (KiB) | table full ours / keepalived (ms) |",
                "|---:|---|---:|---|---|---|"]
        for _, it in sorted(inter.items()):
            a, b = it["ldirectord-rs"], it["keepalived"]
            ra = med([x["checks_per_real_per_s"] for x in a["rounds"]])
            rb = med([x["checks_per_real_per_s"] for x in b["rounds"]])
            md.append("| %d | %d x %.0f s | %s | %s | %s | %s | %s |" % (
                it["n"], it["rounds"], it["window_s"], fmt(a["cpu_s_per_1000_checks"], 3),
                fmt(b["cpu_s_per_1000_checks"], 3),
                fmt(ratio(a["cpu_s_per_1000_checks"], b["cpu_s_per_1000_checks"]), 2), fmt(ra, 3), fmt(rb, 3)))

            def fl(x):
                if x.get("fill_ms") is not None:
                    return fmt(x["fill_ms"], 0)
                return "> %s s (%s)" % (it.get("fill_cap_s", "?"), x.get("fill_dests", "?")) if "fill_dests" in x else "-"
            rest.append("| %d | %s / %s | %s | %s / %s | %s / %s | %s / %s |" % (
                it["n"], fmt(a.get("cpu_us_per_check"), 0), fmt(b.get("cpu_us_per_check"), 0),
                fmt(ratio(a.get("cpu_us_per_check"), b.get("cpu_us_per_check")), 2),
                fmt(a.get("rss_kib")), fmt(b.get("rss_kib")), fmt(a.get("rss_hwm_kib")), fmt(b.get("rss_hwm_kib")),
                fl(a), fl(b)))
            summ["interleave"][str(it["n"])] = {"ours": a["cpu_s_per_1000_checks"],
                                                "keepalived": b["cpu_s_per_1000_checks"],
                                                "ours_us_per_check": a.get("cpu_us_per_check"),
                                                "keepalived_us_per_check": b.get("cpu_us_per_check"),
                                                "ours_checks_per_real_per_s": ra,
                                                "keepalived_checks_per_real_per_s": rb}
        md += rest
        md.append("")
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(summ, f, indent=1)
    with open(os.path.join(d, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("table")
    a.add_argument("--out", required=True)
    a.add_argument("--reps", type=int, default=3)
    a.add_argument("--services", type=int, default=100)
    a.add_argument("--dests", type=int, default=100)
    a.add_argument("--edits", type=int, default=1000)
    a.add_argument("--director-reals", type=int, default=10000)
    a.add_argument("--procs", type=int, default=1, help="1: also time one ipvsadm process per -e (slow)")
    b = sub.add_parser("compare")
    b.add_argument("--out", required=True)
    b.add_argument("--daemon", choices=["ldirectord-rs", "keepalived"], required=True)
    b.add_argument("--n", type=int, required=True)
    b.add_argument("--steady", type=float, default=20)
    b.add_argument("--hang-window", type=float, default=20)
    b.add_argument("--warmup", type=float, default=5)
    b.add_argument("--timeout", type=int, default=3)
    b.add_argument("--strace", type=int, default=4, help="seconds of strace on close() while reals hang (0: none)")
    b.add_argument("--fill-max", type=int, default=0, help="cap (s) on waiting for the full table at start "
                   "(0: max(120, N*0.018))")
    b.add_argument("--detect-max", type=int, default=0, help="cap (s) on the 10%% fail detection (0: 60)")
    b.add_argument("--restore-max", type=int, default=0, help="cap (s) on each restore (0: 60, 30 above 1,000)")
    b.add_argument("--poll-ms", type=int, default=0, help="table watcher's dump interval (0: N/10 in 100..1000)")
    b.add_argument("--print-budget", action="store_true", help="print the run's bound in s (the sum of "
                   "its caps) and exit")
    i = sub.add_parser("interleave")
    i.add_argument("--out", required=True)
    i.add_argument("--n", type=int, required=True)
    i.add_argument("--rounds", type=int, default=4)
    i.add_argument("--window", type=float, default=5)
    i.add_argument("--settle", type=float, default=1.5)
    i.add_argument("--timeout", type=int, default=3)
    i.add_argument("--perf", type=float, default=5, help="seconds of perf record per daemon (0: none)")
    i.add_argument("--fill-max", type=int, default=0, help="cap (s) on each daemon's table fill (0: max(120, N*0.018))")
    i.add_argument("--print-budget", action="store_true", help="print the run's bound in s and exit")
    s = sub.add_parser("summarize")
    s.add_argument("dir")
    o = p.parse_args()
    # guest.sh bounds each run with timeout(1): leave through `finally`, stopping what we started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    try:
        if o.cmd == "table":
            task_table(o)
        elif o.cmd == "compare":
            task_compare(o)
        elif o.cmd == "interleave":
            task_interleave(o)
        else:
            summarize(o.dir)
    finally:
        stop_all()


if __name__ == "__main__":
    main()
