"""The ``facepaint`` command line: a thin adapter over the public API.

Typer was chosen over argparse because a command is then a typed function (paths, enums and
ranges are validated by the parser, choices are enums) and tests drive it with Typer's runner.
Each group of commands lives in its own module and registers itself on :data:`app`.
Errors that facepaint raises on purpose are printed as one line ``error: ...`` with exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import signal
import sys
import threading

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
from facepaint.cli import paint as _paint  # noqa: E402,F401
from facepaint.cli import face as _face  # noqa: E402,F401
from facepaint.cli import metrics as _metrics  # noqa: E402,F401
from facepaint.cli import model as _model  # noqa: E402,F401
from facepaint.cli import batch as _batch  # noqa: E402,F401
from facepaint.cli import web as _web  # noqa: E402,F401


class Terminated(BaseException):
    """SIGTERM (a job scheduler, ``docker stop``, ``kill``), raised in the main thread so that it
    unwinds as Ctrl-C does: writers remove their temporary files, workers are stopped. Not a
    KeyboardInterrupt, which the parser's runner would turn into exit code 1."""


def _terminate(signum, frame) -> None:
    raise Terminated()


#: Exit code after Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130
_INTERRUPTED_MESSAGE = "error: interrupted; no output was written"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``facepaint`` script; returns the exit code.

    The parser's own usage errors (a bad option value, say) exit with code 2 and its message;
    a :class:`FacepaintError` is printed as one line ``error: ...``, also with code 2; Ctrl-C
    prints ``error: interrupted; ...`` and exits with 130.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        app(args=argv, prog_name="facepaint", standalone_mode=True)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if code == INTERRUPTED:
            # Typer turns a KeyboardInterrupt inside a command into a silent exit with code 130.
            print(_INTERRUPTED_MESSAGE, file=sys.stderr)
        return code
    except FacepaintError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as stop:
        print(_INTERRUPTED_MESSAGE, file=sys.stderr)
        return 143 if isinstance(stop, Terminated) else INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0
