"""Writing a file so that it appears complete or not at all (the bottom layer: errors only)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from facepaint.errors import OutputError


def default_mode(*, directory: bool) -> int:
    """The permissions a plain open()/mkdir() would give under the current umask (mkstemp and
    mkdtemp make private 0600/0700 files, which a finished output must not keep)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def temporary_file(target: Path, suffix: str = ".part") -> Path:
    """An empty file beside ``target`` (same directory, so that the final rename is atomic),
    with ordinary permissions; the caller renames it over ``target`` or deletes it."""
    if not target.parent.is_dir():
        raise OutputError(f"output directory '{target.parent}' does not exist; create it first (mkdir -p '{target.parent}')")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    os.chmod(name, default_mode(directory=False))
    return Path(name)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file renamed when complete; returns the
    absolute path. On any error the target is left as it was."""
    target = Path(os.fspath(path)).expanduser().absolute()
    tmp = temporary_file(target)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def disk_error(error: BaseException, path: str | os.PathLike) -> OutputError | None:
    """The one-line :class:`OutputError` of a full disk (or quota) met writing ``path``, None
    for any other error."""
    if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(error):
        path = Path(os.fspath(path))
        return OutputError(f"no space left on the device of '{path.parent}' while writing '{path.name}'; free some space or write elsewhere")
    return None
