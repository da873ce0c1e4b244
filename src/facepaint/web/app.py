"""The Gradio app of ``facepaint serve``: a Photo tab and a Video tab over :mod:`facepaint.web.jobs`.

Gradio is imported here and nowhere else. The handlers only translate between Gradio's values and
the jobs' (paths, numbers, progress), and turn a :class:`~facepaint.errors.FacepaintError` into the
command line's one-line ``error: ...`` in the page.
"""

from __future__ import annotations

import threading
from pathlib import Path

import gradio as gr

from facepaint._runtime import release_freed_memory
from facepaint.errors import FacepaintError
from facepaint.web import jobs

#: Every painting event shares this concurrency group, so the app paints one job at a time
#: (two would each run at half speed on the same cores); the rest wait in Gradio's queue, which
#: shows each its position.
PAINT_GROUP = "paint"

_INTRO = (
    "Paint a portrait **photo** or **video** with brush strokes; faces keep small strokes and their "
    "eyes, brows, nose and mouth, so people stay recognizable. Everything runs on this machine."
)


def _error_line(error: Exception, upload=None) -> str:
    """``error: ...`` as the command line prints it, with the upload's cache path (a temporary
    folder of the server) shortened to the file name the user chose."""
    text = str(error)
    if upload:
        text = text.replace(str(upload), Path(upload).name)
    return f"error: {text}"


def build_app(workspace: jobs.Workspace, *, max_upload_bytes: int | None = None) -> gr.Blocks:
    """The app's :class:`gradio.Blocks`, writing its files under ``workspace``.

    Parameters
    ----------
    workspace : facepaint.web.jobs.Workspace
        Where uploads' results go (Gradio's own upload cache is set by :func:`facepaint.web.serve`).
    max_upload_bytes : int, optional
        Largest upload accepted; larger ones get the one-line error (Gradio's ``max_file_size``
        stops them earlier in the browser, this covers other clients).
    """
    # cancel flags of the running video jobs, by browser session
    cancels: dict[str, threading.Event] = {}

    def session_of(request: gr.Request | None) -> str:
        return getattr(request, "session_hash", None) or "local"

    # -- Photo -------------------------------------------------------------------------------
    def paint_photo(upload, style, stroke_scale, seed, request: gr.Request):
        try:
            path = jobs.check_upload(upload, max_bytes=max_upload_bytes, what="photo")
            folder = workspace.job_dir(session_of(request), "photo")
            result = jobs.paint_photo(path, folder, style=style, stroke_scale=stroke_scale, seed=seed)
        except FacepaintError as error:
            return None, None, _error_line(error, upload)
        finally:
            release_freed_memory()  # the app idles between jobs: hand the painter's memory back
        height, width = result.painted.shape[:2]
        status = f"painted {width}x{height} in {result.seconds:.1f} s"
        return (result.source, result.painted), str(result.path), status

    # -- Video -------------------------------------------------------------------------------
    def preview(upload, style, stroke_scale, seed, start, end, show_regions, request: gr.Request):
        # A generator: each stage reaches the page as soon as it is ready.
        first = segment = regions = None
        source_clip = None
        try:
            path = jobs.check_upload(upload, max_bytes=max_upload_bytes, what="video")
            folder = workspace.job_dir(session_of(request), "preview")
            yield None, None, None, None, "painting the first frame ..."
            for stage in jobs.preview_video(
                path, folder, style=style, stroke_scale=stroke_scale, seed=seed, start_s=start, end_s=end, regions=show_regions
            ):
                if isinstance(stage, jobs.PreviewFrame):
                    first = (stage.source, stage.painted)
                    status = f"first frame painted in {stage.seconds:.1f} s; painting {jobs.PREVIEW_SECONDS:g} s ..."
                elif isinstance(stage, jobs.PreviewSegment):
                    source_clip, segment = str(stage.source), str(stage.painted)
                    painted_line = f"preview: {stage.frames} frames painted in {stage.seconds:.1f} s"
                    status = painted_line + ("; finding the faces ..." if show_regions else "")
                else:
                    regions = str(stage.path)
                    status = f"{painted_line}; {stage.faces_per_frame:.1f} faces per frame found"
                yield first, source_clip, segment, regions, status
        except FacepaintError as error:
            yield first, source_clip, segment, regions, _error_line(error, upload)
        finally:
            release_freed_memory()

    def run(upload, style, stroke_scale, seed, start, end, request: gr.Request, progress=gr.Progress()):
        session = session_of(request)
        cancel = threading.Event()
        cancels[session] = cancel
        try:
            path = jobs.check_upload(upload, max_bytes=max_upload_bytes, what="video")
            folder = workspace.job_dir(session, "run")
            tracker = jobs.RunProgress(
                lambda done, total, text: progress((done, total), desc=text, unit="frames"), cancel
            )
            progress(0, desc="starting ...")
            report = jobs.paint_video(
                path, folder, style=style, stroke_scale=stroke_scale, seed=seed, start_s=start, end_s=end, progress=tracker
            )
        except jobs.JobCancelled as error:
            return None, None, f"error: {error}"
        except FacepaintError as error:
            return None, None, _error_line(error, upload)
        finally:
            if cancels.get(session) is cancel:
                del cancels[session]
            release_freed_memory()
        status = (
            f"done: {report.frames} frames in {report.seconds:.1f} s "
            f"({report.frames_per_second:.1f} frames/s), audio {report.audio}"
        )
        return report.output, report.output, status

    def cancel_run(request: gr.Request):
        flag = cancels.get(session_of(request))
        if flag is not None:  # running: stop at the next frame (a queued run is dropped by `cancels`)
            flag.set()
        return "cancelled; no output was written"

    with gr.Blocks(title="facepaint", analytics_enabled=False) as app:
        gr.Markdown(f"# facepaint\n{_INTRO}")
        with gr.Tab("Video", id="video"):
            with gr.Row():
                with gr.Column(scale=1):
                    video_in = gr.File(label="Video (mp4, mov, mkv, webm, avi, raw .h264 ...)", elem_id="video-upload")
                    video_style = gr.Radio(list(jobs.STYLES), value="oil", label="Style", elem_id="video-style")
                    video_scale = gr.Slider(0.5, 3.0, value=1.0, step=0.1, label="Stroke scale (background strokes; faces keep theirs)", elem_id="video-scale")
                    video_seed = gr.Number(0, precision=0, label="Seed", elem_id="video-seed")
                    with gr.Row():
                        video_start = gr.Number(None, label="Start (s, optional)", minimum=0, elem_id="video-start")
                        video_end = gr.Number(None, label="End (s, 0: the end)", minimum=0, elem_id="video-end")
                    video_regions = gr.Checkbox(False, label="Show the faces found (regions and contours)", elem_id="video-regions")
                    with gr.Row():
                        preview_button = gr.Button("Preview", elem_id="preview-button")
                        run_button = gr.Button("Paint the whole video", variant="primary", elem_id="run-button")
                        cancel_button = gr.Button("Cancel", variant="stop", elem_id="cancel-button")
                    video_status = gr.Textbox(label="Status", interactive=False, elem_id="video-status")
                with gr.Column(scale=2):
                    first_frame = gr.ImageSlider(label="First frame: source | painted", elem_id="preview-frame", interactive=False)
                    with gr.Row():
                        source_clip = gr.Video(label="Source (preview)", elem_id="preview-source", interactive=False)
                        painted_clip = gr.Video(label="Painted (preview)", elem_id="preview-painted", interactive=False)
                    regions_clip = gr.Video(label="Faces found", elem_id="preview-regions", interactive=False)
                    result_video = gr.Video(label="Painted video", elem_id="result-video", interactive=False)
                    result_file = gr.File(label="Download", elem_id="result-file", interactive=False)
        with gr.Tab("Photo", id="photo"):
            with gr.Row():
                with gr.Column(scale=1):
                    photo_in = gr.File(label="Photo (png, jpg, ...)", elem_id="photo-upload")
                    photo_style = gr.Radio(list(jobs.STYLES), value="oil", label="Style", elem_id="photo-style")
                    photo_scale = gr.Slider(0.5, 3.0, value=1.0, step=0.1, label="Stroke scale (background strokes; faces keep theirs)", elem_id="photo-scale")
                    photo_seed = gr.Number(0, precision=0, label="Seed", elem_id="photo-seed")
                    photo_button = gr.Button("Paint", variant="primary", elem_id="photo-button")
                    photo_status = gr.Textbox(label="Status", interactive=False, elem_id="photo-status")
                with gr.Column(scale=2):
                    photo_slider = gr.ImageSlider(label="Source | painted", elem_id="photo-slider", interactive=False)
                    photo_file = gr.File(label="Download", elem_id="photo-file", interactive=False)

        preview_inputs = [video_in, video_style, video_scale, video_seed, video_start, video_end, video_regions]
        preview_outputs = [first_frame, source_clip, painted_clip, regions_clip, video_status]
        shared = dict(concurrency_id=PAINT_GROUP, concurrency_limit=1)
        # a new upload is previewed at once: its first painted frame is the quickest answer
        video_in.upload(preview, preview_inputs, preview_outputs, **shared)
        preview_button.click(preview, preview_inputs, preview_outputs, **shared)
        run_event = run_button.click(
            run, preview_inputs[:-1], [result_video, result_file, video_status], **shared
        )
        # The flag stops the painting at its next frame (the writer then removes its partial
        # file); `cancels` also stops the page waiting. Not queued: it must not wait for the job.
        cancel_button.click(cancel_run, None, video_status, cancels=[run_event], queue=False)
        photo_button.click(
            paint_photo, [photo_in, photo_style, photo_scale, photo_seed], [photo_slider, photo_file, photo_status], **shared
        )
    return app
