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


def bundle(args):
    for i, a in enumerate(args):
        if a in ("--bundle", "-b") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--bundle="):
            return a.split("=", 1)[1]
    return os.getcwd()


args = sys.argv[1:]
if any(a in ("create", "run") for a in args):
    path = os.path.join(bundle(args), "config.json")
    try:
        with open(path) as f:
            spec = json.load(f)
        caps = spec.get("process", {}).get("capabilities")
        if caps:
            have = held()
            for kind in list(caps):
                caps[kind] = [c for c in caps[kind] if c in have]
            with open(path, "w") as f:
                json.dump(spec, f)
    except FileNotFoundError:
        pass
os.execvp(os.environ.get("E2E_RUNC", "runc"), ["runc"] + args)
