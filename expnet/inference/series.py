"""Per-track time series of a video: a CSV (frame, time, expression, pose) and a PNG plot of the
expression components and yaw / pitch / roll against time, one pair per track; with smoothing on,
the smoothed values are drawn over the raw ones (faint)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from expnet.inference.results import ImagePrediction
from expnet.io.atomic import atomic_path
from expnet.io.figures import pyplot, save_figure


class TrackSeries:
    """Collects the faces of one video's frame rows, by track."""

    def __init__(self, fps: float):
        self.fps = float(fps)
        self.rows: dict[int, list[tuple[int, object]]] = {}

    def add(self, row) -> None:
        """A row of :func:`expnet.inference.video.predict_video`; other rows are ignored."""
        if not isinstance(row, ImagePrediction) or "#" not in row.image:
            return
        frame = int(row.image.rsplit("#", 1)[1])
        for face in row.faces:
            if face.track is not None:
                self.rows.setdefault(face.track, []).append((frame, face))

    def write(self, folder: Path, stem: str, plot: bool = True) -> list[Path]:
        """``<stem>_track<k>.csv`` (and ``.png``) per track in ``folder``; the written paths."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for track, items in sorted(self.rows.items()):
            base = folder / f"{stem}_track{track}"
            written.append(self._csv(base.with_suffix(".csv"), items))
            if plot:
                written.append(self._png(base.with_suffix(".png"), items, track))
        return written

    def _csv(self, path: Path, items) -> Path:
        k = len(items[0][1].expression)
        header = (["frame", "time", "yaw", "pitch", "roll", "scale", "tx", "ty"] + [f"exp{j}" for j in range(k)]
                  + [f"expn{j}" for j in range(k)])
        smoothed = items[0][1].smoothed is not None
        if smoothed:
            header += [f"expn{j}_smoothed" for j in range(k)] + ["yaw_smoothed", "pitch_smoothed", "roll_smoothed"]
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for frame, f in items:
                p = f.pose
                line = [frame, round(frame / self.fps, 4), round(p.yaw, 3), round(p.pitch, 3), round(p.roll, 3),
                        f"{p.scale:.6g}", *np.round(p.translation, 2)]
                line += np.round(f.expression, 5).tolist() + np.round(f.expression_normalized, 5).tolist()
                if smoothed:
                    s = f.smoothed
                    line += s["expression_normalized"] + [s["yaw"], s["pitch"], s["roll"]]
                w.writerow(line)
        return path

    def _png(self, path: Path, items, track: int) -> Path:
        plt = pyplot()
        t = np.array([frame for frame, _ in items]) / self.fps
        expn = np.array([f.expression_normalized for _, f in items])
        angles = np.array([[f.pose.yaw, f.pose.pitch, f.pose.roll] for _, f in items])
        smoothed = items[0][1].smoothed is not None
        fig, ax = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        raw_style = {"lw": 0.8, "alpha": 0.35} if smoothed else {"lw": 1}
        for j in range(expn.shape[1]):
            c = colours[j % len(colours)]
            ax[0].plot(t, expn[:, j], color=c, label=None if smoothed else f"{j}", **raw_style)
            if smoothed:
                ax[0].plot(t, [f.smoothed["expression_normalized"][j] for _, f in items], color=c, lw=1.2,
                           label=f"{j}")
        ax[0].set_ylabel("expression (whitened)" + (", smoothed over raw" if smoothed else ""))
        ax[0].legend(ncol=5, fontsize=7, title="component", title_fontsize=7)
        for j, name in enumerate(("yaw", "pitch", "roll")):
            c = colours[j % len(colours)]
            ax[1].plot(t, angles[:, j], color=c, label=None if smoothed else name, **raw_style)
            if smoothed:
                ax[1].plot(t, [f.smoothed[name] for _, f in items], color=c, lw=1.2, label=name)
        ax[1].set_ylabel("degrees"), ax[1].set_xlabel("time (s)"), ax[1].legend(fontsize=7)
        for a in ax:
            a.grid(alpha=0.3)
        fig.suptitle(f"track {track}", fontsize=9)
        fig.tight_layout()
        return save_figure(fig, path, dpi=90)


def series_writer(folder: Path, every: int = 1):
    """A callback for video rows (``on_frame`` of a predict job) that writes each video's per-track
    CSV and PNG into ``folder`` when the video ends."""
    from expnet.inference.video import DEFAULT_FPS, ClipSummary, is_live, video_info
    current: dict[str, TrackSeries] = {}

    def on_frame(row) -> None:
        name = row.video if isinstance(row, ClipSummary) else row.image.rsplit("#", 1)[0]
        if name not in current:  # a live source is not opened a second time for its rate
            fps = DEFAULT_FPS if is_live(name) else video_info(name)[1]
            current[name] = TrackSeries(fps / every)
        if isinstance(row, ClipSummary):
            if row.track is None:  # the video is done
                stem = Path(name).stem if not name.isdigit() else f"camera{name}"
                current.pop(name).write(folder, stem)
            return
        current[name].add(row)
    return on_frame
