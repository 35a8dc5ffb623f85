"""The store adapter: resources with full history, a search index, on SQLite or PostgreSQL."""
