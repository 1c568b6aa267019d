#!/usr/bin/env python3
# An OCI runtime wrapper for machines whose root lacks some capabilities (a sandboxed VM):
# `docker run --privileged` asks runc for every capability and fails with "unable to apply caps".
# Before `create`/`run`, remove from the bundle's config.json the capabilities this machine's
# bounding set does not hold, then run runc with the same arguments. A machine with every
# capability gets its config untouched. Registered by scripts/e2e-kind/machine.sh.
import json, os, sys

CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
        "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE"]


def held():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                bits = int(line.split()[1], 16)
                return {name for i, name in enumerate(CAPS) if bits >> i & 1}
    return set(CAPS)


def drop_missing(path, caps_of):
    """Rewrites the JSON file at path without the capabilities this machine does not hold."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return
    caps = caps_of(doc)
    if caps:
        have = held()
        for kind in list(caps):
            caps[kind] = [c for c in caps[kind] if c in have]
        with open(path, "w") as f:
            json.dump(doc, f)


def option(args, *names):
    for i, a in enumerate(args):
        if a in names and i + 1 < len(args):
            return args[i + 1]
        for n in names:
            if n.startswith("--") and a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def bundle(args):
    for i, a in enumerate(args):
        if a in ("--bundle", "-b") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--bundle="):
            return a.split("=", 1)[1]
    return os.getcwd()


args = sys.argv[1:]
if any(a in ("create", "run") for a in args):
    drop_missing(os.path.join(bundle(args), "config.json"), lambda spec: spec.get("process", {}).get("capabilities"))
elif "exec" in args:
    # `docker exec --privileged`: the process to start comes as a JSON file of its own.
    process = option(args, "--process", "-p")
    if process:
        drop_missing(process, lambda proc: proc.get("capabilities"))
os.execvp(os.environ.get("E2E_RUNC", "runc"), ["runc"] + args)
