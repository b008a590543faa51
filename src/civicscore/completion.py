"""Shell completion of what only civicscore knows: installed policies and schemes.

Click completes commands, options and files by itself once the shell is told to ask it
(``eval "$(_CIVICSCORE_COMPLETE=bash_source civicscore)"``, or ``zsh_source`` /
``fish_source``; docs/index.md). A policy argument is an installed policy's name (a
plugin's ``karamay``) or a ``.toml`` file, and ``--scheme`` a section of that policy:
these two callbacks offer them, from the same registry a run loads its plugins from.

Completing must never fail loudly or slowly in an officer's shell: a policy that does not
load, or a plugin that is broken, leaves the offer to what is known (files, every
installed scheme) instead of printing an error at the prompt.
"""

from __future__ import annotations

import warnings
from typing import Any

import click
from click.shell_completion import CompletionItem


def _registry() -> Any:
    from .engine import Engine

    return Engine().registry


def policies(ctx: click.Context, param: click.Parameter, incomplete: str
             ) -> list[CompletionItem]:
    """Installed policy names that start with what was typed, then the shell's own file
    completion (a policy may be any ``.toml`` file)."""
    try:
        names = [n for n in sorted(_registry().policies) if n.startswith(incomplete)]
    except Exception:  # a broken plugin: offer files only
        names = []
    return [CompletionItem(n, help="installed policy") for n in names] + [
        CompletionItem(incomplete, type="file")]


def schemes(ctx: click.Context, param: click.Parameter, incomplete: str
            ) -> list[CompletionItem]:
    """The schemes of the policy already on the command line (its sections), else every
    installed scheme, that start with what was typed."""
    found: list[str] = []
    source = ctx.params.get("policy")
    if isinstance(source, str) and source:
        try:
            import civicscore

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = list(civicscore.load(source).schemes)
        except Exception:  # not loadable (yet): every installed scheme
            found = []
    if not found:
        try:
            found = sorted(_registry().scheme_specs())
        except Exception:
            found = []
    return [CompletionItem(n) for n in found if n.startswith(incomplete)]


__all__ = ["policies", "schemes"]
