"""Errors raised by facepaint.

Every error a user can cause subclasses both :class:`FacepaintError` (so callers can catch the
domain) and a builtin (so generic handlers still work), in the manner of PyAV's
``InvalidDataError(FFmpegError, ValueError)``. Messages say what was expected, what was got and
how to fix it, in one line: the CLI prints them as they are.
"""

from __future__ import annotations


class FacepaintError(Exception):
    """Base class of every error facepaint raises on purpose."""


class InputError(FacepaintError, ValueError):
    """A file, path or option given by the user is wrong (missing, unreadable, not a video...)."""


class OutputError(FacepaintError, OSError):
    """The output cannot be written (missing directory, same path as the input, disk full...)."""


class MissingDependencyError(FacepaintError, ImportError):
    """An optional extra is needed; the message names the command that installs it."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(
            f"{what} needs the optional extra '{extra}': install it with "
            f"`pip install 'facepaint[{extra}]'` (or `bash scripts/install.sh {extra}`)"
        )
        self.extra = extra
