"""``python -m kettle``: the same as the ``kettle`` command."""

from kettle.cli import main

main(prog_name="kettle")
