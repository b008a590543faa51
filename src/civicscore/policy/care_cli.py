"""``civicscore concepts [--json]``: the care-need vocabulary as officers read it.

Kept apart from ``policy.care`` so that loading a policy never imports click.
"""

from __future__ import annotations

import dataclasses
import json

import click

from .care import vocabulary


@click.command("concepts")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def concepts_command(as_json: bool) -> None:
    """List the care-need concepts a fact may declare (concept = "...")."""
    vocab = vocabulary()
    if as_json:
        click.echo(json.dumps({"id": vocab.id, "version": vocab.version,
                               "concepts": [dataclasses.asdict(c)
                                            for c in vocab.concepts.values()]},
                              ensure_ascii=False, indent=2))
        return
    click.echo(f"{vocab.title} ({vocab.id} {vocab.version})")
    for c in vocab.concepts.values():
        flags = ", intensive" if c.intensive else ""
        click.echo(f"{c.id}  [{c.kind}{flags}; {' | '.join(c.types)}]  {c.describe()}")
        click.echo(f"    {c.definition_en}")
        if c.standard:
            click.echo(f"    standard: {c.standard}")
