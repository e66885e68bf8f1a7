"""``expnet bench``: commands that measure and print JSON.

Each benchmark is a function of plain arguments in its own module; :data:`BENCHMARKS` names them
for the command line without importing them (some load torch-free but heavy parts such as dlib).
"""

BENCHMARKS = {
    "net": "expnet.bench.speed:bench_net",
    "fit": "expnet.bench.fit:bench_fit",
    "fit-prior": "expnet.bench.fit:bench_fit_prior",
    "detectors": "expnet.bench.detectors:bench_detectors",
    "min-face": "expnet.bench.detectors:bench_min_face",
    "calibration": "expnet.bench.calibration:bench_calibration",
    "mesh68": "expnet.bench.mesh68:bench_mesh68",
    "render": "expnet.bench.render:bench_render",
    "video": "expnet.bench.video:bench_video",
    "scale": "expnet.bench.scale:bench_scale",
    "serve": "expnet.bench.serve:bench_serve",
}
