#!/usr/bin/env python3
"""Chart to processes: what the chart renders, run as local processes against the real broker.

    chart_process_test.py <source dir> <relay binary>      (env: RELAY_TEST_KAFKA_FILE)

Renders helm/relay with values that point Kafka at the test broker and configure a static subscription to a
loopback receiver. For each Deployment, its container's command (else the Dockerfile's ENTRYPOINT, mapped to
the built binary), args and env are run as a process; the ConfigMap and Secret are written as files at their
volumes' mount paths re-rooted under a temporary directory, and env values and args naming a mount path are
re-rooted the same way. fieldRef env gets the pod's name. Each pod has its own network namespace in Kubernetes
and here they share one, so the only change is RELAY_ADMIN_PORT=0 / RELAY_API_PORT=0 (read back from the
logs) and the port names of the manifests (probes, Services, ServiceMonitor) are resolved to those ports.

Checks: the readiness, liveness and startup probe paths answer 200 on the probes' ports, the ServiceMonitor's
endpoint answers with Relay's metrics on both components, an event published through the API (POST /v1/events
with the token from the rendered Secret) reaches the receiver signed with the subscription's secret, and both
processes exit 0 on SIGTERM within the pod's terminationGracePeriodSeconds.
"""
import base64
import ctypes
import hashlib
import hmac
import http.server
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import yaml

DEADLINE_START = 150  # s: topic creation plus the subscriptions topic read (the startup probe allows 180 s)


def fail(msg):
    raise AssertionError(msg)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------------------------
# Loopback receiver


class Receiver:
    """Records every POST; answers 200."""

    def __init__(self):
        self.requests = queue.Queue()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                outer.requests.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------------------------
# Processes


def _die_with_parent():
    # The child gets SIGKILL if the test dies (CTest timeout, crash): no worker is left behind.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Pod:
    def __init__(self, name, argv, env, log_path):
        self.name = name
        self.log_path = log_path
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        self.ports = {}

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def logged_port(self, message):
        """The port of the JSON log line whose value is `message` ("admin listening"), or None."""
        for line in self.log_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and message in rec.values() and isinstance(rec.get("port"), int):
                return rec["port"]
        return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


def wait_for(what, predicate, timeout, pods=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for p in pods:
            if p.proc.poll() is not None:
                fail(f"{p.name} exited ({p.proc.returncode}) while waiting for {what}:\n{p.log_text()}")
        time.sleep(0.1)
    fail(f"timed out after {timeout} s waiting for {what}")


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError:
        return None, ""


# ------------------------------------------------------------------------------------------------------------
# The chart


def render(source, values_path, helm_env):
    chart = os.path.join(source, "helm", "relay")
    out = subprocess.run(["helm", "template", "rel", chart, "-n", "relay-test", "-f", values_path],
                         env=helm_env, check=False, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"helm template failed:\n{out.stderr}")
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    return by_kind


def dockerfile_entrypoint(source):
    text = open(os.path.join(source, "Dockerfile")).read()
    entries = re.findall(r"^ENTRYPOINT\s+(\[.*\])\s*$", text, re.M)
    if not entries:
        fail("the Dockerfile has no exec-form ENTRYPOINT")
    return json.loads(entries[-1])


def secret_data(secret):
    data = {k: v for k, v in (secret.get("stringData") or {}).items()}
    for k, v in (secret.get("data") or {}).items():
        data[k] = base64.b64decode(v).decode()
    return data


def materialise_volumes(pod_spec, container, resources, root):
    """Writes the pod's ConfigMap and Secret volumes under root; returns {mountPath: re-rooted path}."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    mounts = {}
    for m in container.get("volumeMounts", []):
        vol = volumes[m["name"]]
        target = os.path.join(root, m["mountPath"].lstrip("/"))
        os.makedirs(target, exist_ok=True)
        if "configMap" in vol:
            files = resources["ConfigMap"][vol["configMap"]["name"]]["data"]
        elif "secret" in vol:
            files = secret_data(resources["Secret"][vol["secret"]["secretName"]])
        elif "emptyDir" in vol:
            files = {}
        else:
            fail(f"volume kind not handled by this test: {vol}")
        for key, content in files.items():
            with open(os.path.join(target, key), "w") as f:
                f.write(content)
        mounts[m["mountPath"]] = target
    return mounts


def reroot(value, mounts):
    for mount, target in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        if value == mount or value.startswith(mount.rstrip("/") + "/"):
            return target + value[len(mount.rstrip("/")):]
    return value


def container_env(container, pod_name, mounts, resources):
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = reroot(str(e["value"]), mounts)
        elif "valueFrom" in e:
            src = e["valueFrom"]
            if "fieldRef" in src and src["fieldRef"]["fieldPath"] == "metadata.name":
                env[e["name"]] = pod_name
            elif "secretKeyRef" in src:
                ref = src["secretKeyRef"]
                env[e["name"]] = secret_data(resources["Secret"][ref["name"]])[ref["key"]]
            elif "configMapKeyRef" in src:
                ref = src["configMapKeyRef"]
                env[e["name"]] = resources["ConfigMap"][ref["name"]]["data"][ref["key"]]
            else:
                fail(f"env source not handled by this test: {e}")
    return env


def named_port(container, name_or_number):
    if isinstance(name_or_number, int):
        for p in container["ports"]:
            if p["containerPort"] == name_or_number:
                return p["name"]
        fail(f"no container port {name_or_number}")
    return name_or_number


# ------------------------------------------------------------------------------------------------------------


def main():
    source, relay = sys.argv[1], os.path.abspath(sys.argv[2])
    bootstrap = open(os.environ["RELAY_TEST_KAFKA_FILE"]).read().strip()
    helm_bin = subprocess.run([os.path.join(source, "scripts", "install-helm")], check=True,
                              capture_output=True, text=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="relay-chart-process-")
    helm_env = dict(os.environ, PATH=helm_bin + os.pathsep + os.environ["PATH"],
                    HELM_CONFIG_HOME=os.path.join(work, "helm", "config"),
                    HELM_CACHE_HOME=os.path.join(work, "helm", "cache"),
                    HELM_DATA_HOME=os.path.join(work, "helm", "data"))
    receiver = Receiver()
    pods = []
    try:
        uid = uuid.uuid4().hex[:10]
        secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        values = {
            "config": {
                "log": {"level": "info"},
                "kafka": {"brokers": bootstrap, "group_id": f"helm-test-{uid}", "partitions": 2,
                          "replication_factor": 1},
                "topics": {"events": f"helm-test-{uid}.events",
                           "subscriptions": f"helm-test-{uid}.subscriptions",
                           "retry_prefix": f"helm-test-{uid}.retry.", "dlq": f"helm-test-{uid}.dlq"},
                "delivery": {"allow_http": True, "allow_loopback": True, "retry_schedule": ["5s"],
                             "drain_timeout": "10s"},
            },
            "subscriptions": [{
                "id": f"helm-test-{uid}", "url": f"http://127.0.0.1:{receiver.port}/hooks/{uid}",
                "event_types": ["order.*"], "secret": secret,
            }],
            "metrics": {"serviceMonitor": {"enabled": True}},
        }
        values_path = os.path.join(work, "values.yaml")
        with open(values_path, "w") as f:
            yaml.safe_dump(values, f)
        resources = render(source, values_path, helm_env)
        entrypoint = dockerfile_entrypoint(source)
        deployments = resources["Deployment"]
        if sorted(deployments) != ["rel-relay-api", "rel-relay-worker"]:
            fail(f"unexpected Deployments: {sorted(deployments)}")

        started = {}
        for name, dep in sorted(deployments.items()):
            pod_spec = dep["spec"]["template"]["spec"]
            container = pod_spec["containers"][0]
            pod_name = f"{name}-7d9c8b5f4-{uid[:5]}"
            root = os.path.join(work, "pods", name)
            mounts = materialise_volumes(pod_spec, container, resources, root)
            command = container.get("command") or entrypoint
            if command[0] != entrypoint[0]:
                fail(f"{name}: command {command} is not the image's binary {entrypoint[0]}")
            argv = [relay] + [reroot(str(a), mounts) for a in command[1:] + container.get("args", [])]
            env = {"PATH": "/usr/bin:/bin", "HOME": root}
            env.update(container_env(container, pod_name, mounts, resources))
            # One network namespace for both "pods": let the kernel pick the ports.
            env.update({"RELAY_ADMIN_PORT": "0", "RELAY_API_PORT": "0"})
            log(f"{name}: {' '.join(argv[1:])}")
            log(f"{name}: env {sorted(env)}")
            pod = Pod(name, argv, env, os.path.join(work, f"{name}.log"))
            pods.append(pod)
            started[name] = (pod, container, dep)

        # Ports by the names the manifests use.
        for name, (pod, container, _) in started.items():
            names = {p["name"] for p in container["ports"]}
            pod.ports["admin"] = wait_for(f"{name}'s admin port", lambda: pod.logged_port("admin listening"),
                                          DEADLINE_START, pods)
            if "http" in names:
                pod.ports["http"] = wait_for(f"{name}'s API port", lambda: pod.logged_port("api listening"),
                                             DEADLINE_START, pods)

        # Probes, exactly as the manifests give them.
        for name, (pod, container, _) in started.items():
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                get = container[probe]["httpGet"]
                port = pod.ports[named_port(container, get["port"])]
                wait_for(f"{name} {probe} {get['path']} on :{port}",
                         lambda: http_get(port, get["path"])[0] == 200, DEADLINE_START, pods)
                log(f"{name}: {probe} GET {get['path']} -> 200")

        # The ServiceMonitor's endpoint on every Service it selects.
        sm = next(iter(resources["ServiceMonitor"].values()))
        endpoint = sm["spec"]["endpoints"][0]
        want = {"rel-relay-api": "relay_ingest_requests_total", "rel-relay-worker": "relay_deliveries_total"}
        selected = 0
        for svc_name, svc in resources["Service"].items():
            labels = svc["metadata"]["labels"]
            if any(labels.get(k) != v for k, v in sm["spec"]["selector"]["matchLabels"].items()):
                continue
            expressions = sm["spec"]["selector"].get("matchExpressions", [])
            if not all(labels.get(e["key"]) in e["values"] for e in expressions):
                continue
            svc_port = next(p for p in svc["spec"]["ports"] if p["name"] == endpoint["port"])
            target = next(d for d in deployments.values()
                          if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v
                                 for k, v in svc["spec"]["selector"].items()))
            pod, container, _ = started[target["metadata"]["name"]]
            port = pod.ports[named_port(container, svc_port["targetPort"])]
            status, body = http_get(port, endpoint["path"])
            if status != 200 or want[target["metadata"]["name"]] not in body:
                fail(f"ServiceMonitor endpoint of {svc_name} ({endpoint['path']} on :{port}): "
                     f"{status}\n{body[:500]}")
            log(f"ServiceMonitor -> {svc_name}:{endpoint['port']}{endpoint['path']}: 200 with Relay metrics")
            selected += 1
        if selected != 2:
            fail(f"the ServiceMonitor selects {selected} Services, expected the api and worker ones")

        # Publish through the API with the token of the rendered Secret.
        api_pod = started["rel-relay-api"][0]
        secret_name = started["rel-relay-api"][2]["spec"]["template"]["spec"]["volumes"]
        secret_name = next(v["secret"]["secretName"] for v in secret_name if "secret" in v)
        token = secret_data(resources["Secret"][secret_name])["api-tokens"].splitlines()[0]
        event_id = f"evt_helm_{uid}"
        body = json.dumps({"id": event_id, "type": "order.created", "data": {"order_id": 42}}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{api_pod.ports['http']}/v1/events", data=body,
                                     method="POST", headers={"authorization": f"Bearer {token}",
                                                             "content-type": "application/json",
                                                             "relay-key": "order-42"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, answer = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, answer = e.code, e.read().decode("utf-8", "replace")
        if status != 202:
            fail(f"POST /v1/events answered {status}: {answer}")
        log(f"POST /v1/events -> 202 {answer}")

        try:
            path, headers, got = receiver.requests.get(timeout=90)
        except queue.Empty:
            fail("the event never reached the receiver:\n" + "\n".join(p.log_text()[-4000:] for p in pods))
        if path != f"/hooks/{uid}" or got != body or headers.get("webhook-id") != event_id:
            fail(f"unexpected delivery: {path} {headers} {got!r}")
        ts = headers["webhook-timestamp"]
        key = base64.b64decode(secret[len("whsec_"):])
        mac = hmac.new(key, f"{event_id}.{ts}.".encode() + got, hashlib.sha256)
        expected = base64.b64encode(mac.digest())
        if f"v1,{expected.decode()}" not in headers.get("webhook-signature", "").split(" "):
            fail(f"the signature does not verify with the subscription's secret: {headers}")
        log(f"delivered to {path}: webhook-id {event_id}, signature verified")

        # SIGTERM: both exit 0 within their pods' grace period.
        for name, (pod, _, dep) in started.items():
            pod.proc.send_signal(signal.SIGTERM)
        for name, (pod, _, dep) in started.items():
            grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            try:
                code = pod.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                fail(f"{name} did not exit within terminationGracePeriodSeconds ({grace} s)")
            if code != 0:
                fail(f"{name} exited {code} on SIGTERM:\n{pod.log_text()[-4000:]}")
            log(f"{name}: SIGTERM -> exit 0 within {grace} s")
        print("chart to process: ok")
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for p in pods:
            print(f"---- {p.name} log (tail) ----\n{p.log_text()[-3000:]}", file=sys.stderr)
        sys.exit(1)
    finally:
        for p in pods:
            p.kill()
        receiver.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
