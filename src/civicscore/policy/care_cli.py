"""``civicscore concepts [--json]``: the care-need vocabulary as officers read it.

Kept apart from ``policy.care`` so that loading a policy never imports click.
"""

from __future__ import annotations

import dataclasses

import click

from .. import cli_json
from .care import vocabulary


@click.command("concepts")
@cli_json.json_flag
@cli_json.format_option
def concepts_command() -> None:
    """List the care-need concepts a fact may declare (concept = "...")."""
    vocab = vocabulary()
    if cli_json.wanted():
        cli_json.emit("concepts", {"id": vocab.id, "version": vocab.version,
                                   "title": vocab.title,
                                   "concepts": [dataclasses.asdict(c)
                                                for c in vocab.concepts.values()]})
        return
    click.echo(f"{vocab.title} ({vocab.id} {vocab.version})")
    for c in vocab.concepts.values():
        flags = ", intensive" if c.intensive else ""
        click.echo(f"{c.id}  [{c.kind}{flags}; {' | '.join(c.types)}]  {c.describe()}")
        click.echo(f"    {c.definition_en}")
        if c.standard:
            click.echo(f"    standard: {c.standard}")
