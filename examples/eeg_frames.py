"""Signal coding: frames of an EEG recording coded by a 16 x 16 codebook.

matplotlib ships ``eeg.dat`` in its sample data: 800 samples of 4 channels (10 s at 80 Hz),
float64, read as matplotlib's own example does
(``np.fromfile(f, dtype=float).reshape((800, 4))``; values within about +-5.3). This script:

1. quantizes the four signals to signed 8-bit samples with one common scale (the largest
   magnitude becomes 127);
2. cuts each channel into frames of 16 consecutive samples (200 frames), the vectors;
3. trains a codebook of 16 templates on them (``madvq.sim.train``, k-medians);
4. codes every frame through the cycle-accurate simulation of the 16-input, 16-template,
   8-bit signed core (the 1994 chip's size; Verilator when installed, else Amaranth), checks
   every result against the golden model, and decodes each frame as its template;
5. prints the signal-to-noise ratio of the decoded signal against the 8-bit signal and
   against the original, the RMS error, and the bits: 4 bits per 16-sample frame,
   0.25 bits per sample against 8 (32:1);
6. draws the first channel, original and decoded, into ``build/examples/eeg.png``.

With ``--mean-removed`` each frame's mean (rounded) is sent as one more 8-bit value and the
codebook codes what is left (9-bit signed values, 12 bits per frame): the templates then
spend themselves on the frames' shapes, not on their levels.

Usage: python examples/eeg_frames.py [--templates M] [--mean-removed] [--backend B]
       [--frames K] [--out FILE.png]
"""

import argparse
import math
import sys
import time

import numpy as np

from madvq.hdl.config import CoreConfig, ceil_log2
from madvq.sim import golden
from madvq.sim.run import BACKEND_CHOICES, get_backend, resolve_backend, simulate
from madvq.sim.stimulus import Batch
from madvq.sim.train import train_codebook

SAMPLES, CHANNELS, RATE_HZ = 800, 4, 80
FRAME = 16


def load_eeg():
    """The recording as an (800, 4) float64 array: sample x channel."""
    from matplotlib import cbook
    with cbook.get_sample_data("eeg.dat") as f:
        return np.fromfile(f, dtype=float).reshape((SAMPLES, CHANNELS))


def snr_db(reference, decoded):
    """Signal-to-noise ratio in dB: power of ``reference`` over power of the error."""
    noise = np.sum((np.asarray(reference, float) - decoded) ** 2)
    return math.inf if noise == 0 else 10 * math.log10(np.sum(np.square(reference, dtype=float))
                                                        / noise)


def code_frames(frames, config, codebook, backend):
    """Winners of ``frames`` through ``backend`` ("golden" or a simulator), checked against
    the golden model; and the seconds it took (a Verilator compile excluded)."""
    if backend == "verilator":
        get_backend(backend, config).build()      # compiled (or cached) before the clock
    start = time.perf_counter()
    if backend == "golden":
        results = golden.classify(config, golden.full_codebook(config, codebook), frames,
                                  len(codebook))
    else:
        batch = Batch.single(config, codebook, frames)
        run = simulate(batch, backend=backend)
        run.check(batch)              # MismatchError on any difference
        results = run.results
    return results, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--templates", type=int, default=16)
    parser.add_argument("--mean-removed", action="store_true")
    parser.add_argument("--backend", choices=("golden", *BACKEND_CHOICES), default="auto")
    parser.add_argument("--frames", type=int, default=None,
                        help="code only the first K frames (all are trained on)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="build/examples/eeg.png",
                        help="figure (PNG); '' for none")
    args = parser.parse_args(argv)

    signal = load_eeg()
    scale = 127 / np.abs(signal).max()
    samples = np.round(signal * scale).astype(np.int64)          # signed 8-bit
    # Frames of one channel each, channel after channel.
    frames = samples.T.reshape(CHANNELS * SAMPLES // FRAME, FRAME)
    means = np.zeros((len(frames), 1), np.int64)
    width = 8
    if args.mean_removed:
        means = np.round(frames.mean(axis=1, keepdims=True)).astype(np.int64)
        frames = frames - means
        width = 9                                 # residuals of 8-bit samples: -254..254
    config = CoreConfig(dims=FRAME, templates=args.templates, width=width, signed=True)
    codebook, record = train_codebook(frames, config, seed=args.seed)

    coded = frames if args.frames is None else frames[:args.frames]
    backend = "golden" if args.backend == "golden" else resolve_backend(args.backend)
    results, seconds = code_frames(coded, config, codebook, backend)
    decoded = codebook[results.index] + means[:len(coded)]
    reference = samples.T.reshape(-1, FRAME)[:len(coded)]
    original = signal.T.reshape(-1, FRAME)[:len(coded)]
    bits = ceil_log2(args.templates) + (8 if args.mean_removed else 0)
    figures = {
        "frames": len(coded), "backend": backend, "seconds": seconds,
        "snr_8bit_db": snr_db(reference, decoded),
        "snr_original_db": snr_db(original, decoded / scale),
        "rms_error": float(np.sqrt(np.mean((original - decoded / scale) ** 2))),
        "rms_signal": float(np.sqrt(np.mean(original ** 2))),
        "bits_per_frame": bits, "bits_per_sample": bits / FRAME,
        "distortion": record.final_distortion,
    }
    print(f"eeg.dat (matplotlib sample data): {CHANNELS} channels x {SAMPLES} samples at "
          f"{RATE_HZ} Hz, quantized to signed 8 bits (scale {scale:.2f} per unit), "
          f"{len(frames)} frames of {FRAME} samples")
    print(f"codebook: {args.templates} templates of {FRAME} {width}-bit signed values "
          f"(k-medians, {record.seconds:.2f} s, mean L1 distortion "
          f"{record.final_distortion:.1f} per frame)"
          + (", frames' means sent apart" if args.mean_removed else ""))
    print(f"coded {len(coded)} frames on {backend} ({config.default_name}) in {seconds:.2f} s"
          + ("" if backend == "golden" else ": every result matches the golden model"))
    print(f"SNR {figures['snr_8bit_db']:.2f} dB against the 8-bit signal, "
          f"{figures['snr_original_db']:.2f} dB against the original; RMS error "
          f"{figures['rms_error']:.3f} (signal RMS {figures['rms_signal']:.3f})")
    print(f"{bits} bits per frame = {bits / FRAME:.3g} bits per sample "
          f"(8-bit samples: {8 * FRAME / bits:.0f}:1)")
    if args.out:
        write_figure(args.out, original, decoded / scale, figures)
        print(f"wrote {args.out}")
    return figures


def write_figure(path, original, decoded, figures):
    """The first channel's signal, original and decoded, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from madvq.gen.files import write_atomically
    per_channel = SAMPLES // FRAME
    first = original[:per_channel].ravel()
    coded = decoded[:per_channel].ravel()
    t = np.arange(len(first)) / RATE_HZ
    fig = Figure(figsize=(10, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot(t, first, lw=1, label="original")
    ax.step(t, coded, where="mid", lw=1, label=f"coded, {figures['bits_per_sample']:.3g} bits "
                                                f"per sample")
    ax.set_xlabel("time (s)")
    ax.set_title(f"eeg.dat, channel 1: SNR {figures['snr_original_db']:.1f} dB")
    ax.legend(loc="upper right")
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_atomically(path, lambda f: f.write(buf.getvalue()))


if __name__ == "__main__":
    main()
    sys.exit(0)
