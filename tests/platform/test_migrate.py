"""Checking the store's revision without Alembic, and HEAD kept true to the scripts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.errors import ConfigurationError


def test_head_is_the_newest_migration_script() -> None:
    """A new migration must move HEAD: every start checks the store against it."""
    assert migrate.alembic_head_revision() == migrate.HEAD


def test_a_new_store_has_no_revision_until_upgraded(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        assert migrate.current_revision(database) is None
        assert not migrate.is_current(database)
        migrate.upgrade(database)
        assert migrate.current_revision(database) == migrate.HEAD
        assert migrate.is_current(database)
    finally:
        database.dispose()


def test_a_store_behind_is_not_current(database: Database) -> None:
    with database.write() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    try:
        assert migrate.current_revision(database) == "0010"
        assert not migrate.is_current(database)
    finally:
        with database.write() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": migrate.HEAD}
            )


def test_a_store_with_two_revisions_is_refused(database: Database) -> None:
    with database.write() as connection:
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0010')"))
    try:
        with pytest.raises(ConfigurationError, match="names 2 revisions"):
            migrate.current_revision(database)
    finally:
        with database.write() as connection:
            connection.execute(text("DELETE FROM alembic_version WHERE version_num = '0010'"))
