"""The plugin contract: every hook a civicscore plugin may implement.

This file holds only the contract, one small documented stub per hook (as
datasette's and pytest's hook specs do). A plugin is any module or object
with functions named like these hooks and marked with ``@hookimpl``::

    from civicscore.hookspecs import hookimpl

    @hookimpl
    def register_policies(register):
        register("karamay", files("civicscore_karamay") / "policy.toml")

Every hook receives a ``register`` callback instead of returning values (as
the llm project does), so the core checks each contribution as it arrives,
names the plugin in any error, and refuses two plugins that claim the same
name with a ``PluginError`` naming both. The four built-in schemes and the
bundled baseline policy register through these same hooks (see
``civicscore.builtin``): there is one mechanism, without special cases.

None of these hooks is ``firstresult``: every plugin is asked, and the
registry keeps what all of them registered.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "civicscore"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's hook implementations: ``@civicscore.hookimpl`` above a function named
like a hook below."""

# --- policies ------------------------------------------------------------------------


@hookspec
def register_policies(register: Any) -> None:
    """Contribute policies that users load by name (``civicscore.load("karamay")``).

    :param register: ``register(name, source)`` where ``name`` is the policy
        name users type (letters, digits, ``-`` and ``_``) and ``source`` is the
        TOML file: a ``pathlib.Path`` or an ``importlib.resources`` traversable
        (``files("my_package") / "policy.toml"``), read when the policy is
        loaded. A name another plugin already registered raises ``PluginError``.

    Policies registered here may ``extends`` each other by name.
    """


# --- expression functions ---------------------------------------------------------------


@hookspec
def register_functions(register: Any) -> None:
    """Contribute functions that policy expressions may call.

    :param register: ``register(function)`` with a
        :class:`civicscore.expr.Function`: its name, a signature shown to
        officers, a type rule checked at load time, and a per-record Python
        implementation (a batch implementation is attached under the same
        name by the batch evaluator). ``Function.simple(...)`` builds one from
        plain parameter and result types. A name that another plugin, or a
        built-in, already uses raises ``PluginError``.

    Functions must be pure: same arguments, same result, no input or output.
    """


# --- holiday calendars --------------------------------------------------------------------


@hookspec
def register_calendars(register: Any) -> None:
    """Contribute named holiday calendars for ``[calendar] name = "..."``.

    :param register: ``register(name, holidays=[dates], workdays=[dates],
        country="CN", subdivision=None)``: local public holidays and make-up
        working days laid over a national calendar from the ``holidays``
        package. A name already registered raises ``PluginError``.
    """


# --- schemes ----------------------------------------------------------------------------------


@hookspec
def register_schemes(register: Any) -> None:
    """Contribute a scheme: a TOML section, its model and the compiler that checks it.

    :param register: ``register(section, compiler, model, **about)`` where
        ``section`` is the policy's top-level table (``"visits"``), also the
        scheme's ``--scheme`` name and a case's ``scheme``; ``compiler(ctx)``
        checks that section with a
        :class:`civicscore.policy.compile.CompileContext` and returns an object
        implementing :class:`civicscore.schemes.base.Scheme`; ``model`` is the
        section's pydantic model (with ``extra="forbid"``, so that unknown keys
        in it are refused with a located error). ``about`` describes the
        scheme to the framework, as the fields of
        :class:`civicscore.schemes.base.SchemeSpec`: ``entity`` or
        ``entity_key``, ``record_fields``, ``extra_inputs``, ``input_kind``,
        ``noun``, ``outputs``, ``details``, ``result_type``, ``scheme_type``,
        ``log``, ``decision_type`` and ``overridable``; an unknown keyword is a
        ``PluginError``. The four built-in schemes are registered this way, with
        no other special case. A section registered twice raises
        ``PluginError`` naming both plugins.
    """
