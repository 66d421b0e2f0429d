"""Exceptions shared by every package; the CLI maps them to exit codes."""


class LowcapError(Exception):
    """Base class of lowcap's own errors."""


class UserInputError(LowcapError):
    """Bad input from the user (config value, path, argument): the CLI exits with code 2."""


class DataError(UserInputError):
    """A data file is missing, corrupted or malformed; the message names the file."""


class StoreError(LowcapError):
    """The results store or a checkpoint is unreadable or inconsistent (message names the file)."""


class WriteError(LowcapError):
    """A file or the store could not be written (disk full, quota, permissions); the message
    names it. Nothing partial is left behind, so rerunning the command resumes."""
