#!/usr/bin/env python3
"""The measurements of scripts/bench (run that script: it builds build/bench first).

Everything runs on loopback against a real single-node Kafka broker (scripts/kafka-broker), bench_receiver (a
one-thread epoll HTTP/1.1 keep-alive receiver) and `relay deliver` processes. CPU placement on this 2-core machine:
relay on CPU 1, receiver + wrk + bench_producer on CPU 0, the broker's JVM on CPUs 0-1. Every load loop is bounded
in count and in time; a run whose ledger (produced = delivered + dead-lettered, per subscription, duplicates
counted) does not balance is void and reported as such.
"""
import argparse
import base64
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
START = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


class Bench:
    def __init__(self, args):
        self.args = args
        self.root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
        self.build = os.path.abspath(args.build_dir)
        self.relay = os.path.join(self.build, "relay", "relay", "relay")
        self.receiver_bin = os.path.join(self.build, "bench_receiver")
        self.producer_bin = os.path.join(self.build, "bench_producer")
        self.work = os.path.join(self.build, "run")
        os.makedirs(self.work, exist_ok=True)
        self.broker_dir = os.path.join(self.work, "kafka")
        self.procs = []
        self.void = []  # names of runs whose ledger did not balance
        self.results = {}
        self.ledgers = []
        self.deadline = START + args.budget
        self.secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        self.seq = 0

    # ----- infrastructure -------------------------------------------------------------------------------------
    def start_broker(self):
        log("starting the Kafka broker")
        subprocess.run([os.path.join(self.root, "scripts", "kafka-broker"), "start", self.broker_dir], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(self.broker_dir, "bootstrap")) as f:
            self.brokers = f.read().strip()
        with open(os.path.join(self.broker_dir, "pid")) as f:
            pid = f.read().strip()
        subprocess.run(["taskset", "-a", "-p", "-c", "0,1", pid], check=False, stdout=subprocess.DEVNULL)

    def stop_broker(self):
        subprocess.run([os.path.join(self.root, "scripts", "kafka-broker"), "stop", self.broker_dir], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_receiver(self):
        p = subprocess.Popen(["taskset", "-c", "0", self.receiver_bin, "--ports", "4"], stdout=subprocess.PIPE,
                             text=True)
        self.procs.append(p)
        line = p.stdout.readline().split()
        if not line or line[0] != "ports":
            raise RuntimeError("bench_receiver did not start")
        self.ports = [int(x) for x in line[1:]]
        self.rx_pid = p.pid

    def rx(self, what):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[0]}/{what}", timeout=30) as r:
            return json.loads(r.read())

    def rx_dump(self):
        path = os.path.join(self.work, "dump.txt")
        self.rx("_dump?file=" + path)
        rows = []
        with open(path) as f:
            for line in f:
                p, arrival, status, ts, seq, key, wid = line.split()
                rows.append((p, int(arrival), int(status), int(ts), int(seq), key, wid))
        return rows

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()

    def time_left(self):
        return self.deadline - time.monotonic()

    def name(self, prefix):
        self.seq += 1
        return f"{prefix}{self.seq}"

    def create_topic(self, topic, partitions):
        subprocess.run(["taskset", "-c", "0", self.producer_bin, "create", "--brokers", self.brokers, "--topic", topic,
                        "--partitions", str(partitions)], check=True)

    def produce(self, topic, count, keys=0, rate=0.0, run="r", seconds=120):
        out = subprocess.run(["taskset", "-c", "0", self.producer_bin, "produce", "--brokers", self.brokers, "--topic",
                              topic, "--count", str(count), "--keys", str(keys), "--rate", str(rate), "--run", run,
                              "--seconds", str(seconds)], check=False, capture_output=True, text=True)
        res = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {"produced": 0}
        if out.returncode != 0:
            log(f"producer: {out.stderr.strip()} {res}")
        return res

    def dataset(self, count, keys, partitions=24):
        """A topic preloaded with `count` events over `keys` keys; returns (topic, produced)."""
        topic = self.name(f"bench.k{keys}.n{count}.")
        self.create_topic(topic, partitions)
        res = self.produce(topic, count, keys=keys, run=topic.replace(".", ""))
        return topic, res["produced"]

    # ----- workers --------------------------------------------------------------------------------------------
    def sub(self, sid, path, port=0, **extra):
        s = {"id": sid, "url": f"http://127.0.0.1:{self.ports[port]}{path}", "secret": self.secret,
             "event_types": ["*"]}
        s.update(extra)
        return s

    def start_worker(self, topic, subs, delivery=None, tag="w"):
        run = self.name(tag)
        cfg = {
            "log": {"level": "info"},
            "admin": {"address": "127.0.0.1", "port": 0},
            "kafka": {"brokers": self.brokers, "group_id": f"bench-{run}", "partitions": 4},
            "topics": {"events": topic, "subscriptions": f"bench.{run}.subs", "retry_prefix": f"bench.{run}.retry.",
                       "dlq": f"bench.{run}.dlq"},
            "delivery": {"allow_http": True, "allow_loopback": True, "threads": 1, "retry_schedule": ["1s", "5s"]},
            "subscriptions": subs,
        }
        cfg["delivery"].update(delivery or {})
        path = os.path.join(self.work, f"{run}.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        logf = os.path.join(self.work, f"{run}.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        p = subprocess.Popen(["taskset", "-c", "1", self.relay, "deliver", "-c", path], stdout=open(logf, "w"),
                             stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            if p.poll() is not None:
                raise RuntimeError(f"relay deliver exited ({p.returncode}); log {logf}")
            with open(logf) as f:
                if '"msg":"worker ready"' in f.read():
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"relay deliver not ready after 60 s; log {logf}")
        return {"proc": p, "cfg": path, "log": logf, "run": run, "subs": subs}

    def stop_worker(self, w):
        p = w["proc"]
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(40)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    @staticmethod
    def cpu_s(pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def broker_cpu_s(self):
        """CPU seconds of the broker's JVM (0 when it cannot be read)."""
        try:
            with open(os.path.join(self.broker_dir, "pid")) as f:
                return self.cpu_s(int(f.read().strip()))
        except (OSError, ValueError):
            return 0.0

    @staticmethod
    def status_kb(pid, key):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def dlq_counts(self, w):
        out = subprocess.run([self.relay, "dlq", "list", "--json", "-c", w["cfg"], "--timeout", "20s"],
                             capture_output=True, text=True, check=False,
                             env={k: v for k, v in os.environ.items() if not k.startswith("RELAY_")})
        if out.returncode != 0:
            raise RuntimeError("relay dlq list failed: " + out.stderr[-500:])
        counts = {}
        for line in out.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                sid = json.loads(line).get("subscription_id") or "-"
                counts[sid] = counts.get(sid, 0) + 1
        return counts

    def ledger(self, name, w, produced, paths, dlq=None):
        """paths: {subscription id: receiver path}. Every subscription must get every produced event."""
        stats = self.rx("_stats")["paths"]
        if dlq is None:
            dlq = self.dlq_counts(w)
        ok = True
        parts = []
        for sid, path in paths.items():
            st = stats.get(path, {"unique_2xx": 0, "duplicates_2xx": 0})
            d, dl, dup = st["unique_2xx"], dlq.get(sid, 0), st["duplicates_2xx"]
            bal = d + dl == produced
            ok = ok and bal
            parts.append(f"{sid}: {produced} = {d} delivered + {dl} DLQ{'' if bal else ' MISMATCH'}, {dup} dup")
        self.ledgers.append((name, ok, "; ".join(parts)))
        if not ok:
            self.void.append(name)
            log(f"VOID {name}: ledger does not balance: {'; '.join(parts)}")
        return ok

    # ----- a drain run: preloaded topic, one worker, deliveries per second at the receiver ----------------------
    def drain(self, name, topic, produced, subs, measured, delivery=None, limit=90.0, on_running=None):
        """Starts a worker on `topic`, waits until every measured path has `produced` unique 2xx (bounded), then
        stops it. Returns rate (deliveries/s over the measured paths between their first and last arrival) and
        relay CPU seconds over that same interval."""
        self.rx("_reset")
        w = self.start_worker(topic, subs, delivery)
        pid = w["proc"].pid
        samples = []  # (realtime ns, relay cpu s, receiver cpu s, broker cpu s)
        target = produced * len(measured)
        t0 = time.monotonic()
        done = False
        extra = None
        while time.monotonic() - t0 < limit:
            now = time.time_ns()
            samples.append((now, self.cpu_s(pid), self.cpu_s(self.rx_pid), self.broker_cpu_s()))
            st = self.rx("_stats")["paths"]
            got = sum(st.get(p, {}).get("unique_2xx", 0) for p in measured)
            if got >= target:
                done = True
                break
            if on_running and extra is None:
                extra = on_running(w, st)
            time.sleep(0.05)
        samples.append((time.time_ns(), self.cpu_s(pid), self.cpu_s(self.rx_pid), self.broker_cpu_s()))
        rows = [r for r in self.rx_dump() if r[0] in measured and r[2] == 200]
        res = {"done": done, "rows": rows, "worker": w, "extra": extra}
        if len(rows) >= 2:
            first, last = min(r[1] for r in rows), max(r[1] for r in rows)
            span = max((last - first) / 1e9, 1e-3)
            res["rate"] = (len(rows) - 1) / span
            s0 = max((s for s in samples if s[0] <= first), default=samples[0], key=lambda s: s[0])
            s1 = min((s for s in samples if s[0] >= last), default=samples[-1], key=lambda s: s[0])
            res["cpu"] = s1[1] - s0[1]
            # Where the time goes: the receiver and the broker share the machine with relay.
            res["rx_util"] = (s1[2] - s0[2]) / span
            res["broker_util"] = (s1[3] - s0[3]) / span
            res["span"] = span
        if not done:
            log(f"{name}: only {sum(1 for _ in rows)} of {target} deliveries within {limit:.0f} s")
        return res

    def finish(self, name, res, produced, paths, settle=None):
        w = res["worker"]
        if settle:
            settle(w)
        self.stop_worker(w)
        ok = self.ledger(name, w, produced, paths)
        if not res["done"]:
            self.void.append(f"{name} (measured deliveries incomplete within its time limit)")
        return ok and res["done"]

    # ----- W and relay throughput (T, E) ------------------------------------------------------------------------
    def wrk(self, seconds, conns):
        self.rx("_reset")
        rx0, t0 = self.cpu_s(self.rx_pid), time.monotonic()
        p = subprocess.Popen(["taskset", "-c", "0", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-s",
                              os.path.join(self.root, "tests", "bench", "post.lua"),
                              f"http://127.0.0.1:{self.ports[0]}/"], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, BENCH_WRK_PATH="/ok/wrk"))
        _, status, ru = os.wait4(p.pid, 0)
        out = p.stdout.read()
        p.returncode = os.waitstatus_to_exitcode(status)
        m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
        n, dur, unit = int(m.group(1)), float(m.group(2)), m.group(3)
        dur = dur * {"s": 1, "ms": 1e-3, "m": 60}.get(unit, 1)
        cpu = ru.ru_utime + ru.ru_stime
        got = self.rx("_stats")["paths"].get("/ok/wrk", {}).get("answered_2xx", 0)
        rx_util = (self.cpu_s(self.rx_pid) - rx0) / max(time.monotonic() - t0, 1e-3)
        return {"rate": n / dur, "cpu": cpu, "per_cpu": n / cpu, "received": got, "requests": n, "rx_util": rx_util}

    def throughput(self):
        a = self.args
        topic, produced = self.dataset(a.events, 10000)
        log(f"throughput dataset: {produced} events on {topic}")
        subs = [self.sub("s0", "/ok/s0", max_in_flight=a.conns)]
        pairs = []
        for i in range(a.pairs):
            w = self.wrk(a.wrk_seconds, a.conns)
            res = self.drain(f"throughput#{i + 1}", topic, produced, subs, ["/ok/s0"],
                             {"max_connections_per_origin": a.conns})
            ok = self.finish(f"throughput#{i + 1}", res, produced, {"s0": "/ok/s0"})
            rate, cpu = res.get("rate", 0.0), res.get("cpu", 0.0)
            per_cpu = (len(res["rows"]) / cpu) if cpu > 0 else float("nan")
            pair = {"W": w["rate"], "W_per_cpu": w["per_cpu"], "relay": rate, "relay_per_cpu": per_cpu,
                    "relay_cpu_util": cpu / res.get("span", 1), "T": rate / w["rate"],
                    "E": per_cpu / w["per_cpu"], "valid": ok}
            log(f"pair {i + 1}: W={w['rate']:.0f}/s ({w['per_cpu']:.0f}/cpu-s)  relay={rate:.0f}/s "
                f"({per_cpu:.0f}/cpu-s, CPU: relay {pair['relay_cpu_util'] * 100:.0f}% receiver "
                f"{res.get('rx_util', 0) * 100:.0f}% broker {res.get('broker_util', 0) * 100:.0f}%; wrk run: "
                f"receiver {w['rx_util'] * 100:.0f}%)  T={pair['T']:.3f} "
                f"E={pair['E']:.3f}{'' if ok else '  VOID'}")
            pairs.append(pair)
        valid = [p for p in pairs if p["valid"]]
        self.results["pairs"] = pairs
        if valid:
            med = lambda k: statistics.median(p[k] for p in valid)  # noqa: E731
            self.results.update(T=med("T"), E=med("E"), W=med("W"), relay_rate=med("relay"),
                                W_per_cpu=med("W_per_cpu"), relay_per_cpu=med("relay_per_cpu"))
            spread = lambda k: (min(p[k] for p in valid), max(p[k] for p in valid))  # noqa: E731
            self.results["T_range"] = spread("T")
            self.results["E_range"] = spread("E")
        return topic

    # ----- latency at 25/50/75 % of the measured maximum, open loop ---------------------------------------------
    def latency(self):
        a = self.args
        maximum = self.results.get("relay_rate")
        if not maximum:
            return
        topic = self.name("bench.latency.")
        self.create_topic(topic, 24)
        subs = [self.sub("s0", "/ok/s0", max_in_flight=a.conns)]
        self.rx("_reset")
        w = self.start_worker(topic, subs, {"max_connections_per_origin": a.conns})
        # warm-up: connections, group assignment and the first fetches
        self.produce(topic, 200, keys=10000, rate=200, run="warm")
        self.wait_unique("/ok/s0", 200, 30)
        produced_total = 200
        lat = {}
        for pct in (25, 50, 75):
            rate = maximum * pct / 100
            count = int(rate * a.latency_seconds)
            self.rx("_reset")
            res = self.produce(topic, count, keys=10000, rate=rate, run=f"lat{pct}",
                               seconds=a.latency_seconds * 3 + 10)
            produced_total += res["produced"]
            self.wait_unique("/ok/s0", res["produced"], 60)
            rows = self.rx_dump()
            seen, l_ms = set(), []
            for p, arrival, status, ts, *_rest, wid in rows:
                if p == "/ok/s0" and status == 200 and wid not in seen:
                    seen.add(wid)
                    l_ms.append((arrival - ts) / 1e6)
            l_ms.sort()
            q = lambda f: l_ms[min(len(l_ms) - 1, int(f * len(l_ms)))] if l_ms else float("nan")  # noqa: E731
            dups = len(rows) - len(seen)
            balanced = len(seen) == res["produced"] and res["produced"] == count
            lat[pct] = {"rate": rate, "n": len(l_ms), "p50": q(0.5), "p99": q(0.99), "p999": q(0.999),
                        "max": l_ms[-1] if l_ms else float("nan"), "producer_lag_ms": res.get("max_lag_ms"),
                        "balanced": balanced, "dups": dups}
            log(f"latency @{pct}% ({rate:.0f}/s, {len(l_ms)} events): p50={q(0.5):.2f} ms p99={q(0.99):.2f} ms "
                f"p99.9={q(0.999):.2f} ms (producer max lag {res.get('max_lag_ms', 0):.1f} ms)")
            self.ledgers.append((f"latency@{pct}%", balanced,
                                 f"s0: {res['produced']} produced of {count} = {len(seen)} delivered, {dups} dup"))
            if not balanced:
                self.void.append(f"latency@{pct}%")
        self.stop_worker(w)
        dlq = self.dlq_counts(w)
        if dlq:
            self.void.append("latency (DLQ not empty)")
            self.ledgers.append(("latency DLQ", False, f"DLQ records: {dlq}"))
        self.results["latency"] = lat

    def wait_unique(self, path, n, limit):
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if self.rx("_stats")["paths"].get(path, {}).get("unique_2xx", 0) >= n:
                return True
            time.sleep(0.05)
        return False

    # ----- ordering cost -------------------------------------------------------------------------------------
    def ordering(self):
        a = self.args
        out = {}
        for delay in (0, 5):
            path = "/ok/s0" if delay == 0 else f"/delay/{delay}/s0"
            base = None
            for keys in (None, 1, 10, 100, 10000):
                if delay == 0:
                    n = a.order_events if keys != 1 else a.order_events // 2
                else:
                    n = {None: a.order_events, 1: 800, 10: 5000, 100: a.order_events, 10000: a.order_events}[keys]
                topic, produced = self.dataset(n, keys or 10000)
                subs = [self.sub("s0", path, max_in_flight=a.conns, ordering="key" if keys else "none")]
                name = f"ordering {'none' if keys is None else f'key{keys}'} @{delay}ms"
                res = self.drain(name, topic, produced, subs, [path], {"max_connections_per_origin": a.conns},
                                 limit=60)
                ok = self.finish(name, res, produced, {"s0": path})
                rate = res.get("rate", 0.0)
                violations = 0
                if keys:
                    last, seen = {}, set()
                    for r in sorted(res["rows"], key=lambda r: r[1]):
                        if r[6] in seen:
                            continue
                        seen.add(r[6])
                        if r[4] < last.get(r[5], -1):
                            violations += 1
                        last[r[5]] = r[4]
                label = "none" if keys is None else f"key{keys}"
                if keys is None:
                    base = rate
                ratio = rate / base if base else float("nan")
                out[(label, delay)] = {"rate": rate, "ratio": ratio, "valid": ok, "order_violations": violations}
                log(f"{name}: {rate:.0f}/s ratio {ratio:.3f} order violations {violations}{'' if ok else ' VOID'}")
        self.results["ordering"] = out

    # ----- isolation -------------------------------------------------------------------------------------------
    def isolation(self):
        a = self.args
        topic, produced = self.dataset(a.iso_events, 10000)
        healthy = {"h1": "/ok/h1", "h2": "/ok/h2"}
        delivery = {"max_connections_per_origin": a.conns,
                    "circuit_breaker": {"open_duration": "2s"}}
        # fault-free: four healthy endpoints on four origins
        subs = [self.sub("h1", "/ok/h1", 0), self.sub("h2", "/ok/h2", 1), self.sub("x3", "/ok/x3", 2),
                self.sub("x4", "/ok/x4", 3)]
        paths = dict(healthy, x3="/ok/x3", x4="/ok/x4")
        res = self.drain("isolation fault-free", topic, produced, subs, list(healthy.values()), delivery)
        base_ok = self.finish("isolation fault-free", res, produced, paths,
                              settle=lambda w: self.wait_all(paths, produced, w, 60))
        base = res.get("rate", 0.0)
        log(f"isolation fault-free: healthy {base:.0f}/s")
        # faults: one endpoint answers after 2 s, one answers 503
        subs = [self.sub("h1", "/ok/h1", 0), self.sub("h2", "/ok/h2", 1),
                self.sub("slow", "/delay/2000/slow", 2, timeout="3s"), self.sub("fail", "/fail/fail", 3)]
        paths = dict(healthy, slow="/delay/2000/slow", fail="/fail/fail")
        res = self.drain("isolation faults", topic, produced, subs, list(healthy.values()), delivery, limit=120)
        faulty = res.get("rate", 0.0)
        stats = self.rx("_stats")

        def settle(w):
            # Heal the faulty endpoints so every parked delivery ends (delivered, or DLQ after its attempts).
            self.rx("_heal")
            self.wait_all(paths, produced, w, 120)

        fault_ok = self.finish("isolation faults", res, produced, paths, settle=settle)
        log(f"isolation with faults: healthy {faulty:.0f}/s (slow endpoint got "
            f"{stats['paths'].get('/delay/2000/slow', {}).get('requests', 0)} requests, 503 endpoint "
            f"{stats['paths'].get('/fail/fail', {}).get('requests', 0)})")
        # a dead endpoint: it holds every request past the subscription's 5 s timeout
        subs = [self.sub("h1", "/ok/h1", 0), self.sub("h2", "/ok/h2", 1),
                self.sub("dead", "/delay/60000/dead", 2, timeout="5s"), self.sub("x4", "/ok/x4", 3)]
        paths = dict(healthy, dead="/delay/60000/dead", x4="/ok/x4")
        res = self.drain("isolation dead endpoint", topic, produced, subs, list(healthy.values()), delivery, limit=120)
        dead = res.get("rate", 0.0)
        dead_ok = self.finish("isolation dead endpoint", res, produced, paths, settle=settle)
        log(f"isolation with a dead endpoint: healthy {dead:.0f}/s")
        ratio = min(faulty, dead) / base if base else float("nan")
        self.results["isolation"] = {"base": base, "faulty": faulty, "dead": dead, "ratio": ratio,
                                     "valid": base_ok and fault_ok and dead_ok}

    def wait_all(self, paths, produced, w, limit):
        """Waits until every subscription's deliveries are delivered or dead-lettered (bounded)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            st = self.rx("_stats")["paths"]
            delivered = {sid: st.get(p, {}).get("unique_2xx", 0) for sid, p in paths.items()}
            if all(v >= produced for v in delivered.values()):
                return True
            dlq = self.dlq_counts(w)
            if all(delivered[s] + dlq.get(s, 0) >= produced for s in paths):
                return True
            time.sleep(1)
        return False

    # ----- memory --------------------------------------------------------------------------------------------
    def memory(self):
        a = self.args
        n = a.mem_inflight
        topic, produced = self.dataset(n, 10000)
        path = "/delay/50000/mem"
        subs = [self.sub("mem", path, max_in_flight=n, timeout="60s")]
        delivery = {"max_in_flight": n + 256, "max_connections_per_origin": n}
        self.rx("_reset")
        w = self.start_worker(topic, subs, delivery)
        pid = w["proc"].pid
        t0 = time.monotonic()
        best = 0
        while time.monotonic() - t0 < 60:
            st = self.rx("_stats")
            best = max(best, st["pending"])
            if st["pending"] >= n:
                break
            time.sleep(0.2)
        time.sleep(1)
        st = self.rx("_stats")
        hwm, rss = self.status_kb(pid, "VmHWM"), self.status_kb(pid, "VmRSS")
        log(f"memory: {st['pending']} deliveries held by the receiver ({st['open_connections']} connections), "
            f"relay VmHWM {hwm / 1024:.1f} MiB, VmRSS {rss / 1024:.1f} MiB")
        self.rx("_heal")
        self.wait_unique(path, produced, 60)
        self.stop_worker(w)
        ok = self.ledger("memory", w, produced, {"mem": path})
        self.results["memory"] = {"in_flight": max(best, st["pending"]), "hwm_mb": hwm / 1024, "rss_mb": rss / 1024,
                                  "valid": ok and st["pending"] >= n}

    # ----- profile ---------------------------------------------------------------------------------------------
    def profile(self, topic):
        produced = self.args.events
        subs = [self.sub("s0", "/ok/s0", max_in_flight=self.args.conns)]
        data = os.path.join(self.work, "perf.data")
        holder = {}

        def start_perf(w, st):
            if st.get("/ok/s0", {}).get("unique_2xx", 0) > 0:
                holder["p"] = subprocess.Popen(["perf", "record", "-g", "-F", "499", "-o", data, "-p",
                                                str(w["proc"].pid), "--", "sleep", "4"],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                return True
            return None

        res = self.drain("profile", topic, produced, subs, ["/ok/s0"],
                         {"max_connections_per_origin": self.args.conns}, on_running=start_perf)
        if "p" in holder:
            holder["p"].wait(30)
        self.finish("profile run", res, produced, {"s0": "/ok/s0"})
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "1.5",
                              "-g", "none", "--sort", "dso,symbol"], capture_output=True, text=True)
        top = [l for l in rep.stdout.splitlines() if l.strip() and not l.startswith("#")][:25]
        rep2 = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso", "-g",
                               "none"], capture_output=True, text=True)
        dso = [l for l in rep2.stdout.splitlines() if l.strip() and not l.startswith("#")][:10]
        self.results["profile"] = {"symbols": top, "dso": dso}

    # ----- report ----------------------------------------------------------------------------------------------
    def report(self):
        r = self.results
        f = lambda v, d=2: "n/a" if v is None or v != v else f"{v:.{d}f}"  # noqa: E731
        print()
        print("== Relay benchmark ==")
        print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}), relay on CPU 1 (delivery.threads=1), receiver + wrk "
              f"+ producer on CPU 0, broker on CPUs 0-1; load average at end {os.getloadavg()[0]:.2f}")
        print(f"{'measure':<44}{'value':>14}  target / note")
        row = lambda k, v, n="": print(f"{k:<44}{v:>14}  {n}")  # noqa: E731
        for i, p in enumerate(r.get("pairs", [])):
            row(f"pair {i + 1}: W / relay (req/s)", f"{p['W']:.0f} / {p['relay']:.0f}",
                f"T={p['T']:.3f} E={p['E']:.3f}{'' if p['valid'] else ' VOID'}")
        row("W: wrk -t1 -c%d (req/s, median)" % self.args.conns, f(r.get("W"), 0),
            f"{f(r.get('W_per_cpu'), 0)} req per wrk CPU-s")
        row("relay deliver (deliveries/s, median)", f(r.get("relay_rate"), 0),
            f"{f(r.get('relay_per_cpu'), 0)} per relay CPU-s")
        row("T = relay / W", f(r.get("T"), 3), f">= 0.7; pairs {fmt_range(r.get('T_range'))}")
        row("E = relay per CPU-s / wrk per CPU-s", f(r.get("E"), 3), f">= 0.6; pairs {fmt_range(r.get('E_range'))}")
        for pct, l in r.get("latency", {}).items():
            row(f"latency @{pct}% ({l['rate']:.0f}/s) p50/p99/p99.9 ms",
                f"{l['p50']:.1f}/{l['p99']:.1f}/{l['p999']:.1f}",
                ("<= 10 ms p99" if pct == 50 else "") + f" n={l['n']}, max {l['max']:.1f} ms")
        for (label, delay), o in r.get("ordering", {}).items():
            row(f"ordering {label} @{delay} ms receiver (del/s)", f"{o['rate']:.0f}",
                f"ratio {o['ratio']:.3f}; order violations {o['order_violations']}{'' if o['valid'] else ' VOID'}")
        iso = r.get("isolation")
        if iso:
            row("isolation: healthy del/s fault-free/slow+503/dead", f"{iso['base']:.0f}/{iso['faulty']:.0f}/{iso.get('dead', 0):.0f}",
                f"ratio {iso['ratio']:.3f} (>= 0.9){'' if iso['valid'] else ' VOID'}")
        mem = r.get("memory")
        if mem:
            row("memory: VmHWM with N in flight (MiB)", f(mem["hwm_mb"], 1),
                f"<= 150; {mem['in_flight']} held by receiver{'' if mem['valid'] else ' VOID'}")
        print()
        print("ledgers (produced = delivered + dead-lettered, per subscription):")
        for name, ok, text in self.ledgers:
            print(f"  {'ok  ' if ok else 'VOID'} {name}: {text}")
        if self.void:
            print("void runs: " + ", ".join(self.void))
        prof = r.get("profile")
        if prof:
            print()
            print("perf profile of relay during a throughput run (self time, by DSO):")
            for l in prof["dso"]:
                print("  " + l.strip())
            print("top symbols:")
            for l in prof["symbols"]:
                print("  " + l.strip())
        o = r.get("ordering", {})
        k100 = [o[(k, d)]["ratio"] for (k, d) in o if k == "key100"]
        key100 = min(k100) if k100 else None
        lat50 = r.get("latency", {}).get(50, {}).get("p99")
        print()
        print(f"bench: T={f(r.get('T'))} E={f(r.get('E'))} p99_ms@50%={f(lat50, 1)} key100={f(key100)} "
              f"isolation={f(iso['ratio'] if iso else None)} rss_mb={f(mem['hwm_mb'] if mem else None, 0)}")
        with open(os.path.join(self.work, "results.json"), "w") as fh:
            json.dump({k: v for k, v in r.items() if k != "ordering"} |
                      {"ordering": {f"{k}@{d}ms": v for (k, d), v in o.items()}, "void": self.void}, fh, indent=1,
                      default=str)


def fmt_range(rg):
    return "n/a" if not rg else f"{rg[0]:.3f}..{rg[1]:.3f}"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--budget", type=float, default=540, help="seconds for the measurements (default 540)")
    ap.add_argument("--events", type=int, default=40000, help="events per throughput run")
    ap.add_argument("--pairs", type=int, default=3, help="alternating W / relay pairs")
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=64, help="wrk connections = subscription max_in_flight")
    ap.add_argument("--latency-seconds", type=float, default=8)
    ap.add_argument("--order-events", type=int, default=20000)
    ap.add_argument("--iso-events", type=int, default=20000)
    ap.add_argument("--mem-inflight", type=int, default=10000)
    ap.add_argument("--only", default="throughput,latency,ordering,isolation,memory,profile")
    args = ap.parse_args()
    only = set(args.only.split(","))
    b = Bench(args)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        b.start_broker()
        b.start_receiver()
        topic = None
        steps = [("throughput", lambda: b.throughput()), ("latency", b.latency), ("ordering", b.ordering),
                 ("isolation", b.isolation), ("memory", b.memory)]
        for name, fn in steps:
            if name not in only:
                continue
            if b.time_left() < 20:
                log(f"skipping {name}: time budget spent")
                b.void.append(f"{name} (skipped: budget)")
                continue
            log(f"== {name}")
            try:
                ret = fn()
                if name == "throughput":
                    topic = ret
            except Exception as e:  # a failed step is reported, the others still run
                log(f"{name} failed: {e}")
                b.void.append(f"{name} (error: {e})")
        if "profile" in only and topic and b.time_left() > 20:
            log("== profile")
            try:
                b.profile(topic)
            except Exception as e:
                log(f"profile failed: {e}")
        b.report()
    finally:
        b.cleanup()
        b.stop_broker()
    return 1 if b.void else 0


if __name__ == "__main__":
    sys.exit(main())
