"""What every scheme's batch engine shares: reading and coercing a frame (``frames``),
the batch result (``result``), progress (``progress``) and the ``score`` command's
engine choice (``command``). Each scheme's own batch module lives in its package
(``schemes/<name>/batch.py``) and runs that scheme's plan as one lazy polars query.

Imported only when batch evaluation is used (``scheme.batch(...)``, or
``civicscore score`` on a file), so ``import civicscore`` and ``civicscore
check`` never pay for polars. Install it with ``pip install civicscore[batch]``.
"""
