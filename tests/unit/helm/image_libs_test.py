#!/usr/bin/env python3
"""The Dockerfile's runtime stage installs exactly the Debian packages that provide the shared libraries of
the built `relay` binary (as `ldd` resolves them, mapped with `dpkg -S`), plus ca-certificates for subscriber
TLS; it is debian:12-slim, runs as a numeric non-root user, and copies nothing from the build stage but the
binary.

    image_libs_test.py <relay binary> <Dockerfile>
"""
import os
import re
import shlex
import subprocess
import sys

# Not a shared library, but needed at run time: the CA bundle for TLS to subscribers and to Kafka.
EXTRA_RUNTIME_PACKAGES = {"ca-certificates"}


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def shared_libraries(binary):
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        line = line.strip()
        if "not found" in line:
            fail(f"ldd cannot resolve a library of {binary}: {line}")
        m = re.match(r"^\S+ => (/\S+) \(0x[0-9a-f]+\)$", line) or re.match(r"^(/\S+) \(0x[0-9a-f]+\)$", line)
        if m:
            libs.append(m.group(1))
        elif not line.startswith("linux-vdso") and not line.startswith("linux-gate"):
            fail(f"unexpected ldd line: {line}")
    if not libs:
        fail(f"ldd lists no shared library for {binary}")
    return libs


def owning_package(path):
    # Debian 12 is /usr-merged: dpkg may know a file under /lib or /usr/lib, whichever its package ships.
    real = os.path.realpath(path)
    candidates = [path, real]
    for p in (path, real):
        if p.startswith("/usr/"):
            candidates.append(p[4:])
        else:
            candidates.append("/usr" + p)
    for c in candidates:
        r = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        if r.returncode == 0:
            # "libssl3:amd64: /usr/lib/x86_64-linux-gnu/libssl.so.3"
            return r.stdout.split(":", 1)[0].split(",")[0].strip()
    fail(f"no Debian package owns {path} ({real}); the image could not provide it")


def dockerfile_stages(path):
    """[(FROM line, [instructions])] with continuation lines joined and comments dropped."""
    stages = []
    logical = ""
    for raw in open(path):
        line = raw.rstrip("\n")
        if not logical and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        instr = logical.strip()
        logical = ""
        if not instr:
            continue
        if instr.upper().startswith("FROM "):
            stages.append((instr, []))
        elif stages:
            stages[-1][1].append(instr)
    return stages


def apt_installed(run_instructions):
    pkgs = set()
    for instr in run_instructions:
        for cmd in re.split(r"&&|;", instr):
            words = shlex.split(cmd)
            if "apt-get" in words and "install" in words:
                for w in words[words.index("install") + 1:]:
                    if not w.startswith("-"):
                        pkgs.add(w.split("=")[0])
    return pkgs


def main():
    binary, dockerfile = sys.argv[1], sys.argv[2]
    needed = {}
    for lib in shared_libraries(binary):
        needed.setdefault(owning_package(lib), []).append(lib)

    stages = dockerfile_stages(dockerfile)
    if len(stages) < 2:
        fail("the Dockerfile must have a build stage and a runtime stage")
    build_from, _ = stages[0]
    runtime_from, runtime = stages[-1]
    if not re.match(r"^FROM debian:12 AS \w+$", build_from, re.I):
        fail(f"the build stage must be Debian 12: {build_from}")
    if not re.match(r"^FROM debian:12-slim( AS \w+)?$", runtime_from, re.I):
        fail(f"the runtime stage must be debian:12-slim: {runtime_from}")

    installed = apt_installed([i[4:] for i in runtime if i.upper().startswith("RUN ")])
    missing = {p: libs for p, libs in needed.items() if p not in installed}
    if missing:
        fail("the runtime stage does not install the packages of these libraries: "
             + "; ".join(f"{p} ({', '.join(libs)})" for p, libs in sorted(missing.items())))
    extra = installed - set(needed) - EXTRA_RUNTIME_PACKAGES
    if extra:
        fail(f"the runtime stage installs packages the binary does not link: {sorted(extra)}")

    copies = [i for i in runtime if i.upper().startswith("COPY ")]
    if len(copies) != 1 or not re.match(r"^COPY --from=\w+ \S+/relay /usr/local/bin/relay$", copies[0]):
        fail(f"the runtime stage must copy only the relay binary from the build stage: {copies}")
    users = [i for i in runtime if i.upper().startswith("USER ")]
    if not users or not re.match(r"^USER [1-9][0-9]*(:[1-9][0-9]*)?$", users[-1]):
        fail(f"the runtime stage must end as a numeric non-root USER: {users}")

    for p in sorted(needed):
        print(f"ok: {p}: {', '.join(needed[p])}")
    print(f"runtime packages: {len(installed)}, all needed and present")


if __name__ == "__main__":
    main()
