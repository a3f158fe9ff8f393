"""A throwaway PostgreSQL + PostGIS cluster for tests and benchmarks.

Why: the store contract suite and the import benchmark must run against a real PostGIS, but a
developer machine or CI runner has no server we may touch. So we ``initdb`` a cluster in a temp
dir, start it on a free port (TCP on 127.0.0.1 and a Unix socket in the same dir), and delete it
afterwards. PostgreSQL refuses to run as root, so when we are root the binaries run as the
``postgres`` system user (``runuser``) and the temp dir is handed to that user.

The cluster trades durability for speed (``fsync=off``): it holds test data only.
This module does not import gridmap, so tests and benchmarks can share it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

PG_BIN_DIR = Path(os.environ.get("GRIDMAP_PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
#: Seconds pg_ctl waits for the server to accept connections.
START_TIMEOUT_S = 60


class ClusterUnavailable(RuntimeError):
    """PostgreSQL/PostGIS cannot be started here (binaries missing, no postgres user, start failed)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    """A running throwaway cluster; ``url()`` gives a libpq URL for one of its databases."""

    root: Path
    port: int
    run_as: str | None
    host: str = "127.0.0.1"
    user: str = "postgres"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database ``name`` (optionally a copy of ``template``); returns its URL."""
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("{} TEMPLATE {} STRATEGY FILE_COPY").format(query, sql.Identifier(template))
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(query)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Stop the server (immediate: no checkpoint, the data is thrown away) and delete the dir."""
        try:
            if (self.data_dir / "postmaster.pid").exists():
                pg_ctl = str(PG_BIN_DIR / "pg_ctl")
                _run(self.run_as, [pg_ctl, "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _run(run_as: str | None, argv: list[str], *, timeout_s: float = START_TIMEOUT_S + 30) -> None:
    cmd = ["runuser", "-u", run_as, "--", *argv] if run_as else argv
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise ClusterUnavailable(f"{' '.join(argv[:2])} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")


def _prepare_root() -> tuple[Path, str | None]:
    missing = [p for p in (PG_BIN_DIR / "initdb", PG_BIN_DIR / "pg_ctl", POSTGIS_CONTROL) if not p.exists()]
    if missing:
        raise ClusterUnavailable(
            f"PostgreSQL 15 + PostGIS not installed (missing {', '.join(map(str, missing))}); "
            "run `make sysdeps` or set GRIDMAP_TEST_DATABASE_URL"
        )
    root = Path(tempfile.mkdtemp(prefix="gridmap-pg-"))
    if os.geteuid() != 0:
        return root, None
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        shutil.rmtree(root, ignore_errors=True)
        raise ClusterUnavailable("running as root but there is no `postgres` system user to run the server") from None
    os.chown(root, pw.pw_uid, pw.pw_gid)
    return root, "postgres"


def start_cluster(*, attempts: int = 3) -> PgCluster:
    """initdb + pg_ctl start on a free port; raises ClusterUnavailable with the server's words if it fails."""
    root, run_as = _prepare_root()
    cluster = PgCluster(root=root, port=0, run_as=run_as)
    try:
        _run(run_as, [str(PG_BIN_DIR / "initdb"), "-D", str(cluster.data_dir), "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"])
        last_error: ClusterUnavailable | None = None
        for _ in range(attempts):  # another process may grab the free port between probe and bind
            cluster.port = _free_port()
            options = (f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            try:
                _run(run_as, [str(PG_BIN_DIR / "pg_ctl"), "-D", str(cluster.data_dir), "-l", str(root / "server.log"),
                              "-w", "-t", str(START_TIMEOUT_S), "-o", options, "start"])
                return cluster
            except ClusterUnavailable as exc:
                log = root / "server.log"
                last_error = ClusterUnavailable(f"{exc}; log: {log.read_text()[-800:] if log.exists() else ''}")
        assert last_error is not None
        raise last_error
    except BaseException:
        cluster.stop()
        raise


@contextmanager
def throwaway_cluster() -> Iterator[PgCluster]:
    """A started cluster that is stopped and deleted when the block ends, whatever happens."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
