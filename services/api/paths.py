"""Path parameters that take any text, newlines included.

Starlette's `path` convertor matches `.*`, and `.` stops at a newline: a document id holding one (a file name
may) matched no route, a 404 for an id the API itself had handed out; one ending in a newline matched the id
without it, another document. `{name:text}` matches every character.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

ANY_TEXT = "text"


class AnyText(Convertor[str]):
    """The rest of the path, whatever characters it holds (across "/" and newlines)."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def install_path_convertors() -> None:
    """Make `{name:text}` usable in route paths; call before the routes are declared (idempotent)."""
    register_url_convertor(ANY_TEXT, AnyText())
