"""Read-only timing of the CSV reader (no map/validate), one process."""

import resource
import sys
import time
from pathlib import Path

from midlayout.layout.mapping import load_mapping
from midlayout.readers import read_batches

folder, mapping = Path(sys.argv[1]), sys.argv[2]
bs = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
m = load_mapping(Path(mapping))
t0 = time.perf_counter()
tot = rej = 0
for fid, name in (("person", "person.csv"), ("household", "household.csv")):
    src = m.source.file(fid)
    for b in read_batches(src, folder / name, bs):
        tot += b.rows.height
        rej += b.rejects.height
print(
    f"{time.perf_counter() - t0:.2f}s rows={tot} rejects={rej} maxrss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}MiB"
)
