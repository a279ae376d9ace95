"""``madvq demo``: the main job on a real photograph, no board needed.

Generates the default 16x16x8 core's Verilog, then codes Grace Hopper's portrait
(``grace_hopper.jpg``, 512 x 600 pixels, which ships in matplotlib's sample data: nothing is
downloaded) in grayscale 4x4 blocks with 16 templates, 0.25 bits per pixel: trains the
codebook (k-medians under the core's L1 distance, :mod:`madvq.sim.train`), quantizes every
block through the cycle-accurate simulation of the core (Verilator when it is installed,
else Amaranth), checks each result against the golden model and writes PNGs into
``OUT/demo/``: ``original.png``, ``quantized.png`` (the reconstruction) and ``figure.png``
(original, reconstruction, error map and codebook side by side), plus ``codebook.npy``.

Amaranth's Python simulator does a few hundred vectors per second, so the 19,200 blocks of
the whole picture would take over a minute there: on Amaranth the demo codes the picture
downscaled by 2 (256 x 300, 4,800 blocks) instead, and says so.
"""

import time
from pathlib import Path

import numpy as np

from madvq.hdl.config import CoreConfig
from madvq.sim.run import MismatchError
from .files import check_output_folder, write_atomically
from .quantize import check_engine, figure_png, image_planes, picture_png, quantize
from .verilog import generate


__all__ = ["PHOTO", "BACKENDS", "AMARANTH_DOWNSCALE", "demo_picture", "run_demo"]

PHOTO = "grace_hopper.jpg"
BACKENDS = ("auto", "verilator", "amaranth")
#: Each side of the photograph is divided by this on the Amaranth backend.
AMARANTH_DOWNSCALE = 2
BLOCK = (4, 4)
TEMPLATES = 16


def demo_picture(downscale=1):
    """The demo's photograph as ``(picture, planes)`` (grayscale), each side divided by
    ``downscale`` (box filter)."""
    from matplotlib import cbook
    from PIL import Image
    with Image.open(cbook.get_sample_data(PHOTO, asfileobj=False)) as img:
        img = img.convert("L")
        if downscale != 1:
            img = img.resize((img.width // downscale, img.height // downscale),
                             Image.Resampling.BOX)
        return image_planes(img, "gray")


def run_demo(out="build", backend="auto"):
    """Run the demo, print a summary; True when the simulated core and the golden model
    agree on every block."""
    started = time.perf_counter()
    out = Path(out)
    # Every folder and tool is checked before the work, not when the images are written.
    check_output_folder(out / "demo", "demo folder")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    engine = check_engine(backend)
    cfg = CoreConfig()
    verilog, interface = generate(cfg, path=out / f"{cfg.default_name}.v")
    print(f"core {cfg.default_name}: {cfg.dims} inputs x {cfg.templates} templates x "
          f"{cfg.width} bits, latency {cfg.latency_cycles} cycles, one vector per clock")
    print(f"  Verilog: {verilog}  interface: {interface}")

    downscale = AMARANTH_DOWNSCALE if engine == "amaranth" else 1
    picture, planes = demo_picture(downscale)
    h, w = picture.shape
    print(f"photograph: {PHOTO} from matplotlib's sample data, grayscale, {w}x{h}"
          + (f" (downscaled by {downscale}: Amaranth's Python simulator would take over a "
             f"minute for the whole 512x600 picture; install madvq[verilator] for it)"
             if downscale != 1 else ""), flush=True)
    try:
        result = quantize(picture, planes, block=BLOCK, templates=TEMPLATES, engine=engine,
                          templates_per_cycle=cfg.templates_per_cycle,
                          log=lambda note: print(f"  {note}", flush=True))
    except MismatchError as exc:
        print(f"  MISMATCH: {exc}")
        return False
    assert result.config == cfg
    record = result.records[0]
    print(f"  codebook: {TEMPLATES} templates trained by k-medians in "
          f"{record.seconds:.2f} s, mean L1 distortion {record.final_distortion:.1f} per "
          f"block")
    print(f"  quantized {result.vectors:,} 4x4 blocks through the {engine} simulation of the "
          f"core in {result.seconds:.1f} s ({result.vectors_per_second:,.0f} vectors/s): all "
          f"{result.vectors:,} winners and distances match the golden model")
    print(f"  PSNR {result.psnr:.2f} dB, mean absolute error {result.mean_absolute_error:.2f} "
          f"per pixel at {result.bits_per_pixel:.2f} bits per pixel")

    out_dir = out / "demo"
    figure = figure_png(result, f"{PHOTO}, {w}x{h}, 4x4 blocks, {TEMPLATES} templates, "
                                f"{engine} simulation of {cfg.default_name}")
    picture_png(out_dir / "original.png", picture)
    picture_png(out_dir / "quantized.png", result.reconstruction)
    write_atomically(out_dir / "figure.png", lambda f: f.write(figure))
    write_atomically(out_dir / "codebook.npy", lambda f: np.save(f, result.codebooks[0]))
    print(f"  images (original.png, quantized.png, figure.png) and codebook.npy: {out_dir}/")
    print(f"demo done in {time.perf_counter() - started:.1f} s")
    return True
