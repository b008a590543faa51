"""``python -m civicscore`` runs the command line."""

from .cli import main

main()
