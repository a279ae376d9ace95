"""Codebook training: madvq's k-medians and LBG beside scikit-learn's KMeans, in one run.

Both sides get the same real data, from the photograph that ships with matplotlib
(``grace_hopper.jpg``, grayscale, 512 x 600), and every codebook is judged the same way: its
templates rounded and clipped to 8 bits (KMeans' centres are floats), each vector assigned
by the core (the golden model: L1 distance, ties to the lowest index), and the mean L1
distance of that assignment reported (the core's ``distance``, summed over the N values).

Prints:

* speed, 256 templates: the 303,873 4x4 blocks at every pixel offset (16 dims) and 150,000
  8x8 blocks at random offsets (64 dims): training time and distortion of madvq's k-medians
  (20 iterations at most) and of ``KMeans(n_init=1)`` (its defaults otherwise: k-means++,
  Lloyd, up to 300 iterations), with the ratios;
* the README's figures: the 19,200 non-overlapping 4x4 blocks, 16 and 256 templates, for
  k-medians, LBG and KMeans: time, mean L1 distortion, PSNR and mean absolute error of the
  reconstructed picture, as a Markdown table.

Usage: python benchmarks/bench_train.py [--quick] [--seed S]   (needs scikit-learn:
pip install 'madvq[data]')
"""

import argparse
import os
import platform
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from madvq.gen.demo import demo_picture
from madvq.gen.quantize import blocks_image, image_blocks, psnr
from madvq.sim import golden
from madvq.sim.train import train_codebook, training_config


def kmeans_codebook(vectors, templates, seed):
    """KMeans' centres, rounded and clipped to 8 bits, and the seconds it took."""
    from sklearn.cluster import KMeans
    start = time.perf_counter()
    model = KMeans(n_clusters=templates, n_init=1, random_state=seed).fit(
        vectors.astype(np.float32))
    seconds = time.perf_counter() - start
    return np.clip(np.round(model.cluster_centers_), 0, 255).astype(np.int64), seconds, \
        model.n_iter_


def core_assignment(codebook, vectors):
    """The core's winners and distances for ``vectors``."""
    cfg = training_config(vectors, len(codebook))
    return golden.classify(cfg, codebook, vectors)


def speed(vectors, label, templates, seed):
    print(f"\n{label}: {len(vectors):,} vectors of {vectors.shape[1]} dims, "
          f"{templates} templates", flush=True)
    book, record = train_codebook(vectors, {"templates": templates}, seed=seed)
    ours = core_assignment(book, vectors).distance.mean()
    print(f"  madvq k-medians: {record.seconds:7.2f} s, {len(record.distortion) - 1} "
          f"iterations, mean L1 distortion {ours:.2f}", flush=True)
    theirs_book, seconds, iterations = kmeans_codebook(vectors, templates, seed)
    theirs = core_assignment(theirs_book, vectors).distance.mean()
    print(f"  sklearn KMeans:  {seconds:7.2f} s, {iterations} iterations, mean L1 "
          f"distortion {theirs:.2f} (centres rounded to 8 bits, assigned by the core)")
    print(f"  time KMeans / madvq {seconds / record.seconds:.2f}; distortion KMeans / madvq "
          f"{theirs / ours:.3f}")


def readme_table(picture, seed, templates_list):
    vectors = image_blocks(picture, (4, 4))
    print(f"\ngrace_hopper.jpg, grayscale {picture.shape[1]}x{picture.shape[0]}, "
          f"{len(vectors):,} 4x4 blocks (seed {seed}):\n")
    print("| templates | bits/pixel | codebook | training time | mean L1 distortion per "
          "block | PSNR | mean absolute error per pixel |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for m in templates_list:
        rows = []
        for method in ("kmedians", "lbg"):
            book, record = train_codebook(vectors, {"templates": m}, method=method,
                                          seed=seed)
            rows.append((f"madvq {method}", book, record.seconds))
        book, seconds, _ = kmeans_codebook(vectors, m, seed)
        rows.append(("scikit-learn KMeans", book, seconds))
        for name, book, seconds in rows:
            result = core_assignment(book, vectors)
            recon = blocks_image(book[result.index], (4, 4), picture.shape)
            mae = np.abs(recon - picture.astype(np.int64)).mean()
            print(f"| {m} | {np.log2(m) / 16:.2f} | {name} | {seconds:.2f} s | "
                  f"{result.distance.mean():.1f} | {psnr(picture, recon):.2f} dB | "
                  f"{mae:.2f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller data sets (a tenth), for a smoke run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import sklearn
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; Python "
          f"{platform.python_version()}, numpy {np.__version__}, scikit-learn "
          f"{sklearn.__version__}")
    picture, _ = demo_picture()
    rng = np.random.default_rng(args.seed)
    fraction = 10 if args.quick else 1
    every = sliding_window_view(picture.astype(np.int64), (4, 4)).reshape(-1, 16)
    every = every[::fraction].copy()
    speed(every, "4x4 blocks at every offset", 256, args.seed)
    eights = sliding_window_view(picture.astype(np.int64), (8, 8)).reshape(-1, 64)
    eights = eights[np.sort(rng.choice(len(eights), 150_000 // fraction, replace=False))]
    speed(eights, "8x8 blocks at random offsets", 256, args.seed)
    readme_table(picture, args.seed, (16, 256))
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
