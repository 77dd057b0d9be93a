"""``python -m gencredits.cli`` runs the command line (the tests use it)."""

from gencredits.cli import main

main()
