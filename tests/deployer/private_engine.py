"""A Docker engine of a test's own, which the test may stop and start again as a host reboot would,
while the shared engine (everyone else's work) runs on untouched.

Its own `dockerd` with its own data root, exec root, pid file and unix socket, its own default bridge
(in a /16 no interface on the host uses), and `--iptables=false`: an engine with iptables on removes
and re-creates Docker's chains when it starts, which would break the shared engine's networking.
Builds on it still need the internet (pip), so the test adds a masquerading rule (`POSTROUTING`) and
accepting rules (`FORWARD`, whose policy the shared engine sets to DROP) for that /16 alone, each
tagged with a comment, and removes them after. It touches none of Docker's chains, files or
interfaces but its own bridge. Needs root, as `dockerd` does.

No `--default-address-pool`: an engine started again with address pools set deletes the host's
`docker0` (`removeDefaultBridgeInterface` in moby 20.10), which is the shared engine's bridge. Networks
on this engine come from Docker's default pools, which skip ranges the host already routes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PrivateEngine"]


def _used_networks() -> list[ipaddress.IPv4Network]:
    shown = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    return [ipaddress.ip_interface(line.split()[3]).network for line in shown.splitlines()]


def _free_range() -> ipaddress.IPv4Network:
    used = _used_networks()
    for second in range(200, 250):
        candidate = ipaddress.ip_network(f"10.{second}.0.0/16")
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    raise AssertionError("no free 10.x.0.0/16 for a private Docker engine")


class PrivateEngine:
    def __init__(self) -> None:
        if os.geteuid() != 0 or not shutil.which("dockerd"):
            raise AssertionError("a private Docker engine needs root and dockerd (scripts/ensure-docker.sh)")
        self.root = Path(tempfile.mkdtemp(prefix="rte-", dir="/tmp"))  # short: socket paths are limited
        self.socket = self.root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.bridge = f"rte{self.root.name[-8:].replace('_', '')}"[:15]
        self.range = _free_range()
        self.comment = f"racetrack-test-{self.root.name}"
        self.process: subprocess.Popen | None = None
        self._rules: list[list[str]] = []
        self._had_docker0 = self.shared_bridge_kept()
        gateway = next(self.range.hosts())
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", f"{gateway}/24", "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)
        self._add_rules()

    def _add_rules(self) -> None:
        cidr, tag = str(self.range), ["-m", "comment", "--comment", self.comment]
        chain = "FORWARD"  # ahead of Docker's own jumps; none of Docker's chains is touched
        for rule in (
            ["-t", "filter", "-I", chain, "-s", cidr, *tag, "-j", "ACCEPT"],
            ["-t", "filter", "-I", chain, "-d", cidr, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
             *tag, "-j", "ACCEPT"],
            ["-t", "nat", "-A", "POSTROUTING", "-s", cidr, "!", "-d", cidr, *tag, "-j", "MASQUERADE"],
        ):  # fmt: skip
            subprocess.run(["iptables", *rule], check=True)
            self._rules.append(rule)

    def shared_bridge_kept(self) -> bool:
        """The shared engine's default bridge is still there (an engine may delete `docker0` by name)."""
        return Path("/sys/class/net/docker0").exists() or not getattr(self, "_had_docker0", False)

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "--host", self.host, *args], check=True, **kwargs)

    def client(self):
        import docker

        return docker.DockerClient(base_url=self.host)

    def start(self) -> float:
        """Starts the engine; answers how long until it answered (bounded: 120 s)."""
        log = (self.root / "dockerd.log").open("ab")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [
                "dockerd",
                f"--data-root={self.root / 'data'}",
                f"--exec-root={self.root / 'exec'}",
                f"--pidfile={self.root / 'docker.pid'}",
                f"--host={self.host}",
                f"--bridge={self.bridge}",
                "--iptables=false",
                "--ip-masq=false",
                "--storage-driver=overlay2",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        while time.monotonic() - started < 120:
            assert self.process.poll() is None, self.log_tail()
            if subprocess.run(["docker", "--host", self.host, "info"], capture_output=True).returncode == 0:
                return time.monotonic() - started
            time.sleep(0.5)
        raise AssertionError(f"the private engine did not answer within 120 s: {self.log_tail()}")

    def stop(self, timeout: float = 90) -> None:
        """SIGTERM, as a host's shutdown sends it; the engine stops its containers and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"the private engine did not stop within {timeout} s") from None

    def log_tail(self) -> str:
        return (self.root / "dockerd.log").read_text(errors="replace")[-3000:]

    def load_images(self, *images: str) -> None:
        """Copies images from the shared engine (no registry can be reached here)."""
        saved = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        self.docker("load", "-q", stdin=saved.stdout, stdout=subprocess.DEVNULL)
        assert saved.wait() == 0

    def remove(self) -> None:
        """Leaves nothing: containers and networks (their bridges), the engine, its files, the rules."""
        try:
            if self.process is None or self.process.poll() is not None:
                with contextlib.suppress(AssertionError):
                    self.start()  # only a running engine removes its networks' bridges
            if self.process is not None and self.process.poll() is None:
                with contextlib.suppress(Exception):
                    client = self.client()
                    for container in client.containers.list(all=True):
                        container.remove(force=True)
                    for network in client.networks.list():
                        if network.name not in ("bridge", "host", "none"):
                            network.remove()
                self.stop()
        finally:
            for rule in self._rules:
                deleted = [("-D" if part in ("-I", "-A") else part) for part in rule]
                subprocess.run(["iptables", *deleted], capture_output=True)
            for line in reversed(Path("/proc/mounts").read_text().splitlines()):
                if str(self.root) in line.split()[1]:
                    subprocess.run(["umount", "-l", line.split()[1]], capture_output=True)
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            shutil.rmtree(self.root, ignore_errors=True)
