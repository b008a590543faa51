"""The JSON Schema of the policy format, generated from the pydantic models.

Editors (VS Code with Even Better TOML / Taplo, JetBrains) use it to complete
keys and flag mistakes while an officer types. It is generated, never edited:
``policies/civicscore-policy.schema.json`` is checked against this output by
the test suite, so the shipped copy cannot drift from the code.
"""

from __future__ import annotations

import json

SCHEMA_ID = "https://civicscore.invalid/schema/policy.json"


def policy_json_schema() -> str:
    """The schema as stable, pretty-printed JSON text (ends with a newline).

    The format is the core tables plus the section of every built-in scheme,
    as the registry assembles it (installed plugins' sections are left out,
    so the shipped schema does not depend on what is installed).
    """
    from ..plugins import registry

    model = registry(entry_points=False).policy_model()
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
              **schema}
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
