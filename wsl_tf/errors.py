"""The project's errors for what a user can fix: every command prints one of these as one line and exits 1.

Anything else is a bug and keeps its traceback. Each class also derives from
the built-in error it refines, so `except ValueError` still catches a bad
setting.
"""


class UserError(Exception):
    """Something the user can fix: a flag, a setting, a file or a corpus; the message says what and where."""


class ConfigError(UserError, ValueError):
    """A setting (a --config.KEY or a flag) that cannot work; the message names it."""


class DataError(UserError, ValueError):
    """A dataset, run directory or input file that is missing, damaged or unfit; the message names it."""
