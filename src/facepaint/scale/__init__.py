"""Many videos and long videos: shots as the unit of work, resumable runs, a pool of workers.

A video is cut at its scene cuts (:func:`find_shots`, the painter's own test), its shots are
painted as independent tasks on a pool of local processes (:class:`LocalPool`) or a Dask
cluster (:class:`DaskPool`, extra ``scale``; Dask is imported here and nowhere else), and joined
by stream copy with the source's audio. The output is frame for frame that of one sequential
run (:meth:`facepaint.pipeline.Stylizer.start_shot`). A run keeps its plan and finished shots in
a work folder beside the output and resumes from it (:mod:`facepaint.scale.plan`).
"""

from facepaint.scale.executors import DaskPool, LocalPool, WorkerDied, local_cores, make_pool
from facepaint.scale.plan import RunSettings, VideoPlan, WorkFolder
from facepaint.scale.run import BatchReport, VideoResult, stylize_videos
from facepaint.scale.shots import Shot, ShotScan, find_shots
from facepaint.scale.tasks import ShotResult, ShotTask, paint_shot

__all__ = [
    "BatchReport",
    "DaskPool",
    "LocalPool",
    "RunSettings",
    "Shot",
    "ShotResult",
    "ShotScan",
    "ShotTask",
    "VideoPlan",
    "VideoResult",
    "WorkFolder",
    "WorkerDied",
    "find_shots",
    "local_cores",
    "make_pool",
    "paint_shot",
    "stylize_videos",
]
