"""Expression over time in a video: per-frame coefficients and a PNG plot of the first ones.

    python examples/emotion_over_time.py clip.mp4 [plot.png]

Per-frame rows come from the same code as ``expnet predict clip.mp4``; the plot needs
matplotlib (``pip install 'expnet[plots]'``).
"""

import sys
from pathlib import Path

import numpy as np

from expnet import ExpNet
from expnet.inference.video import ClipSummary, predict_video
from expnet.io.figures import pyplot

video = Path(sys.argv[1])
plot = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(f"{video.stem}_expression.png")

frames, values = [], []
for row in predict_video(ExpNet(), video):
    if isinstance(row, ClipSummary):
        print(f"{row.frames} frames, {row.frames_with_face} with a face")
    elif row.faces:
        frames.append(int(row.image.rsplit("#", 1)[1]))
        values.append(row.faces[0].expression_normalized)
if not values:
    sys.exit(f"{video}: no face in any frame")
values = np.array(values)
plt = pyplot()
fig, ax = plt.subplots(figsize=(8, 3))
for k in range(min(4, values.shape[1])):
    ax.plot(frames, values[:, k], label=f"expression {k}")
ax.set_xlabel("frame"), ax.set_ylabel("whitened coefficient"), ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(plot, dpi=90)
print(f"wrote {plot}")
