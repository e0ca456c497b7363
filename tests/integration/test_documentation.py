"""Documentation that is checked stays true: every setting and every command is in the README."""

from __future__ import annotations

from freshrag.settings import ENV_PREFIX, Settings
from freshrag_cli.main import app
from tests.conftest import PROJECT

README = (PROJECT / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"{ENV_PREFIX}{name.upper()}"
        for name in Settings.model_fields
        if f"`{ENV_PREFIX}{name.upper()}`" not in README
    ]
    assert missing == []


def test_every_command_is_documented() -> None:
    names = [
        command.name or (command.callback.__name__ if command.callback else "")
        for command in app.registered_commands
    ]
    missing = [name for name in names if f"freshrag {name}" not in README]
    assert missing == []
