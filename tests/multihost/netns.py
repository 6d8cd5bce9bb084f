"""Private Linux network namespaces joined by veth pairs on one bridge, for the multi-host suite.

The bridge lives in a namespace of its own ("hub"); every host namespace gets one veth leg (`eth0`) with an
address on a private /24 and no default route, so nothing can leave the namespaces made here. The root
namespace is never given an address or a route. `call_in` runs a function in a thread that joined a
host's namespace: sockets it opens (HTTP clients, database connections, listening servers) live there.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
import uuid
from typing import Callable, Optional, TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
SUBNET = "10.213.7"
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def cannot_make_namespaces() -> Optional[str]:
    """Why this machine cannot run the suite (not root, no `ip`, namespaces refused), or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs the suite as root)"
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        return "iproute2 `ip` or util-linux `unshare` is missing"
    probe = f"pmhprobe{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()[:200]}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class Network:
    """Namespaces `<prefix>-<host>` on one bridge; `address(host)`, `link_down/up(host)`, `call_in(host, fn)`."""

    def __init__(self, hosts: dict[str, int]):
        self.prefix = f"pmh{os.getpid() % 100000}"
        self.hosts = hosts  # name -> last octet
        self.hub = f"{self.prefix}-hub"
        self.made: list[str] = []

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def address(self, host: str) -> str:
        return f"{SUBNET}.{self.hosts[host]}"

    def create(self) -> "Network":
        self._add_namespace(self.hub)
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", self.hub, "link", "set", "br0", "up")
        for host in self.hosts:
            ns = self.ns(host)
            self._add_namespace(ns)
            leg = f"v-{host}"[:15]
            ip("-n", self.hub, "link", "add", leg, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("-n", self.hub, "link", "set", leg, "master", "br0")
            ip("-n", self.hub, "link", "set", leg, "up")
            ip("-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
        return self

    def _add_namespace(self, ns: str) -> None:
        ip("netns", "add", ns)
        self.made.append(ns)
        ip("-n", ns, "link", "set", "lo", "up")

    def link_down(self, host: str) -> None:
        """Pull the host's cable: its leg on the bridge goes down, packets either way are dropped."""
        ip("-n", self.hub, "link", "set", f"v-{host}"[:15], "down")

    def link_up(self, host: str) -> None:
        ip("-n", self.hub, "link", "set", f"v-{host}"[:15], "up")

    def command(self, host: str, argv: list[str]) -> list[str]:
        """argv run inside the host's namespace with the host name as its hostname (own UTS namespace)."""
        return ["ip", "netns", "exec", self.ns(host), "unshare", "--uts", "sh", "-c",
                'hostname "$0" && exec "$@"', host, *argv]

    def call_in(self, host: str, function: Callable[..., T], /, *args, **kwargs) -> T:
        """Run `function` in a thread that joined the host's network namespace; return or raise its outcome."""
        outcome: dict = {}

        def run():
            fd = os.open(f"/var/run/netns/{self.ns(host)}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            try:
                outcome["value"] = function(*args, **kwargs)
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc
        thread = threading.Thread(target=run, name=f"in-{host}", daemon=True)
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def start_in(self, host: str, function: Callable[[], None]) -> threading.Thread:
        """Like call_in, but returns the running thread (a load generator inside a namespace)."""
        def run():
            self.call_in(host, function)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def destroy(self) -> None:
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self.made.clear()
