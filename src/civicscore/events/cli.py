"""``civicscore events POLICY EVENTS --until DATE``: the actions a policy's event rules give.

Registered on the main command group by ``civicscore.cli`` (one line there).
It imports nothing heavy until it runs, so ``civicscore --help`` stays fast.
Like ``score``, it exits 0 when the run completes, even with rejected events
(their count and reasons go to stderr, or to ``--rejects FILE``), and 2 for
unusable input; the actions are written whole or not at all.
"""

from __future__ import annotations

import datetime as dt

import click

from .. import cli_json, completion


def _until(value: str) -> dt.date | dt.datetime:
    text = value.strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD or a time such as "
                                 f"2025-12-31T18:00, got {value!r}", param_hint="--until"
                                 ) from None


@click.command("events")
@click.argument("policy", shell_complete=completion.policies)
@click.argument("events", type=click.Path(dir_okay=False))
@click.option("--until", "until_text", required=True, metavar="DATE",
              help="The end of the run: deadlines up to then fire (a date means its "
                   "whole day).")
@click.option("--engine", type=click.Choice(["durable", "reference"]), default="durable",
              show_default=True, help="durable-rules (online) or the polars reference: the "
                                      "same actions either way.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the actions here (.jsonl, .csv, .json, .parquet); default stdout.")
@click.option("--rejects", type=click.Path(dir_okay=False),
              help="Write the rejected events here instead of listing them on stderr.")
@cli_json.format_option
def events_command(policy: str, events: str, until_text: str, engine: str,
                   output: str | None, rejects: str | None) -> None:
    """Run a log of EVENTS (JSON Lines, CSV or Parquet) through POLICY's [events] rules."""
    from .. import load
    from ..io import write_rows

    until = _until(until_text)
    loaded = load(policy)
    loaded.check_in_effect(until if not isinstance(until, dt.datetime) else until.date())
    result = loaded.events.run(events, until=until, engine=engine)
    as_json = cli_json.wanted()
    if output or not as_json:  # under json, the actions are in the object unless -o
        write_rows(result.actions, output)
    if rejects:
        write_rows(result.rejected, rejects)
    else:
        for row in result.rejected:
            for reason in row["reasons"]:
                click.echo(f"rejected row {row['row']}: {reason}", err=True)
    if as_json:
        cli_json.emit("events", {
            "policy": cli_json.policy_ref(loaded.ref), "until": until, "engine": engine,
            "output": output, "rejects": rejects,
            "actions": None if output else list(result.actions),
            "rejected": None if rejects else list(result.rejected),
            "summary": result.summary()})
    click.echo(result.summary() + f"; policy {loaded.ref}", err=True)
