"""Scale-out: ``expnet predict`` and ``expnet label`` on a Ray cluster (``--engine ray``).

Ray Data carries the inputs to an actor pool (one actor per CPU, each holding its own
onnxruntime session or detector and landmark models, as Ray's batch-inference examples do); the
rows come back to the driver, or, for a Parquet output, are written as parts by the actors
themselves. Needs the optional extra ``expnet[ray]`` on the driver and on every worker node.
"""
