"""``madvq demo``: the main job on a built-in example, no board needed.

Generates the default 16x16x8 core's Verilog, trains a 16-template codebook on the 4x4
blocks of a synthetic 64x64 8-bit image (k-medians, the natural partner of an L1 distance,
with the golden model doing the assignments), then quantizes every block through the
cycle-accurate simulation of the core, checks each result against the golden model and
writes the original and the reconstructed image as PGM files.
"""

import time
from pathlib import Path

import numpy as np

from madvq.hdl.config import CoreConfig
from madvq.sim import golden
from madvq.sim.run import MismatchError, simulate
from madvq.sim.stimulus import Batch
from .files import check_output_folder
from .verilog import generate


__all__ = ["synthetic_image", "image_blocks", "train_codebook", "run_demo"]

BLOCK = 4


def synthetic_image(size=64):
    """A deterministic 8-bit test image: a smooth gradient, a bright disc, stripes and a
    little noise; the kind of content a 16-input VQ was built to code."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    img = 40 + 120 * x / (size - 1) + 30 * np.sin(y / 5.0)
    disc = (x - 0.65 * size) ** 2 + (y - 0.35 * size) ** 2 < (0.22 * size) ** 2
    img[disc] = 230
    img[(x + y).astype(int) % 16 < 3] -= 60
    img += np.random.default_rng(2026).normal(0, 4, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.int64)


def image_blocks(img):
    """Non-overlapping 4x4 blocks in raster order, each as a row of 16 values."""
    h, w = img.shape
    return (img.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK)
               .transpose(0, 2, 1, 3).reshape(-1, BLOCK * BLOCK))


def blocks_image(blocks, shape):
    h, w = shape
    return (blocks.reshape(h // BLOCK, w // BLOCK, BLOCK, BLOCK)
                  .transpose(0, 2, 1, 3).reshape(h, w))


def train_codebook(config, vectors, iterations=12):
    """k-medians codebook of M templates for ``vectors`` under the core's L1 distance."""
    order = np.argsort(vectors.mean(axis=1), kind="stable")
    # Start from vectors spread evenly over the brightness range: deterministic and sound.
    book = vectors[order[np.linspace(0, len(order) - 1, config.templates).astype(int)]]
    for _ in range(iterations):
        index = golden.classify(config, book, vectors).index
        for j in range(config.templates):
            members = vectors[index == j]
            if len(members):
                book[j] = np.round(np.median(members, axis=0)).astype(np.int64)
    return book


def _write_pgm(path, img):
    path.write_bytes(b"P5\n%d %d\n255\n" % (img.shape[1], img.shape[0])
                     + img.astype(np.uint8).tobytes())


def run_demo(out="build"):
    """Run the demo, print a summary; True when hardware and golden model agree."""
    out = Path(out)
    # Every folder is checked before the minutes of work, not when the images are written.
    check_output_folder(out / "demo", "demo folder")
    cfg = CoreConfig()
    verilog, interface = generate(cfg, path=out / f"{cfg.default_name}.v")
    print(f"core {cfg.default_name}: {cfg.dims} inputs x {cfg.templates} templates x "
          f"{cfg.width} bits, latency {cfg.latency_cycles} cycles, one vector per clock")
    print(f"  Verilog: {verilog}  interface: {interface}")

    img = synthetic_image()
    vectors = image_blocks(img)
    codebook = train_codebook(cfg, vectors)
    batch = Batch.single(cfg, codebook, vectors)
    start = time.perf_counter()
    run = simulate(batch)
    seconds = time.perf_counter() - start
    print(f"quantized {len(vectors)} 4x4 blocks of a {img.shape[0]}x{img.shape[1]} image "
          f"in {run.cycles} simulated cycles ({seconds:.1f} s of Amaranth simulation)")
    try:
        run.check(batch)
    except MismatchError as exc:
        print(f"  MISMATCH: {exc}")
        return False
    print(f"  all {len(vectors)} winners and distances match the golden model")

    recon = blocks_image(codebook[run.results.index], img.shape)
    mse = np.mean((recon - img) ** 2.0)
    psnr = 10 * np.log10(255.0 ** 2 / mse) if mse else float("inf")
    mad = run.results.distance.mean() / cfg.dims
    out_dir = out / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_pgm(out_dir / "original.pgm", img)
    _write_pgm(out_dir / "quantized.pgm", recon)
    np.save(out_dir / "codebook.npy", codebook)
    print(f"  mean absolute difference per pixel {mad:.2f}, PSNR {psnr:.1f} dB "
          f"at {np.log2(cfg.templates) / cfg.dims:.2f} bits per pixel")
    print(f"  images and codebook: {out_dir}/")
    return True
