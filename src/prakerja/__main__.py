"""`prakerja <command>`: Django's management commands under the programme's name."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prakerja.settings")
    from django.core.management import execute_from_command_line

    argv = sys.argv[:]
    argv[0] = "prakerja"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
