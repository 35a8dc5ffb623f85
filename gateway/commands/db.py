"""`gateway db upgrade | current`: the database schema."""

from __future__ import annotations

from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.settings import Settings


def upgrade_command(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        migrate.upgrade(database)
        print(f"database at revision {migrate.current_revision(database)} (head)")
    finally:
        database.dispose()
    return 0


def current_command(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        revision = migrate.current_revision(database)
        head = migrate.HEAD
        state = "current" if revision == head else f"behind (head is {head})"
        print(f"database at revision {revision or 'none'}: {state}")
        return 0 if revision == head else 1
    finally:
        database.dispose()
