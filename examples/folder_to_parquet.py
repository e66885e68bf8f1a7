"""A folder of photos -> a Parquet table, one row per face (failed images as rows with an error).

    python examples/folder_to_parquet.py photos/ faces.parquet

Needs pyarrow (``pip install 'expnet[parquet]'``). Without arguments it writes the default sample
photo's faces to ``faces.parquet``.
"""

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from expnet import ExpNet
from expnet.assets.samples import sample_path
from expnet.io.inputs import list_images

source = Path(sys.argv[1]) if len(sys.argv) > 1 else sample_path()
target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("faces.parquet")

rows = []
for pred in ExpNet().predict_many(list_images(source)):
    for k, face in enumerate(pred.faces):
        rows.append({"image": pred.image, "face": k, "error": None, "box": face.box.tolist(),
                     "score": face.score, "yaw": face.pose.yaw, "pitch": face.pose.pitch, "roll": face.pose.roll,
                     "expression": face.expression.tolist(),
                     "expression_normalized": face.expression_normalized.tolist(), "shape": face.shape.tolist()})
    if not pred.faces:  # every column, empty: the schema comes from the rows
        rows.append({"image": pred.image, "face": None, "error": pred.error, "box": None, "score": None,
                     "yaw": None, "pitch": None, "roll": None, "expression": None,
                     "expression_normalized": None, "shape": None})
table = pa.Table.from_pylist(rows)
pq.write_table(table, target)
print(f"wrote {target}: {table.num_rows} rows, columns {', '.join(table.column_names)}")
