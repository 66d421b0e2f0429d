"""The command tree as one plain click group, for the documentation site's generated command
reference (mkdocs-click reads `.commands`; `lowcap`'s own group looks the study commands up in
the registry only when asked)."""

from __future__ import annotations

import click

from lowcap.cli.main import cli


def command_tree() -> click.Group:
    """`lowcap` with every command, its own and the registered studies', as `.commands`."""
    ctx = click.Context(cli, info_name="lowcap")
    commands = {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}
    return click.Group("lowcap", commands=commands, help=cli.help)


lowcap = command_tree()
