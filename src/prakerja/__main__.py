"""`prakerja <command>`: Django's management commands under the programme's name."""

import os
import sys

ALIASES = {"partner-sim": "partner_sim"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prakerja.settings")
    from django.core.management import execute_from_command_line

    argv = sys.argv[:]
    argv[0] = "prakerja"
    # Django command names are module names; the CLI's own spelling of a few uses a dash.
    argv[1:3] = [ALIASES.get(word, word) for word in argv[1:3]]
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
