"""Searches the server will not run as asked, as values the shell answers (400 and 406).

The messages name parameters, never the values a client sent: a value may carry patient
data.
"""

from __future__ import annotations


class SearchRefused(Exception):
    """A search that cannot be run as asked (400)."""

    def __init__(self, message: str, *, expression: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression


class FormatNotServed(Exception):
    """A `_format` the server does not serve (406)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
