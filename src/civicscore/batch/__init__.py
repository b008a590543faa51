"""The batch evaluator: the same checked rules, compiled to polars.

Imported only when batch evaluation is used (``scheme.batch(...)``, or
``civicscore score`` on a file), so ``import civicscore`` and ``civicscore
check`` never pay for polars. Install it with ``pip install civicscore[batch]``.
"""
