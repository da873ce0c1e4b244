"""``facepaint serve``: a local web app to paint a photo or a video in the browser.

Needs the optional extra ``web`` (Gradio). Gradio is imported only inside this package, and only
when the app is built; the app calls facepaint's public API (:mod:`facepaint.web.jobs`).
"""

from __future__ import annotations

import os
import signal
import sys

from facepaint.errors import MissingDependencyError

#: Default largest upload, MB.
DEFAULT_MAX_UPLOAD_MB = 500


def _import_gradio():
    try:
        import gradio  # noqa: F401
    except ImportError as error:
        raise MissingDependencyError("facepaint serve (the web app)", "web") from error


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    ready=None,
) -> None:
    """Run the web app until interrupted (Ctrl-C or SIGTERM); its temporary files go with it.

    Parameters
    ----------
    host : str
        Address to listen on. The default serves this machine only; ``0.0.0.0`` opens the app
        to the network (it has no login).
    port : int
        TCP port.
    max_upload_mb : float
        Largest file accepted, MB.
    ready : callable, optional
        ``ready(url)`` once the server listens (the command line prints the address).
    """
    from facepaint._runtime import limit_malloc_arenas
    from facepaint.web.jobs import make_workspace

    # a long-lived process painting job after job: bounded memory matters more here than the
    # last few percent of speed (see limit_malloc_arenas); set before any worker thread starts
    limit_malloc_arenas(2)
    workspace = make_workspace()
    # Gradio reads these when it is imported: its upload cache goes inside the workspace, so
    # that removing the workspace removes every upload; no usage statistics are sent.
    os.environ["GRADIO_TEMP_DIR"] = str(workspace.root / "uploads")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    previous = signal.getsignal(signal.SIGTERM)
    # SIGTERM (a service manager, a test) ends the app like Ctrl-C, so the cleanup below runs.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _import_gradio()
        from facepaint.web.app import build_app

        max_bytes = int(max_upload_mb * 2**20)
        app = build_app(workspace, max_upload_bytes=max_bytes)
        app.queue(default_concurrency_limit=1)
        app.launch(
            server_name=host,
            server_port=port,
            max_file_size=max_bytes,
            prevent_thread_lock=True,
            inbrowser=False,
            share=False,
            ssr_mode=False,
            quiet=True,
            show_error=False,
        )
        if ready is not None:
            ready(app.local_url)
        try:
            app.block_thread()
        finally:
            app.close()
    finally:
        signal.signal(signal.SIGTERM, previous)
        workspace.remove()
        sys.stderr.flush()
