"""Running and checking Alembic migrations against a Database."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from gateway.platform.database import Database

_MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


@cache
def head_revision() -> str | None:
    # Read once: the migrations ship with the code (and reading them is slow enough to
    # matter to a readiness probe).
    return ScriptDirectory.from_config(_config()).get_current_head()


def upgrade(database: Database) -> None:
    config = _config()
    with database.write() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(database: Database) -> str | None:
    with database.read() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(database: Database) -> bool:
    return current_revision(database) == head_revision()
