"""``civicscore serve``: the HTTP service on uvicorn (registered lazily by cli.py)."""

from __future__ import annotations

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (the default answers this machine only).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on.")
@click.option("--policy-root", "policy_roots", multiple=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Offer the policies (*.toml) in DIR and read policy files only under it "
                   "(repeatable; default: the working directory). Installed policies are "
                   "offered by name.")
@click.option("--tokens", "tokens_file", type=click.Path(dir_okay=False), default=None,
              help="A TOML file of accepted bearer tokens (hashed) and their roles; every "
                   "/v1 route but the policy pages then needs one (docs/service.md). "
                   "Without it the service is open, and listens on loopback only.")
@click.option("--max-body", "max_body", type=click.IntRange(1), default=8 << 20,
              show_default=True, help="Largest request body accepted, in bytes.")
@click.option("--max-rows", type=click.IntRange(1), default=10_000, show_default=True,
              help="Most records one batch request may hold.")
@click.option("--header-timeout", type=click.FloatRange(0.1), default=10.0,
              show_default=True,
              help="Seconds a client may take to send a request's line and headers; then it "
                   "is answered 408 and its connection closed.")
@click.option("--body-timeout", type=click.FloatRange(0.1), default=30.0, show_default=True,
              help="Seconds a client may take to send a request's body after its headers; "
                   "then it is answered 408 and its connection closed.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False),
              help="Append every decision of decide, batch and events/run, with its input "
                   "and reasons, to this JSON Lines decision log, as civicscore score --log "
                   "does (for civicscore replay and appeals).")
@click.option("--redact", "redactions", multiple=True, metavar="FIELD=erase|hash",
              help="In the decision log only, erase or hash this input field (repeatable; "
                   "hash needs CIVICSCORE_REDACT_KEY), as civicscore score --redact.")
@click.option("--ledger", "ledger_url", envvar="CIVICSCORE_LEDGER", metavar="PATH_OR_URL",
              default=None,
              help="Serve this points ledger under /v1/ledger (a SQLite file, sqlite:///PATH "
                   "or postgresql://...; default: $CIVICSCORE_LEDGER); it must be "
                   "initialised (civicscore ledger init).")
def serve_cmd(host: str, port: int, policy_roots: tuple[str, ...], tokens_file: str | None,
              max_body: int, max_rows: int, header_timeout: float, body_timeout: float,
              log_path: str | None, redactions: tuple[str, ...],
              ledger_url: str | None) -> None:
    """Serve policies, checks, decisions and policy pages over HTTP (see docs/service.md)."""
    import importlib.util
    import ipaddress

    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec(
            "uvicorn") is None:
        raise click.UsageError("civicscore serve needs FastAPI and uvicorn: "
                               "pip install 'civicscore[serve]'")
    if tokens_file is None:
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise click.UsageError(f"--host {host} answers other machines: give --tokens "
                                   f"FILE so that only holders of a token are answered")
    from ..cli import _check_log_target, _decision_log

    log = _decision_log(log_path, redactions)  # the rules of score --log and --redact
    if log_path is not None:
        _check_log_target(log_path)  # refused before the service starts, not at a decision
    if ledger_url:  # refused before the service starts, not at the first request
        from ..ledger import open_ledger

        with open_ledger(ledger_url) as book:
            book.require_current()
    import uvicorn

    from .app import Limits, create_app
    from .server import bounded
    from .tokens import Tokens

    tokens = Tokens.load(tokens_file) if tokens_file else None
    app = create_app(policy_roots or (".",), limits=Limits(max_body, max_rows, body_timeout),
                     tokens=tokens, log=log, ledger=ledger_url or None)
    click.echo(f"civicscore: serving on http://{host}:{port}/ (policies under "
               f"{', '.join(map(str, app.state.catalog.roots))})"
               + (f"; every decision logged to {log_path}" if log_path else "")
               + ("; the ledger under /v1/ledger" if ledger_url else ""), err=True)
    # uvicorn's access log shows method, path and status: never a body
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=5,
                server_header=False, http=bounded(header_timeout))
