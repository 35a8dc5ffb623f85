"""Running and checking Alembic migrations against a Database.

Checking (is the store at the head revision?) happens at every start and readiness probe;
it reads Alembic's version table itself and compares it with HEAD, so that only
`gateway db upgrade` loads Alembic (a few hundred milliseconds of imports, and a
MigrationContext per check).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import ColumnClause, Connection, column, inspect, select, table

from gateway.platform.database import Database
from gateway.platform.errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATIONS = Path(__file__).parent / "migrations"

# The newest migration's revision: a new migration sets it (tests/platform/test_migrate.py
# checks it against Alembic's own reading of gateway/platform/migrations/versions).
HEAD = "0017"

_VERSION_TABLE = "alembic_version"
_VERSION_NUM: ColumnClause[str] = column("version_num")


def _config() -> Config:
    from alembic.config import Config  # noqa: PLC0415 (only `db upgrade` needs Alembic)

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def alembic_head_revision() -> str | None:
    """The head as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(_config()).get_current_head()


def upgrade(database: Database) -> None:
    from alembic import command  # noqa: PLC0415

    config = _config()
    with database.write() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(database: Database) -> str | None:
    with database.read() as connection:
        return revision_of(connection)


def revision_of(connection: Connection) -> str | None:
    """The store's revision, None before its first migration (as Alembic answers)."""
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    found = list(
        connection.execute(select(_VERSION_NUM).select_from(table(_VERSION_TABLE))).scalars()
    )
    if len(found) > 1:  # branches: this project's migrations are one line
        raise ConfigurationError(
            f"the store's {_VERSION_TABLE} table names {len(found)} revisions, not one"
        )
    return found[0] if found else None


def is_current(database: Database) -> bool:
    return current_revision(database) == HEAD
