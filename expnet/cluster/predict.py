"""``expnet predict --engine ray``: the same rows as the local engine, from a Ray actor pool.

Inputs become a Ray dataset of paths, one block per batch of images (then the videos, a block each);
``map_batches`` sends each block to an actor that holds an :class:`~expnet.inference.ExpNet`
(one onnxruntime thread: one actor per CPU keeps every core busy). A JSONL, CSV or NPZ output is
written by the driver through :class:`~expnet.inference.outputs.PredictionWriter` as the rows come
back (in input order); a Parquet output is written as parts by the actors themselves, and only a
count per input comes back. Either way a re-run skips what the output holds, and a block that Ray
runs again after a worker died replaces its own part instead of adding a copy.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from expnet.cluster.runtime import actor_count, engine_errors, ray_runtime, shielded
from expnet.inference import parquet
from expnet.inference.jobs import PredictOptions
from expnet.inference.outputs import PredictionWriter
from expnet.inference.predictor import model_sizes
from expnet.inference.video import ClipSummary, frame_of, is_live, predict_video
from expnet.io.inputs import is_video
from expnet.io.summary import JobSummary

IMAGES_PER_BLOCK = 64  # one Parquet part, and one unit of work Ray retries


class _Predictor:
    """One Ray actor: an ExpNet that predicts a block of inputs.

    With ``folder`` (a Parquet dataset) it writes the block's rows as one part and returns one
    count row per input; else it returns the rows themselves as JSON.
    """

    def __init__(self, settings: dict, folder: str | None = None):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        self.settings = PredictOptions(**settings)  # plain values travel to the workers
        self.folder = folder
        self.net = self.settings.predictor(threads=1)  # one actor per CPU keeps every core busy

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        inputs = [str(v) for v in batch["input"]]
        boxes = [json.loads(v) for v in batch["boxes"]]
        rows: list[dict] = []
        images = [(p, b) for p, b in zip(inputs, boxes) if not is_video(p)]
        if images:
            user_boxes = None if all(b is None for _, b in images) else [b or [] for _, b in images]
            rows += [p.to_dict() for p in self.net.predict_many([p for p, _ in images], user_boxes,
                                                                batch_size=self.settings.batch_size)]
        for video in (p for p in inputs if is_video(p)):
            rows += self._video(video)
        if self.folder is None:
            return {"row": [json.dumps(r) for r in rows]}
        parquet.write_part(self.folder, rows, inputs)
        return _counts(rows)

    def _video(self, video: str) -> list[dict]:
        s = self.settings
        rows: list[dict] = []
        try:
            for item in predict_video(self.net, video, every=s.every, progress=False, detect_every=s.detect_every,
                                      smooth=s.smooth):
                rows.append(item.to_dict())
        except (ValueError, OSError) as exc:  # as the local engine: the video's own row says why
            rows = [r for r in rows if not r.get("clip")]
            rows.append(ClipSummary(video, 0, 0, None, None, str(exc)).to_dict())
        return rows


def _counts(rows: list[dict]) -> dict[str, list]:
    """Per finished input: faces (a video's: over its frames), error and video frames (what the
    driver's summary needs)."""
    out: dict[str, list] = {"input": [], "faces": [], "error": [], "frames": []}
    frames: dict[str, list[int]] = {}   # video -> [frames, faces]
    for r in rows:
        video = None if r.get("clip") else frame_of(r["image"])
        if video is not None:
            seen = frames.setdefault(video, [0, 0])
            seen[0] += 1
            seen[1] += len(r["faces"])
        elif not r.get("clip") or "track" not in r:
            n_frames, faces = frames.get(r["image"], [0, 0]) if r.get("clip") else (0, len(r["faces"]))
            out["input"].append(r["image"])
            out["faces"].append(faces)
            out["error"].append(r["error"] or "")
            out["frames"].append(n_frames)
    return out


def _datasets(ray, images: list[str], videos: list[str], boxes: list | None, actors: int) -> list:
    """The images' dataset (a block per batch), then the videos' (a block each): run one after the
    other, as the local engine writes images first."""
    out = []
    if images:  # at most IMAGES_PER_BLOCK a block, and a block for every actor on a small job
        items = [{"input": p, "boxes": json.dumps(None if boxes is None else boxes[k])} for k, p in enumerate(images)]
        per_block = min(IMAGES_PER_BLOCK, math.ceil(len(items) / actors))
        out.append(ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / per_block)))
    if videos:
        out.append(ray.data.from_items([{"input": v, "boxes": "null"} for v in videos],
                                       override_num_blocks=len(videos)))
    return out


def predict_on_ray(settings: PredictOptions, inputs: list, output: str | os.PathLike | None,
                   boxes: dict[str, list] | None = None, address: str | None = None, workers: int | None = None,
                   cpus: int | None = None, progress: bool = True) -> JobSummary:
    """Predict every input not yet in ``output`` on Ray; returns the job's summary.

    Parameters
    ----------
    settings : PredictOptions
        The predictor every actor builds (and the job's batch size and video settings).
    inputs : list
        Image and video paths (live sources are refused: a camera belongs to one machine).
    output : path, optional
        ``.jsonl``, ``.csv``, ``.npz`` (written by the driver) or ``.parquet`` (a folder of parts
        written by the actors); None: JSON Lines on stdout.
    boxes : dict, optional
        User face boxes by image path or file name.
    address : str, optional
        A running cluster (``auto`` or ``HOST:PORT``); None starts a local runtime on loopback.
    workers : int, optional
        Actors (default: one per CPU of the cluster).
    cpus : int, optional
        CPUs of a local runtime (default: all cores).
    """
    live = [p for p in inputs if isinstance(p, int) or is_live(p)]
    if live:
        raise ValueError(f"--engine ray takes files only; run live sources ({live[0]}) with the local engine")
    with PredictionWriter(output, sizes=model_sizes(settings.model)) as writer:
        if writer.done:
            print(f"resuming: {len(writer.done)} inputs already done", file=sys.stderr)
        todo = [str(p) for p in inputs if str(p) not in writer.done]
        todo = list(dict.fromkeys(todo))
        images = [p for p in todo if not is_video(p)]
        videos = [p for p in todo if is_video(p)]
        if not todo:
            return writer.summary
        per_image = None
        if boxes is not None:
            per_image = [boxes.get(p, boxes.get(Path(p).name, [])) for p in images]
        folder = str(writer.path) if writer.is_parquet else None
        with engine_errors("predict"), ray_runtime(address, cpus) as resources:
            import ray
            # Rows in input order, as the local engine writes them.
            ray.data.DataContext.get_current().execution_options.preserve_order = True
            actors = min(actor_count(resources, workers), len(todo))
            bar = tqdm(total=len(todo), unit="input", desc="predict (ray)", disable=not progress)
            for ds in _datasets(ray, images, videos, per_image, actors):
                ds = ds.map_batches(shielded(__name__, "_Predictor"),
                                    fn_constructor_kwargs={"settings": asdict(settings), "folder": folder},
                                    batch_size=None, compute=ray.data.ActorPoolStrategy(size=min(actors, ds.count())),
                                    num_cpus=1, batch_format="numpy")
                for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    if folder is None:
                        for text in batch["row"]:
                            row = json.loads(text)
                            writer.write_row(row)
                            bar.update(_finishes_input(row))
                    else:
                        for name, faces, error, frames in zip(batch["input"], batch["faces"], batch["error"],
                                                              batch["frames"]):
                            writer.summary.add(str(name), int(faces), str(error) or None, int(frames))
                            bar.update()
            bar.close()
        if folder is not None:
            parquet.remove_duplicates(folder)
    return writer.summary


def _finishes_input(row: dict) -> int:
    if row.get("clip"):
        return int("track" not in row)
    return int(frame_of(row["image"]) is None)
