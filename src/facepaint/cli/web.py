"""``facepaint serve``: the local web app (extra ``web``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from facepaint.cli import app


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on; the default serves this machine only (0.0.0.0: the network; the app has no login).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 7860,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", min=1, help="Largest upload accepted, MB.")] = 500,
) -> None:
    """Run the web app: paint a photo or a video in the browser and see it beside the source.
    Stop it with Ctrl-C; its temporary files are removed."""
    from facepaint.web import serve

    serve(
        host=host,
        port=port,
        max_upload_mb=max_upload_mb,
        ready=lambda url: print(f"facepaint app on {url} (Ctrl-C stops it)", file=sys.stderr, flush=True),
    )
