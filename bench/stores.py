"""Throw-away stores: a temporary SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

DATABASES = ("sqlite", "postgresql")


@contextmanager
def fresh_store(kind: str, postgres_admin_url: str, *, keep: bool = False) -> Iterator[str]:
    """Yield the URL of an empty store; it is removed afterwards unless keep is set."""
    if kind == "sqlite":
        with _sqlite(keep) as url:
            yield url
    elif kind == "postgresql":
        with _postgresql(postgres_admin_url, keep) as url:
            yield url
    else:
        raise ValueError(f"unknown database {kind!r}; choose from {', '.join(DATABASES)}")


@contextmanager
def _sqlite(keep: bool) -> Iterator[str]:
    directory = Path(tempfile.mkdtemp(prefix="gwbench-"))
    try:
        yield f"sqlite:///{directory / 'gateway.db'}"
    finally:
        if keep:
            print(f"kept the SQLite store in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _postgresql(admin_url: str, keep: bool) -> Iterator[str]:
    admin = make_url(admin_url).set(drivername="postgresql")
    name = f"gwbench_{uuid.uuid4().hex[:12]}"
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        if keep:
            print(f"kept the PostgreSQL store {url}", file=sys.stderr)
        else:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_version(url: str) -> str:
    if url.startswith("sqlite"):
        return f"SQLite {sqlite3.sqlite_version}"
    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
        buffers = connection.execute("SHOW shared_buffers").fetchone()
    assert row is not None
    assert buffers is not None
    return f"PostgreSQL {row[0]} (shared_buffers {buffers[0]})"


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one statement, on its own connection (no SQLAlchemy, no pool)."""
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(make_url(url).database or "")) as connection:
            return list(connection.execute(sql))
    with psycopg.connect(url) as connection:
        return list(connection.execute(sql))


def count_resources(url: str) -> int:
    return int(query(url, "SELECT count(*) FROM resources")[0][0])


DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).resolve().parent / "results"


def add_store_options(parser: argparse.ArgumentParser, *, seed: int, keep: str) -> None:
    """The options every benchmark shares: its seed, where PostgreSQL is, where reports
    go, and whether to keep what it built (`keep` says what)."""
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("GATEWAY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a database on a server where this user may CREATE DATABASE",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help=f"keep {keep} afterwards")
