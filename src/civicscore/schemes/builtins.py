"""The built-in scoring schemes, registered as any plugin registers a scheme.

``BUILTIN_SCHEMES`` gathers each built-in scheme's registration, its
:class:`~civicscore.schemes.base.SchemeSpec` (TOML section and model, the
record fields it reads itself, its extra inputs, what its output and detail
rows are, how the decision log sees its decisions, what a person may
override). Each one lives with its scheme (``schemes/<name>/spec.py``,
``events/spec.py``). The built-in plugin (``civicscore.builtin``) passes each
to the ``register_schemes`` hook's callback, exactly as a plugin does; nothing
else in civicscore names a built-in scheme.
"""

from __future__ import annotations

from ..events.spec import SPEC as EVENTS
from .appraisal.spec import SPEC as APPRAISAL
from .base import SchemeSpec
from .civility.spec import SPEC as CIVILITY
from .visits.spec import SPEC as VISITS
from .volunteer.spec import SPEC as VOLUNTEER

BUILTIN_SCHEMES: tuple[SchemeSpec, ...] = (VOLUNTEER, CIVILITY, VISITS, APPRAISAL, EVENTS)
