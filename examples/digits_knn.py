"""k-nearest-neighbour classification of handwritten digits through a top-K core.

Beside ``digits_classifier.py`` (the class of the single nearest prototype), this names an
image by a vote among its K nearest prototypes, which the core reports in one result when
it is built with ``top_k=K``. Same data (scikit-learn's bundled 8x8 digits, 64 values of
5 bits, split 70 / 30, stratified, seeded) and the same per-class k-medians prototypes
(``madvq.sim.train``), stacked into one codebook, template j standing for class
j // per_class. This script:

1. classifies the test images through the cycle-accurate simulation of a 64-input,
   10 x per_class-template, 5-bit core with ``top_k`` = K (Verilator when installed, else
   Amaranth), checking every result (all K indices and distances) against the golden model;
2. names each image twice from those results: by its nearest prototype (slot 0, what a
   single-winner core reports) and by a vote of the K nearest (most votes; a tie goes to
   the tied class whose prototype came first, that is, nearest);
3. prints both accuracies, and from the golden model the vote's accuracy for other K.

Needs scikit-learn: pip install 'madvq[data]'.

Usage: python examples/digits_knn.py [--per-class C] [--top-k K] [--backend B]
       [--test-images N]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from madvq.hdl.config import CoreConfig
from madvq.sim import golden

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits_classifier import (CLASSES, WIDTH, add_run_arguments, classify_on,  # noqa: E402
                               load, prototypes)


def vote(labels, nearest):
    """Each row's class by a vote of the templates ``nearest`` (rows of K indices, nearest
    first): the class with most votes, a tie to the class that appears first."""
    classes = labels[nearest]                             # (rows, K), nearest first
    counts = np.zeros((len(classes), CLASSES), np.int64)
    np.add.at(counts, (np.arange(len(classes))[:, None], classes), 1)
    best = counts.max(axis=1, keepdims=True)
    # The first slot whose class has the most votes.
    first = np.argmax(np.take_along_axis(counts, classes, axis=1) == best, axis=1)
    return classes[np.arange(len(classes)), first]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=8, metavar="C",
                        help="prototypes per class (default 8)")
    parser.add_argument("--top-k", type=int, default=3, metavar="K",
                        help="nearest prototypes that vote (default 3)")
    add_run_arguments(parser, compare="1,3,5,7,9", compare_help="K to compare on the golden model")
    args = parser.parse_args(argv)

    train_x, train_y, test_x, test_y = load(args.test_images)
    codebook, labels = prototypes(train_x, train_y, args.per_class, args.seed)
    m = len(codebook)
    config = CoreConfig(dims=64, templates=m, width=WIDTH,
                        templates_per_cycle=min(m, args.templates_per_cycle),
                        top_k=args.top_k)
    results, backend, seconds = classify_on(args.backend, config, codebook, test_x)
    nearest = labels[results.index[:, 0]]
    voted = vote(labels, results.index)
    accuracy_nearest = float(np.mean(nearest == test_y))
    accuracy_vote = float(np.mean(voted == test_y))

    print(f"digits (scikit-learn): {len(train_x)} training and {len(test_x)} test images of "
          f"8x8 pixels, {WIDTH}-bit values")
    print(f"{args.per_class} prototype(s) per class by k-medians: a {m}-template codebook; "
          f"the {args.top_k} nearest of each image on {backend} ({config.default_name}) in "
          f"{seconds:.2f} s"
          + ("" if backend == "golden" else ", every result matching the golden model"))
    print(f"nearest prototype: accuracy {accuracy_nearest:.2%} "
          f"({int(np.sum(nearest == test_y))} of {len(test_y)})")
    print(f"vote of the {args.top_k} nearest: accuracy {accuracy_vote:.2%} "
          f"({int(np.sum(voted == test_y))} of {len(test_y)})")
    compared = {}
    for k in [int(v) for v in args.compare.split(",") if v]:
        if not 1 <= k <= min(m, 16):
            continue
        cfg = CoreConfig(dims=64, templates=m, width=WIDTH, top_k=k,
                         templates_per_cycle=config.templates_per_cycle)
        found = golden.classify(cfg, codebook, test_x).index.reshape(len(test_x), k)
        compared[k] = float(np.mean(vote(labels, found) == test_y))
    if compared:
        print("golden model, K -> vote accuracy: "
              + ", ".join(f"{k}: {a:.2%}" for k, a in compared.items()))
    return {"accuracy_nearest": accuracy_nearest, "accuracy_vote": accuracy_vote,
            "backend": backend, "templates": m, "compared": compared}


if __name__ == "__main__":
    main()
    sys.exit(0)
