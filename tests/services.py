"""Real servers for the tests, started as an operator would start them: a PostgreSQL server from Debian's
`postgresql` package (a throwaway cluster under a temp folder, on a free local port) and a Ray cluster from the
`ray` CLI with token authentication (a head, and a second node with its own ports and temp folder).

Each is started once per test session, on first use, and stopped at its end. Where the machine lacks one, the
tests that need it skip, except in CI, where `.ci/setup` installs both, so they fail (`needs.require`).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from needs import require


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_bin() -> Path | None:
    """Debian's PostgreSQL programs (the newest installed), else those on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class Postgres:
    """A PostgreSQL server of its own: `url(name)` makes a new database on it and names it."""

    def __init__(self):
        bin_dir = _postgres_bin()
        require(bin_dir is not None, "PostgreSQL is not installed (apt-get install postgresql; bash .ci/setup does)")
        self.root = Path(tempfile.mkdtemp(prefix="dashboard-pg-"))
        self.port, self.count = free_port(), 0
        # PostgreSQL refuses to run as root: as root, the cluster belongs to Debian's postgres user
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres")
        data = self.root / "data"
        self.pg_ctl = [*self.as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
        initdb = [*self.as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "dashboard", "-A", "trust"]
        subprocess.run([*initdb, "-E", "UTF8"], check=True, capture_output=True, timeout=120)
        self.start()

    def url(self, name: str | None = None) -> str:
        """A fresh, empty database's SQLAlchemy URL."""
        import psycopg

        self.count += 1
        name = name or f"t{self.count}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=dashboard dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://dashboard@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run([*self.pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = [*self.pg_ctl, "-o", options, "-l", str(self.root / "log"), "-w", "-t", "60", "start"]
        subprocess.run(start, check=True, capture_output=True, timeout=90)

    def pids(self) -> list[int]:
        """The postmaster and its children: what a frozen machine freezes."""
        main = (self.root / "data" / "postmaster.pid").read_text().split()[0]
        children = subprocess.run(["pgrep", "-P", main], capture_output=True, text=True).stdout.split()
        return [int(main), *map(int, children)]

    def close(self) -> None:
        subprocess.run([*self.pg_ctl, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


class RayCluster:
    """A Ray cluster from the CLI as the README tells a school to start one: token authentication on, the token
    file private, a head of `head_cpus` CPUs, then `add_node` for each further machine (here: on other ports and
    with a temp folder of its own). Only its own processes are stopped: not the tests' embedded Ray."""

    def __init__(self, head_cpus: int = 1):
        self.root = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths have a limit
        self.env = {**os.environ, "RAY_AUTH_MODE": "token"}
        self.ray = str(Path(sys.executable).parent / "ray")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[Path] = []
        token = subprocess.run([self.ray, "get-auth-token", "--generate"], env=self.env, capture_output=True)
        assert token.returncode == 0, token.stderr
        (Path.home() / ".ray" / "auth_token").chmod(0o600)  # the CLI writes it 0644: readable by every user
        self._start(["--head", f"--port={self.port}", "--include-dashboard=false"], head_cpus, "head")

    def _start(self, args: list[str], cpus: int, name: str, gpus: int = 0) -> Path:
        temp = self.root / name
        command = [self.ray, "start", *args, "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}", f"--num-gpus={gpus}"]
        command += [f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}"]
        command += [f"--temp-dir={temp}", "--object-store-memory=100000000", "--disable-usage-stats"]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"ray start failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        self.nodes.append(temp)
        return temp

    def add_node(self, cpus: int, gpus: int = 0) -> Path:
        """Another machine joins: its temp folder, which `kill_node` takes."""
        return self._start([f"--address={self.address}"], cpus, f"node{len(self.nodes)}", gpus)

    def status(self, env: dict | None = None) -> subprocess.CompletedProcess:
        command = [self.ray, "status", f"--address={self.address}"]
        return subprocess.run(command, env=env or self.env, capture_output=True, text=True, timeout=60)

    def kill_node(self, temp: Path) -> None:
        """One node's processes, SIGKILLed, as a machine that is switched off loses them."""
        subprocess.run(["pkill", "-9", "-f", str(temp)], capture_output=True)

    def close(self) -> None:
        for temp in reversed(self.nodes):
            self.kill_node(temp)
        time.sleep(0.5)
        shutil.rmtree(self.root, ignore_errors=True)
