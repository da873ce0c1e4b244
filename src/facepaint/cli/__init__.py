"""The ``facepaint`` command line: a thin adapter over the public API.

Typer was chosen over argparse because a command is then a typed function (paths, enums and
ranges are validated by the parser, choices are enums) and tests drive it with Typer's runner.
Each group of commands lives in its own module and registers itself on :data:`app`.
Errors that facepaint raises on purpose are printed as one line ``error: ...`` with exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer

from facepaint.errors import FacepaintError

app = typer.Typer(
    name="facepaint",
    help="Paint portrait videos with deformable brush strokes, keeping small faces recognizable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module registers its commands on `app` when imported.
from facepaint.cli import video as _video  # noqa: E402,F401
from facepaint.cli import metrics as _metrics  # noqa: E402,F401


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``facepaint`` script; returns the exit code."""
    try:
        app(args=argv, standalone_mode=False)
    except FacepaintError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; no output was written", file=sys.stderr)
        return 130
    except typer.Exit as done:
        return int(done.exit_code or 0)
    except Exception as error:  # click's usage errors arrive here in non-standalone mode
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            return error.exit_code
        if isinstance(error, click.exceptions.Abort):
            return 1
        raise
    return 0
