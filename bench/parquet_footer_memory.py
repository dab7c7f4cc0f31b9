"""RSS of a process that streams row groups of hadml's cluster-table schema to Parquet with
pyarrow alone (no generator): what the Parquet footer costs per row group
(docs/performance.md, "The RSS creep with --clusters").

    python bench/parquet_footer_memory.py --row-groups 400 --rows 8192
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hadml.io.cluster_table import SCHEMA


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def random_table(rows: int, rng: np.random.Generator) -> pa.Table:
    columns = {}
    for name, dtype in zip(SCHEMA.names, SCHEMA.types, strict=True):
        if dtype == pa.float64():
            values = rng.random(rows)
        elif dtype == pa.bool_():
            values = rng.random(rows) > 0.5
        else:
            values = rng.integers(0, 1000, rows)
        columns[name] = pa.array(values, type=dtype)
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--row-groups", type=int, default=400)
    ap.add_argument("--rows", type=int, default=8192, help="rows per row group")
    args = ap.parse_args()
    table = random_table(args.rows, np.random.default_rng(1))
    every = max(args.row_groups // 10, 1)
    with tempfile.TemporaryDirectory() as tmp:
        writer = pq.ParquetWriter(Path(tmp) / "t.parquet", SCHEMA)
        first = None
        for group in range(args.row_groups):
            writer.write_table(table, row_group_size=table.num_rows)
            pa.default_memory_pool().release_unused()
            if group == every:
                first = rss_mib()
            if group % every == 0:
                print(f"row group {group:5d}: RSS {rss_mib():7.1f} MiB")
        last = rss_mib()
        writer.close()
    assert first is not None
    per_group = (last - first) * 1024 / (args.row_groups - 1 - every)
    print(f"growth {last - first:.1f} MiB over {args.row_groups - 1 - every} row groups: "
          f"{per_group:.1f} KiB per row group")


if __name__ == "__main__":
    main()
