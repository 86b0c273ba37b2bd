"""The Keras step's memory, stage by stage, on a random ``ROWS x 100`` matrix (default 1M rows).

Usage: keras_memory.py [ROWS] [--workdir DIR]. Builds and saves the four models and runs the
parity check as ``build_keras_model`` does, and prints after each stage the process's RSS (and
its anonymous and file-backed parts) and the peak since the stage before, from
``/proc/self/status`` (the peak is reset through ``/proc/self/clear_refs``; Linux only).
TensorFlow and gensim are imported before the first line, so their footprint is the baseline.
Then TensorFlow alone: a numpy matrix of the model's size converted to a tensor (what a
variable's ``assign`` does with the weights Keras's load reads), and the numpy matrix dropped.
The last line is JSON: ``{"rows", "step_peak_mib", "left_mib", "tensor_copies"}`` (the highest
peak of any stage, the RSS after the step and ``malloc_trim``, and how many copies of the matrix
the converted tensor holds).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def status() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon and RssFile of this process in MiB."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            found[key] = int(value.split()[0]) // 1024
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    import numpy as np

    import include.artifacts.keras_models as keras_models
    from include.artifacts.embeddings import Embeddings
    from include.quality import parity

    keras = keras_models._keras()
    import gensim.models  # noqa: F401  (the parity check's, imported before the baseline)

    peaks = []

    def mark(label: str) -> None:
        found = status()
        peaks.append(found["VmHWM"])
        print(
            f"{label:36} now {found['VmRSS']:6} MiB (anon {found['RssAnon']:6}, file {found['RssFile']:6}), "
            f"peak since the last line {found['VmHWM']:6} MiB",
            flush=True,
        )
        Path("/proc/self/clear_refs").write_text("5")

    def wrapped(function, label):
        def call(*a, **k):
            result = function(*a, **k)
            mark(label(*a) if callable(label) else label)
            return result

        return call

    keras.Model.save = wrapped(keras.Model.save, lambda model, *_: f"saved {model.name}")
    keras_models._frozen_embedding = wrapped(keras_models._frozen_embedding, "embedding filled")
    # the parity check's loader: the archive unpacked first (older code: the archive itself)
    loader = "load_model_unpacked" if hasattr(parity, "load_model_unpacked") else "load_model"
    setattr(parity, loader, wrapped(getattr(parity, loader), lambda path: f"loaded {Path(path).name}"))
    parity.release_keras_memory = wrapped(parity.release_keras_memory, "released")

    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        base = Path(scratch)
        matrix = np.random.default_rng(0).standard_normal((args.rows, 100), dtype=np.float32)
        np.save(base / "embeddings.npy", matrix)
        del matrix
        words = [f"w{i}" for i in range(args.rows)]
        vectors = np.load(base / "embeddings.npy", mmap_mode="r")
        embeddings = Embeddings(vectors, dict(zip(words, range(args.rows))), words)
        mark("before the step")
        step = getattr(keras_models, "keras_step", contextlib.nullcontext)  # older code: no keras_step
        with step():
            keras_models.write_keras_models(embeddings.vectors, embeddings.index_to_word, base / "keras")
            mark("models written")
            parity.check_parity(embeddings, base / "keras")
            mark("parity checked")
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        mark("step exited, malloc_trim")
        left = status()["VmRSS"]
        step_peak = max(peaks)
    copies = conversion_copies(args.rows, mark)
    print(json.dumps({"rows": args.rows, "step_peak_mib": step_peak, "left_mib": left, "tensor_copies": copies}))


def conversion_copies(rows: int, mark) -> float:
    """What Keras's load does with the weights it reads (``variable.assign`` of a numpy array turns
    it into a tensor first), alone: a numpy matrix of the model's size converted to a TensorFlow
    tensor, then the numpy matrix dropped. Returns the copies of the matrix the tensor holds."""
    import numpy as np
    import tensorflow as tf

    before = status()["VmRSS"]
    matrix = np.random.default_rng(1).standard_normal((rows + 2, 100), dtype=np.float32)
    mark("TensorFlow alone: a numpy matrix")
    tensor = tf.convert_to_tensor(matrix)
    mark("converted to a tensor")
    size = matrix.nbytes / 2**20
    del matrix
    mark("the numpy matrix dropped")
    held = status()["VmRSS"] - before
    del tensor
    return round(held / size, 2)


if __name__ == "__main__":
    main()
