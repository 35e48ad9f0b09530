"""S3: an inventory of image files read with InventorySource, from local disk and over HTTP.

``n`` PNG files (32×32×3, default 20,000) in 10 class folders plus an inventory CSV (path, label);
batches of 64, shuffled. Peers: a plain serial loop (pandas CSV, Pillow, ``np.stack``, a dict for
the labels: what a hand-written datagenerator does) as the reference; ladle ``InventorySource``
read serially; ladle with ``workers=2, backend="process"`` (target: >= 0.9 × 2 × the serial loop).
Over HTTP, from a local server in another process (Python's ``ThreadingHTTPServer``): the serial
loop with ``requests``, ladle serial (fetches each batch concurrently) and ladle with 2 processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import ladle
from ladle.decoders import ImageDecoder
from ladle.sources.inventory import InventorySource

from .common import Row, consume, interleaved_best, save, table

BATCH = 64
CLASSES = 10

_SERVER = """
import http.server, functools, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
srv = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""


def make_dataset(root: str, n: int) -> str:
    """Write ``n`` random PNGs in class folders under ``root``; return the inventory CSV's path."""
    import pandas as pd
    from PIL import Image

    rng = np.random.default_rng(0)
    labels = rng.integers(0, CLASSES, n)
    paths = []
    for c in range(CLASSES):
        os.makedirs(os.path.join(root, f"class{c}"), exist_ok=True)
    for i in range(n):
        rel = f"class{labels[i]}/{i:06d}.png"
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
            os.path.join(root, rel), compress_level=1)
        paths.append(rel)
    csv = os.path.join(root, "inventory.csv")
    pd.DataFrame({"path": paths, "label": [f"class{c}" for c in labels]}).to_csv(csv, index=False)
    return csv


def serial_loop(csv: str, base: str, http: bool, limit: int | None):
    """The reference: read the CSV, then per batch open each file with Pillow and stack."""
    import pandas as pd
    from PIL import Image

    frame = pd.read_csv(csv)
    paths, labels = frame["path"].tolist(), frame["label"].tolist()
    lut = {c: i for i, c in enumerate(sorted(set(labels)))}
    session = None
    if http:
        import requests

        session = requests.Session()

    def load(i: int) -> np.ndarray:
        if session is not None:
            import io

            data = io.BytesIO(session.get(f"{base}/{paths[i]}", timeout=30).content)
        else:
            data = os.path.join(base, paths[i])
        with Image.open(data) as img:
            return np.asarray(img.convert("RGB"))

    def run() -> int:
        perm = np.random.default_rng(1).permutation(len(paths))
        stop = len(perm) if limit is None else min(len(perm), limit * BATCH)
        n = 0
        for s in range(0, stop, BATCH):
            idx = perm[s:s + BATCH]
            x = np.stack([load(i) for i in idx])
            y = np.array([lut[labels[i]] for i in idx])
            n += len(x) if len(y) == len(x) else 0
        return n
    return run


def ladle_run(source: InventorySource, limit: int | None, **kw):
    loader = ladle.Loader(source, BATCH, shuffle=True, seed=1, epochs=None if limit else 1, **kw)

    def run() -> int:
        return consume(loader, limit) if limit else consume(loader)
    return run, loader



def scenario(name: str, csv: str, base: str, http: bool, limit: int | None, repeat: int,
             build_note: str = "") -> list[Row]:
    kw = dict(url="path", base_url=base + "/") if http else dict(root=base, path="path")
    source = InventorySource(csv, ImageDecoder(mode="RGB", size=(32, 32)), target="label", **kw)
    note = f"first {limit} batches" if limit else "whole epoch"
    serial, _ = ladle_run(source, limit)
    parallel, loader = ladle_run(source, limit, workers=2, backend="process")
    try:
        parallel()  # start the workers outside the timings
        best = interleaved_best({"serial loop": serial_loop(csv, base, http, limit),
                                 "ladle InventorySource": serial,
                                 "ladle workers=2 process": parallel}, repeat)
    finally:
        loader.close()
    notes = {"ladle InventorySource": build_note}
    return [Row(name, k, v, "; ".join(x for x in (note, notes.get(k, "")) if x))
            for k, v in best.items()]


def main(n: int = 20_000, http_batches: int = 60, repeat: int = 5) -> list[str]:
    """Run S3 on ``n`` files (local) and the first ``http_batches`` batches over HTTP."""
    root = tempfile.mkdtemp(prefix="ladle-s3-")
    out = []
    server = None
    try:
        t0 = time.perf_counter()
        csv = make_dataset(root, n)
        made = time.perf_counter() - t0
        t0 = time.perf_counter()
        InventorySource(csv, ImageDecoder(mode="RGB", size=(32, 32)), root=root, path="path",
                        target="label")
        built = time.perf_counter() - t0
        note = (f"source built from the CSV in {built * 1000:.0f} ms; {n:,} files written in "
                f"{made:.0f} s")
        rows = scenario("S3 local", csv, root, False, None, repeat, note)
        save(rows, "S3_local")
        out.append(table(rows, "serial loop"))
        server = subprocess.Popen([sys.executable, "-c", _SERVER, root], stdout=subprocess.PIPE,
                                  text=True)
        port = int(server.stdout.readline())
        rows = scenario("S3 HTTP", csv, f"http://127.0.0.1:{port}", True, http_batches, repeat)
        save(rows, "S3_http")
        out.append(table(rows, "serial loop"))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    return out


if __name__ == "__main__":
    for text in main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000):
        print(text, end="\n\n")
