"""Machines on a private network inside this one: network namespaces joined by a bridge.

Each host is a network namespace (``ip netns``) with one address on the subnet ``SUBNET``.0/24;
the first host holds a bridge, and every other joins it by a veth pair. Every link and every
address lives inside these namespaces, none in the machine's own, so the machine's network is
never changed, and two runs side by side cannot meet even on the same subnet: each has its own
namespaces, named with its process id (``lector-<pid>-<host>``). Only these addresses are used.

A program runs on a host under ``ip netns exec`` (``Host.command``); this process reaches the
hosts' addresses from inside one of them (``Host.entered``). Outside the namespaces these
addresses would go out by the machine's default route, so nothing outside them may use them.
Making and deleting namespaces needs root.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: The hosts' /24: the first host is .1, the next .2, and so on.
SUBNET = "10.231.0"
#: The namespaces of a run: ``lector-<pid of the run>-<host>``.
NAMESPACE = re.compile(r"lector-(\d+)-[a-z0-9]+")
#: The interface each host has on the network (in the first host, the bridge).
LAN = "lan"
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args: str) -> None:
    """Run ``ip ARGS``; a failure says which command and why."""
    run = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {run.stderr.strip()}")


@dataclass(frozen=True)
class Host:
    """One machine of the network: its name, its namespace and its address."""

    name: str
    namespace: str
    address: str

    @property
    def prefix(self) -> list[str]:
        """What goes before a command to run it on this host."""
        return ["ip", "netns", "exec", self.namespace]

    def command(self, *argv: str) -> list[str]:
        """``argv`` run on this host."""
        return [*self.prefix, *argv]

    def pids(self) -> list[int]:
        """Every process running on this host."""
        run = subprocess.run(["ip", "netns", "pids", self.namespace], capture_output=True, text=True)
        return [int(pid) for pid in run.stdout.split()]

    def crash(self) -> list[int]:
        """SIGKILL every process on this host, as when the machine dies; returns their ids."""
        pids = [pid for pid in self.pids() if pid != os.getpid()]  # never this process
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return pids

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Inside the block, this thread is on this host: the sockets it opens (and the
        programs it starts) are in the host's namespace, where the hosts' addresses are
        reachable. A socket keeps its namespace after the block."""
        back = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(f"/run/netns/{self.namespace}")
            try:
                yield
            finally:
                _setns_fd(back)
        finally:
            os.close(back)


@contextmanager
def network(*names: str) -> Iterator[dict[str, Host]]:
    """Hosts ``names`` on one private network (the first holds the bridge), by name. On the
    way out, whatever still runs on them is killed and the namespaces, with their links, go."""
    if len(set(names)) != len(names) or not all(re.fullmatch(r"[a-z0-9]+", name) for name in names):
        raise ValueError(f"host names must be distinct, lower-case letters and digits: {names}")
    remove_abandoned()
    tag = f"lector-{os.getpid()}"
    hosts = {name: Host(name, f"{tag}-{name}", f"{SUBNET}.{index}") for index, name in enumerate(names, 1)}
    made: list[Host] = []
    try:
        for host in hosts.values():
            ip("netns", "add", host.namespace)
            made.append(host)
            ip("-n", host.namespace, "link", "set", "lo", "up")
        hub, *others = made
        ip("-n", hub.namespace, "link", "add", LAN, "type", "bridge", "forward_delay", "0")
        _address(hub)
        for index, host in enumerate(others, 2):
            port = f"port{index}"
            ip("-n", hub.namespace, "link", "add", port, "type", "veth", "peer", "name", LAN,
               "netns", host.namespace)  # fmt: skip
            ip("-n", hub.namespace, "link", "set", port, "master", LAN, "up")
            _address(host)
        yield hosts
    finally:
        for host in reversed(made):
            _remove(host)


def remove_abandoned() -> None:
    """Remove the namespaces of runs whose process is gone (a run killed before it cleaned)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.strip() else ""
        match = NAMESPACE.fullmatch(name)
        if match and not _alive(int(match.group(1))):
            _remove(Host("abandoned", name, ""))


def _address(host: Host) -> None:
    ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", LAN)
    ip("-n", host.namespace, "link", "set", LAN, "up")


def _remove(host: Host) -> None:
    """Kill what runs on ``host``, then delete its namespace (and so its links)."""
    deadline = time.monotonic() + 10
    while host.crash() and time.monotonic() < deadline:
        time.sleep(0.05)
    ip("netns", "delete", host.namespace)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _setns(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        _setns_fd(descriptor)
    finally:
        os.close(descriptor)


def _setns_fd(descriptor: int) -> None:
    if _libc.setns(descriptor, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")
