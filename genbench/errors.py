"""The one exception type a user is meant to see.

Anything raised as `GenbenchError` is a problem with the user's input or environment; the CLI
prints its message on one line and exits with status 2. Anything else is a bug in genbench
and keeps its traceback.
"""


class GenbenchError(Exception):
    """Bad input or a missing resource, explained in one line."""
