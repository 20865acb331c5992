"""Every option of every command is in the README's command table (issue #14, item 11: the
table omitted `demo --quiet`, `query --order`, ...). Read from the click commands themselves,
so a new option cannot go undocumented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from crawler.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def table_row(command: str) -> str:
    for line in README.splitlines():
        if re.match(rf"^\| `zhengwen {re.escape(command)}[ `]", line):
            return line
    return ""


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_option_of_a_command_is_in_its_readme_row(name: str) -> None:
    command = cli.commands[name]
    row = table_row(name)
    assert row, f"zhengwen {name} has no row in the README's command table"
    synopsis = re.split(r"(?<!\\)\|", row)[1]  # cells: pipes not escaped as \|
    missing = [
        opt
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden
        for opt in param.opts
        if opt.startswith("--") and opt not in synopsis and opt != "--help"
    ]
    assert not missing, f"zhengwen {name}: {missing} not in its README row"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_option_of_a_command_says_what_it_does(name: str) -> None:
    # `runs --limit` had no help text (issue #14, item 11).
    silent = [
        param.opts[0]
        for param in cli.commands[name].params
        if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip()
    ]
    assert not silent, f"zhengwen {name}: {silent} have no help text"
