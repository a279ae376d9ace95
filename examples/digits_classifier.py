"""Nearest-prototype classification of handwritten digits through the core.

scikit-learn ships the UCI digits (``sklearn.datasets.load_digits``: 1,797 images of 8x8
pixels, values 0..16, ten classes); nothing is downloaded. Each image is a vector of 64
values of 5 bits (0..16 needs W = 5, unsigned). This script:

1. splits the images into a training and a test set (70 / 30, stratified, seeded);
2. trains K prototypes per class on that class's training images (``madvq.sim.train``,
   k-medians under the core's L1 distance: the templates are what the core will compare
   with), and stacks them into one codebook of 10 K templates, template j standing for
   class j // K;
3. classifies the test images through the cycle-accurate simulation of a 64-input,
   10K-template, 5-bit core (Verilator when installed, else Amaranth; 16 distance units, so
   one image every ceil(10K / 16) cycles), checks every result against the golden model,
   and names each image by the class of its winning template (ties to the lowest template,
   as the hardware);
4. prints the accuracy and the confusion matrix (rows: true class, columns: predicted),
   and, from the golden model, the accuracy for other numbers of prototypes per class.

Needs scikit-learn: pip install 'madvq[data]'.

Usage: python examples/digits_classifier.py [--per-class K] [--backend B] [--test-images N]
"""

import argparse
import sys
import time

import numpy as np

from madvq.hdl.config import CoreConfig
from madvq.sim import golden
from madvq.sim.run import BACKEND_CHOICES, get_backend, resolve_backend, simulate
from madvq.sim.stimulus import Batch
from madvq.sim.train import train_codebook, training_config

WIDTH = 5          # pixel values 0..16
CLASSES = 10


def load(test_images=None):
    """``(train_x, train_y, test_x, test_y)``: integer images (N x 64) and labels; the first
    ``test_images`` test images only, when given."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    train_x, test_x, train_y, test_y = train_test_split(
        digits.data.astype(np.int64), digits.target, test_size=0.3, random_state=0,
        stratify=digits.target)
    if test_images is not None:
        test_x, test_y = test_x[:test_images], test_y[:test_images]
    return train_x, train_y, test_x, test_y


def add_run_arguments(parser, *, compare, compare_help):
    """The flags the digits examples share: backend, P, test images, the comparison on the
    golden model, the seed."""
    parser.add_argument("--backend", choices=("golden", *BACKEND_CHOICES), default="auto")
    parser.add_argument("--templates-per-cycle", type=int, default=16, metavar="P")
    parser.add_argument("--test-images", type=int, default=None, metavar="N",
                        help="classify only the first N test images")
    parser.add_argument("--compare", default=compare, help=f"{compare_help} ('' for none)")
    parser.add_argument("--seed", type=int, default=0)


def classify_on(backend, config, codebook, images):
    """``(results, backend, seconds)``: ``images`` classified on ``backend`` ("golden", or a
    simulator: every result checked against the golden model, ``MismatchError`` on any
    difference), the backend's name, and the time it took (a simulator's model is compiled,
    or taken from its cache, before the clock starts)."""
    backend = "golden" if backend == "golden" else resolve_backend(backend)
    if backend == "verilator":
        get_backend(backend, config).build()
    start = time.perf_counter()
    if backend == "golden":
        results = golden.classify(config, codebook, images)
    else:
        batch = Batch.single(config, codebook, images)
        run = simulate(batch, backend=backend)
        run.check(batch)
        results = run.results
    return results, backend, time.perf_counter() - start


def prototypes(train_x, train_y, per_class, seed=0):
    """A codebook of ``per_class`` prototypes per class, class after class, and each
    template's class."""
    books = []
    for c in range(CLASSES):
        mine = train_x[train_y == c]
        book, _ = train_codebook(mine, training_config(mine, per_class, WIDTH), seed=seed)
        books.append(book)
    return np.concatenate(books), np.repeat(np.arange(CLASSES), per_class)


def confusion(true, predicted):
    matrix = np.zeros((CLASSES, CLASSES), np.int64)
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=4, metavar="K")
    add_run_arguments(parser, compare="1,2,4,8,16",
                      compare_help="prototypes per class to compare on the golden model")
    args = parser.parse_args(argv)

    train_x, train_y, test_x, test_y = load(args.test_images)
    codebook, labels = prototypes(train_x, train_y, args.per_class, args.seed)
    m = len(codebook)
    config = CoreConfig(dims=64, templates=m, width=WIDTH,
                        templates_per_cycle=min(m, args.templates_per_cycle))
    results, backend, seconds = classify_on(args.backend, config, codebook, test_x)
    predicted = labels[results.index]
    accuracy = float(np.mean(predicted == test_y))
    matrix = confusion(test_y, predicted)

    print(f"digits (scikit-learn): {len(train_x)} training and {len(test_x)} test images of "
          f"8x8 pixels, {WIDTH}-bit values")
    print(f"{args.per_class} prototype(s) per class by k-medians: a {m}-template codebook; "
          f"classified on {backend} ({config.default_name}) in {seconds:.2f} s"
          + ("" if backend == "golden" else ", every result matching the golden model"))
    print(f"accuracy {accuracy:.2%} ({int(np.sum(predicted == test_y))} of {len(test_y)})")
    print("confusion matrix (rows: true digit, columns: predicted):")
    print("      " + " ".join(f"{c:4d}" for c in range(CLASSES)))
    for c in range(CLASSES):
        print(f"  {c:2d}  " + " ".join(f"{v:4d}" for v in matrix[c]))
    compared = {}
    for k in [int(v) for v in args.compare.split(",") if v]:
        book, lab = prototypes(train_x, train_y, k, args.seed)
        cfg = training_config(book, len(book), WIDTH)
        hit = lab[golden.classify(cfg, book, test_x).index] == test_y
        compared[k] = float(hit.mean())
    if compared:
        print("golden model, prototypes per class -> accuracy: "
              + ", ".join(f"{k}: {a:.2%}" for k, a in compared.items()))
    return {"accuracy": accuracy, "confusion": matrix, "backend": backend,
            "templates": m, "compared": compared}


if __name__ == "__main__":
    main()
    sys.exit(0)
