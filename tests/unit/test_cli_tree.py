"""The shape of the ``fieldhub`` command: every command and option explained, the documented exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cloud.cli.main import ENTRIES, MANAGE, cli
from cloud.cli.options import api_options
from cloud.cli.output import Printer, cell, col, note_more

DOCS = Path(__file__).parents[2] / "docs" / "cli.md"


def _commands() -> Iterator[tuple[str, click.Command]]:
    """Every command under ``fieldhub``, by its full name, importing each group as running it would."""
    context = click.Context(cli)
    stack: list[tuple[str, click.Command]] = [
        (f"fieldhub {name}", command) for name in ENTRIES if (command := cli.get_command(context, name)) is not None
    ]
    while stack:
        path, command = stack.pop()
        yield path, command
        if isinstance(command, click.Group):
            stack.extend((f"{path} {name}", sub) for name, sub in command.commands.items())


def test_every_command_and_option_has_help() -> None:
    seen = 0
    for path, command in _commands():
        if command.hidden:
            continue
        assert command.help, f"{path} has no help"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{path} {param.opts[0]} has no help"
                seen += 1
    assert seen > 100


def test_every_command_is_in_docs_cli_md() -> None:
    docs = DOCS.read_text()
    for path, command in _commands():
        words = path.split()[1:]
        if command.hidden or len(words) > 2:
            continue
        if len(words) == 1:
            assert f"`fieldhub {words[0]}" in docs, f"docs/cli.md does not mention {path}"
        elif ENTRIES[words[0]].section == MANAGE:  # the run commands' own docs describe their subcommands
            assert f"`{words[0]} {words[1]}" in docs, f"docs/cli.md does not mention {path}"


def test_options_are_taken_before_and_after_the_subcommand() -> None:
    @click.group()
    @api_options
    def group() -> None:
        pass

    @group.command()
    @api_options
    def show() -> None:
        from cloud.cli.options import invocation  # noqa: PLC0415

        inv = invocation()
        click.echo(f"{inv.hub} {inv.output} {inv.no_headers}")

    runner = CliRunner()
    assert runner.invoke(group, ["--hub", "http://a", "show", "-o", "yaml"]).output == "http://a yaml False\n"
    assert runner.invoke(group, ["-o", "json", "show", "--hub", "http://b", "--no-headers"]).output == (
        "http://b json True\n"
    )
    # The one nearer the end of the line wins.
    assert runner.invoke(group, ["--hub", "http://a", "show", "--hub", "http://c"]).output.startswith("http://c ")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (True, "true"),
        ({"room": "kitchen", "floor": "2"}, "room=kitchen,floor=2"),
        ({"echo": {"n": 5}}, '{"echo":{"n":5}}'),
        ("two\nlines", "two\\nlines"),
        (21.5, "21.5"),
    ],
)
def test_a_cell_is_one_line(value: object, text: str) -> None:
    assert cell(value) == text


def test_tables_align_their_columns(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"id": "a", "name": "First"}, {"id": "longer-id", "name": None}]
    Printer("table").rows(rows, (col("ID"), col("NAME")))
    assert capsys.readouterr().out == "ID         NAME\na          First\nlonger-id  -\n"
    Printer("table", headers=False).rows(rows[:1], (col("ID"), col("NAME")))
    assert capsys.readouterr().out == "a  First\n"


def test_a_partial_page_says_how_to_get_the_next(capsys: pytest.CaptureFixture[str]) -> None:
    note_more({"offset": 0, "total": 250}, 100)
    assert capsys.readouterr().err == "fieldhub: showing 1-100 of 250; --offset 100 for more\n"
    note_more({"offset": 200, "total": 250}, 50)
    assert capsys.readouterr().err == ""
