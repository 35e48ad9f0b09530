"""S6: batch augmentation: random crop (padding 4) + horizontal flip + normalize on S1 batches.

Batches of 256×3×32×32 float32 (channels first, as S1), the CIFAR-10 training recipe. Peers:
the same three steps per sample in a Python loop (NumPy, the reference), ladle's ``Map`` running
that per-sample function, ladle's vectorised ``Compose`` (transform only, and end to end in a
``Loader`` with 0 and 2 thread workers). torchvision v2 is skipped: this package index has no CPU
build, and it would pull plain ``torch`` with its CUDA packages.
"""

from __future__ import annotations


import numpy as np

import ladle
from ladle.transforms import Compose, Map, Normalize, RandomCrop, RandomFlip

from .common import Row, consume, interleaved_best, save, table

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)
PAD = 4
REFERENCE = "per-sample Python loop (NumPy)"


def vectorised() -> Compose:
    """The pipeline as ladle batch transforms."""
    return Compose([RandomCrop(32, padding=PAD, layout="NCHW"),
                    RandomFlip("horizontal", p=0.5, layout="NCHW"),
                    Normalize(MEAN, STD, layout="NCHW")])


def one_sample(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same pipeline for one (3, 32, 32) image, as a per-sample library would run it."""
    padded = np.pad(img, ((0, 0), (PAD, PAD), (PAD, PAD)))
    top, left = rng.integers(0, 2 * PAD + 1, size=2)
    out = padded[:, top:top + 32, left:left + 32]
    if rng.random() < 0.5:
        out = out[:, :, ::-1]
    return (out - MEAN[:, None, None]) / STD[:, None, None]


def loop_transform(batch: ladle.Batch) -> ladle.Batch:
    """The reference: a Python loop over the samples, writing into a preallocated output."""
    x = batch["x"]
    out = np.empty_like(x)
    rng = batch.random
    for i in range(len(x)):
        out[i] = one_sample(x[i], rng)
    batch["x"] = out
    return batch


def batches(x: np.ndarray, bs: int) -> list[ladle.Batch]:
    order = np.random.default_rng(1).permutation(len(x))
    return [ladle.Batch({"x": x[order[s:s + bs]]}, seed=1, number=k)
            for k, s in enumerate(range(0, len(x) - bs + 1, bs))]


def over(prepared: list[ladle.Batch], fn):
    def run():
        n = 0
        for b in prepared:
            fresh = ladle.Batch(b, seed=b.seed, number=b.number)  # same arrays, a new generator
            n += len(fn(fresh)["x"])
        return n
    return run



def main() -> list[str]:
    name, n, bs, repeat = "S6", 256 * 40, 256, 5
    x = np.random.default_rng(0).random((n, 3, 32, 32), dtype=np.float32)
    prepared = batches(x, bs)
    t = vectorised()
    loaders = {w: ladle.Loader({"x": x}, batch_size=bs, shuffle=True, seed=1, transform=t,
                               workers=w) for w in (0, 2)}
    runs = {
        REFERENCE: over(prepared, loop_transform),
        "ladle Map(per-sample fn)": over(prepared, Map(one_sample, requires_rng=True)),
        "ladle vectorised Compose": over(prepared, t),
        "ladle Loader + Compose, workers=0": lambda: consume(loaders[0]),
        "ladle Loader + Compose, workers=2 threads": lambda: consume(loaders[2]),
    }
    rates = interleaved_best(runs, repeat)
    for loader in loaders.values():
        loader.close()
    notes = {REFERENCE: "crop + flip + normalize, one image at a time",
             "ladle vectorised Compose": "transform only",
             "ladle Loader + Compose, workers=0": "read + transform",
             "ladle Loader + Compose, workers=2 threads": "read + transform"}
    rows = [Row(name, k, v, notes.get(k, "")) for k, v in rates.items()]
    rows.append(Row(name, "torchvision v2 per sample", float("nan"),
                    "skipped: no CPU-only build on this index (it pulls CUDA torch)"))
    save(rows, name)
    return [table(rows, REFERENCE)]


if __name__ == "__main__":
    for text in main():
        print(text)
