"""Shots on a real Dask cluster: a LocalCluster of 2 worker processes with 1 thread each, started
and stopped here, reached by its scheduler address as a remote cluster would be."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from facepaint import stylize_video
from facepaint.io import open_video
from facepaint.pipeline import PipelineConfig
from facepaint.scale import RunSettings, stylize_videos
from videoclips import make_multishot_clip

distributed = pytest.importorskip("distributed", reason="the extra 'scale' (Dask) is not installed")

CONFIG = PipelineConfig(face_model="none")
SETTINGS = RunSettings(config=CONFIG, seed=5, crf=0, preset="ultrafast")
TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50)
    yield cluster
    cluster.close()


def test_shots_on_a_dask_cluster_equal_one_sequential_run_and_survive_a_dead_worker(cluster, tmp_path):
    clip = make_multishot_clip(tmp_path / "shots.mp4")
    stylize_video(clip, tmp_path / "seq.mp4", config=CONFIG, seed=5, crf=0, preset="ultrafast")
    sequential = [f.image for f in open_video(tmp_path / "seq.mp4")]
    import scaletasks

    out = tmp_path / "out.mp4"
    # die_once kills the worker that paints shot 1 the first time: the scheduler gives it to another
    report = stylize_videos([(clip, out)], SETTINGS, scheduler=cluster.scheduler_address, min_task_frames=1, task=scaletasks.die_once)
    assert report.ok, report.videos[0].error
    assert "Dask scheduler" in report.pool and (tmp_path / "died-once").exists()
    painted = [f.image for f in open_video(out)]
    assert len(painted) == 21 and all(np.array_equal(a, b) for a, b in zip(painted, sequential))
    assert len({r.worker for r in report.shots}) >= 1 and all(r.peak_rss_mib > 0 for r in report.shots)
