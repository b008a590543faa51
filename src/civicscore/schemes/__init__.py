"""The scoring schemes: what every scheme offers (``base``), the four built-in ones
(``volunteer``, ``civility``, ``visits``, ``appraisal``) and their registration
(``builtins``, which gathers each package's ``spec``).

Importing this package imports nothing else, so a module anywhere in civicscore (the
events scheme, a plugin) can use ``civicscore.schemes.base`` without loading, or looping
back into, the built-in registry.
"""
