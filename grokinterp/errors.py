"""User-facing errors.

Every mistake a user can make (a bad config value, a missing run directory, a
corrupt checkpoint) raises a :class:`UserError` whose message is one line naming
the file or field and what to do. The command line prints that line and exits
with status 2; Python callers can catch the class.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input: reported as one line, exit status 2."""


class ConfigError(UserError, ValueError):
    """A config field has a bad value, or a config file has an unknown key."""


class RunDirError(UserError):
    """A run directory is missing, incomplete, corrupt, or would be overwritten."""


class DivergedError(UserError):
    """A run's training loss became NaN or infinite: it stopped, and its metrics record
    where. Sweeps record such a run as ``diverged`` (an outcome, not a failure)."""
