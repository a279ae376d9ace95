"""``madvq quantize``: an image coded block by block by the core, and back.

The image (PNG, JPEG or anything else Pillow reads, 8 bits per channel) is cut into blocks
of H x W pixels in raster order; a block is a vector of N = H*W values, row by row. An edge
that does not fill a block is padded by repeating its last row or column (edge replication:
no false edge for the codebook to spend templates on) and cropped off again after decoding.

Colour (``color``):

* ``"gray"`` (default): the luma of any image (Pillow's ITU-R 601-2 conversion,
  L = 0.299 R + 0.587 G + 0.114 B), one codebook.
* ``"ycbcr"``: the three planes of JPEG's full-range YCbCr, each with a codebook of its own
  (the same codebook file, when one is given), converted back to RGB. Luma/chroma rather than
  R, G and B: the RGB planes are strongly correlated, so three RGB codebooks would spend their
  templates on nearly the same picture three times, whereas the chroma planes are smooth and
  cost little error at the same rate.

Every block goes through the chosen engine: the golden model, the cycle-accurate simulation
of the exported core (``verilator``, ``amaranth``, ``icarus``, or ``auto``: Verilator when
installed, else Amaranth), or a board through the host driver (``port``: a serial device, or
``"sim"`` for the simulated board). Every result is checked against the golden model; a
difference raises :class:`~madvq.sim.run.MismatchError`.

Figures: PSNR = 10 log10(255^2 / MSE) and the mean absolute error per pixel, over the
picture as written against the picture coded (gray: the luma of the input; ycbcr: the RGB
channels against the input's RGB, so that the colour conversions' rounding counts too);
bits per pixel = ceil(log2 m) / N per plane for m templates (the winner index is all that
is sent); vectors per second of the engine (simulation: wall-clock time of the run, the
Verilator compile excluded; a board: the link's own time).
"""

import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from madvq.hdl.config import MAX_DIMS, CoreConfig, ceil_log2
from madvq.sim import golden
from madvq.sim.run import MismatchError, simulate
from madvq.sim.stimulus import Batch
from madvq.sim.train import train_codebook
from .files import check_input_file, check_output_file, write_atomically


__all__ = ["COLORS", "ENGINES", "PORT_BACKENDS", "parse_block", "load_image",
           "image_blocks", "blocks_image", "psnr", "core_config", "check_engine",
           "output_paths", "quantize", "write_outputs", "Quantized", "figure_png",
           "default_templates_per_cycle"]


COLORS = ("gray", "ycbcr")
ENGINES = ("auto", "golden", "verilator", "amaranth", "icarus")
# The simulated board runs on the two-state simulators only.
PORT_BACKENDS = ("auto", "verilator", "amaranth")
PLANE_NAMES = {"gray": ("luma",), "ycbcr": ("Y", "Cb", "Cr")}
PEAK = 255
# Pillow modes with 8 bits per channel; 16-bit and float images would be cut to 8 bits.
_EIGHT_BIT_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB",
                    "HSV", "La", "RGBa"}


def parse_block(text):
    """``(H, W)`` of a block given as ``"HxW"`` (or ``"S"`` for S x S); ``ValueError``
    unless both are positive integers and H*W is at most the core's 1,024 dimensions."""
    parts = str(text).lower().split("x")
    if len(parts) == 1:
        parts = parts * 2
    try:
        h, w = (int(p) for p in parts)
        if len(parts) != 2 or h < 1 or w < 1:
            raise ValueError
    except ValueError:
        raise ValueError(f"--block must be HxW with positive integers H and W (e.g. 4x4), "
                         f"not {text!r}") from None
    if h * w > MAX_DIMS:
        raise ValueError(f"a {h}x{w} block has {h * w} pixels; a core takes at most "
                         f"{MAX_DIMS} values per vector (e.g. 32x32)")
    return h, w


def load_image(path, color="gray"):
    """The picture to code and its planes: ``(picture, planes)``, ``picture`` an (H, W)
    uint8 array for ``gray`` or (H, W, 3) RGB for ``ycbcr``, ``planes`` the (H, W) uint8
    planes that are coded. ``ValueError`` for a file that is not an 8-bit image."""
    from PIL import Image, UnidentifiedImageError
    if color not in COLORS:
        raise ValueError(f"color must be one of {', '.join(COLORS)}, not {color!r}")
    path = check_input_file(path, "image file")
    try:
        with Image.open(path) as img:
            if img.mode not in _EIGHT_BIT_MODES:
                raise ValueError(f"image file '{path}' has {img.mode} pixels; madvq codes "
                                 f"8-bit images (gray or colour)")
            img.load()
            return image_planes(img, color)
    except UnidentifiedImageError:
        raise ValueError(f"image file '{path}' is not an image Pillow can read (PNG, "
                         f"JPEG, ...)") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        # Pillow reports a damaged file in several ways.
        raise ValueError(f"image file '{path}' cannot be read: "
                         f"{' '.join(str(exc).split())}") from None


def image_planes(img, color="gray"):
    """``(picture, planes)`` of a Pillow image, as :func:`load_image` gives them."""
    if color == "gray":
        gray = np.asarray(img.convert("L"), dtype=np.uint8)
        return gray, [gray]
    rgb = img.convert("RGB")
    ycbcr = np.asarray(rgb.convert("YCbCr"), dtype=np.uint8)
    return np.asarray(rgb, dtype=np.uint8), [ycbcr[..., c] for c in range(3)]


def _planes_picture(planes, color):
    """The picture that decoded ``planes`` make (the inverse of :func:`image_planes`)."""
    if color == "gray":
        return planes[0]
    from PIL import Image
    ycbcr = Image.fromarray(np.stack(planes, axis=-1), mode="YCbCr")
    return np.asarray(ycbcr.convert("RGB"), dtype=np.uint8)


def image_blocks(plane, block):
    """The blocks of ``plane`` in raster order, each as a row of H*W values (int64); the
    plane is first padded to whole blocks by repeating its last row and column."""
    bh, bw = block
    h, w = plane.shape
    padded = np.pad(plane, ((0, -h % bh), (0, -w % bw)), mode="edge")
    ph, pw = padded.shape
    return (padded.reshape(ph // bh, bh, pw // bw, bw).transpose(0, 2, 1, 3)
                  .reshape(-1, bh * bw).astype(np.int64))


def blocks_image(vectors, block, shape):
    """The (H, W) plane that ``vectors`` (blocks in raster order) make, cropped to
    ``shape``."""
    bh, bw = block
    h, w = shape
    rows, cols = -(-h // bh), -(-w // bw)
    plane = (np.asarray(vectors).reshape(rows, cols, bh, bw).transpose(0, 2, 1, 3)
             .reshape(rows * bh, cols * bw))
    return plane[:h, :w]


def psnr(reference, test, peak=PEAK):
    """Peak signal-to-noise ratio in dB of ``test`` against ``reference`` (inf when equal)."""
    mse = np.mean((np.asarray(reference, np.float64) - np.asarray(test, np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(peak ** 2 / mse)


def default_templates_per_cycle(templates):
    """The distance units the simulated core gets unless told: 16, the analog original's
    array, or M when fewer. A 256-template core then simulates at 16 cycles per vector
    instead of elaborating (and compiling) 4,096 distance cells."""
    return min(templates, 16)


def core_config(block, templates, templates_per_cycle=None):
    """The core that codes ``block``-sized 8-bit blocks with ``templates`` templates."""
    bh, bw = block
    if templates_per_cycle is None and isinstance(templates, int) \
            and not isinstance(templates, bool) and templates >= 1:
        templates_per_cycle = default_templates_per_cycle(templates)
    return CoreConfig(dims=bh * bw, templates=templates, width=8,
                      templates_per_cycle=templates_per_cycle)


def check_engine(engine, port=None):
    """The engine that ``engine`` names (``auto`` resolved), checked against ``port`` and
    with its tools installed (``OSError`` naming a missing one, ``ValueError`` for a bad
    combination)."""
    from madvq.sim.run import resolve_backend
    if port is not None:
        if engine not in PORT_BACKENDS:
            raise ValueError(f"--port talks to a board: --backend picks the simulated "
                             f"board's simulator ({', '.join(PORT_BACKENDS)}), not {engine}")
        return resolve_backend(engine) if port == "sim" else "board"
    if engine not in ENGINES:
        raise ValueError(f"backend must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "golden":
        return engine
    engine = resolve_backend(engine)
    if engine == "verilator":
        from madvq.sim.verilated import find_tools
        find_tools()
    elif engine == "icarus":
        from madvq.sim.icarus_backend import find_icarus
        find_icarus()
    return engine


def output_paths(output, color="gray"):
    """The files ``quantize`` writes for ``output`` (the reconstruction, ``.png``): the
    side-by-side figure, the codebook(s) and the figures as JSON beside it, each checked
    writable. A ``dict`` of name -> ``Path``."""
    out = check_output_file(output, "output image", (".png",))
    stem = out.with_suffix("")
    paths = {"image": out,
             "figure": check_output_file(f"{stem}_figure.png", "figure file"),
             "json": check_output_file(f"{stem}.json", "figures file")}
    for name in PLANE_NAMES[color]:
        suffix = "" if color == "gray" else f"_{name.lower()}"
        paths[f"codebook{suffix}"] = check_output_file(f"{stem}_codebook{suffix}.npy",
                                                       "codebook file")
    return paths


@dataclass
class Quantized:
    """What :func:`quantize` did: the picture and its reconstruction, per plane the
    codebook, winners and training record, and the figures."""
    color: str
    block: tuple
    config: CoreConfig
    engine: str
    picture: np.ndarray
    reconstruction: np.ndarray
    codebooks: list
    indices: list
    records: list
    psnr: float
    mean_absolute_error: float
    bits_per_pixel: float
    vectors: int
    seconds: float
    training_seconds: float
    notes: list = field(default_factory=list)

    @property
    def vectors_per_second(self):
        return self.vectors / self.seconds if self.seconds > 0 else math.inf

    def figures(self):
        """The figures as a JSON-able dict."""
        return {
            "color": self.color, "block": f"{self.block[0]}x{self.block[1]}",
            "core": self.config.to_dict(), "engine": self.engine,
            "height": int(self.picture.shape[0]), "width": int(self.picture.shape[1]),
            "templates": [len(c) for c in self.codebooks],
            "psnr_db": None if math.isinf(self.psnr) else self.psnr,
            "mean_absolute_error": self.mean_absolute_error,
            "bits_per_pixel": self.bits_per_pixel, "vectors": self.vectors,
            "engine_seconds": self.seconds, "vectors_per_second": self.vectors_per_second,
            "training_seconds": self.training_seconds,
            "training": [r.to_dict() if r is not None else None for r in self.records],
            "notes": self.notes,
        }


def _board_results(config, codebook, vectors, port, backend, baud, timeout, log):
    """``(results, expected, link seconds)`` of a board (``port``) for ``vectors`` with
    ``codebook`` in templates 0..m-1, m active."""
    from madvq.host import Board, open_transport
    from madvq.sim.board import board_link
    link = board_link(config, backend, baud) if port == "sim" else None
    transport = open_transport(port, baud, link=link, backend=backend, log=log)
    try:
        board = Board(transport, timeout=timeout)
    except Exception:
        transport.close()
        raise
    with board:
        # A real board says what it is; the blocks and the codebook must suit it.
        codebook = golden.check_codebook(board.config, codebook)
        vectors = golden.check_vectors(board.config, vectors)
        board.load_codebook(codebook)
        start = board.transport.now()
        results = board.classify(vectors)
        seconds = board.transport.now() - start
        expected = golden.classify(board.config, board.stored_codebook(), vectors,
                                   board.active)
    return results, expected, seconds


def _engine_results(config, codebook, vectors, engine, log):
    """``(results, expected, seconds)`` of the golden model or a simulator."""
    expected_start = time.perf_counter()
    expected = golden.classify(config, golden.full_codebook(config, codebook), vectors,
                               len(codebook))
    if engine == "golden":
        return expected, expected, time.perf_counter() - expected_start
    options = {}
    if engine == "verilator":
        from madvq.sim.run import get_backend
        options = {"log": log} if log is not None else {}
        # Compiled (or found in the cache) before the clock starts: the figure is the
        # simulation's speed, not the compiler's.
        get_backend("verilator", config, **options).build()
    batch = Batch.single(config, codebook, vectors)
    start = time.perf_counter()
    run = simulate(batch, backend=engine, **options)
    return run.results, expected, time.perf_counter() - start


def _check_results(results, expected, plane):
    bad = results.mismatches(expected)
    if len(results) != len(expected):
        raise MismatchError(f"{len(results)} results for {len(expected)} blocks")
    if len(bad):
        k = int(bad[0])
        raise MismatchError(
            f"{len(bad)} of {len(expected)} results of the {plane} plane differ from the "
            f"golden model; first at block {k}: (index, distance) = "
            f"({int(results.index[k])}, {int(results.distance[k])}), expected "
            f"({int(expected.index[k])}, {int(expected.distance[k])})")


def quantize(picture, planes, *, color="gray", block=(4, 4), templates=16, codebook=None,
             method="kmedians", iterations=20, seed=0, engine="auto",
             templates_per_cycle=None, port=None, baud=1_000_000, timeout=2.0, log=None,
             progress=None):
    """Code ``planes`` (from :func:`load_image`) block by block and decode them.

    ``codebook``: an m x N array used for every plane, or None to train ``templates``
    templates per plane (``method``, ``iterations``, ``seed`` as
    :func:`~madvq.sim.train.train_codebook`). ``engine``: ``golden``, ``auto``,
    ``verilator``, ``amaranth`` or ``icarus``; with ``port`` the blocks go to that board
    (``"sim"``: the simulated board on simulator ``engine``). The simulated core has
    ``templates_per_cycle`` distance units (default: 16 or m). ``log(note)`` receives the
    simulators' notes, ``progress(plane, entry)`` the training's.

    Everything is checked before any training or simulation; a result that differs from
    the golden model raises :class:`~madvq.sim.run.MismatchError`. Returns
    :class:`Quantized`.
    """
    if color not in COLORS:
        raise ValueError(f"color must be one of {', '.join(COLORS)}, not {color!r}")
    m = templates if codebook is None else len(codebook)
    config = core_config(block, m, templates_per_cycle)
    if codebook is not None:
        codebook = golden.check_codebook(config, codebook)
    resolved = check_engine(engine, port)
    if port is not None:
        from madvq.host.driver import check_timeout
        from madvq.host.transport import check_baud
        check_baud(baud)
        check_timeout(timeout)
        if port == "sim":
            # The rate must suit the board's clock on every simulator (as classify checks).
            from madvq.sim.board import board_link
            board_link(config, "verilator", baud)
            if resolved == "verilator":
                from madvq.sim.verilated import find_tools
                find_tools()
    blocks = [image_blocks(plane, block) for plane in planes]
    if codebook is None and len(blocks[0]) < m:
        raise ValueError(f"{m} templates need at least {m} blocks to train on; a "
                         f"{planes[0].shape[1]}x{planes[0].shape[0]} image has "
                         f"{len(blocks[0])} blocks of {block[0]}x{block[1]}")

    notes = []
    books, records, indices, decoded = [], [], [], []
    seconds = training = 0.0
    for name, vectors in zip(PLANE_NAMES[color], blocks):
        if codebook is None:
            book, record = train_codebook(
                vectors, config, method=method, iterations=iterations, seed=seed,
                progress=None if progress is None else (lambda e, n=name: progress(n, e)))
            training += record.seconds
        else:
            book, record = codebook, None
        if port is not None:
            results, expected, took = _board_results(config, book, vectors, port, resolved,
                                                     baud, timeout, log)
        else:
            results, expected, took = _engine_results(config, book, vectors, resolved, log)
        _check_results(results, expected, name)
        seconds += took
        books.append(book)
        records.append(record)
        indices.append(results.index)
        decoded.append(blocks_image(book[results.index], block, planes[0].shape)
                       .astype(np.uint8))
    reconstruction = _planes_picture(decoded, color)
    error = np.abs(picture.astype(np.int64) - reconstruction.astype(np.int64))
    bits = len(planes) * ceil_log2(m) / config.dims
    return Quantized(color=color, block=tuple(block), config=config,
                     engine="board" if port not in (None, "sim") else
                     (f"simulated board ({resolved})" if port == "sim" else resolved),
                     picture=picture, reconstruction=reconstruction, codebooks=books,
                     indices=indices, records=records, psnr=psnr(picture, reconstruction),
                     mean_absolute_error=float(error.mean()), bits_per_pixel=bits,
                     vectors=sum(len(b) for b in blocks), seconds=seconds,
                     training_seconds=training, notes=notes)


def _tiles(codebook, block):
    """The templates of ``codebook`` as one image of tiles (NaN gaps between them)."""
    bh, bw = block
    m = len(codebook)
    cols = math.ceil(math.sqrt(m))
    rows = math.ceil(m / cols)
    sheet = np.full((rows * (bh + 1) - 1, cols * (bw + 1) - 1), np.nan)
    for j, template in enumerate(codebook):
        r, c = divmod(j, cols)
        sheet[r * (bh + 1):r * (bh + 1) + bh, c * (bw + 1):c * (bw + 1) + bw] = \
            np.asarray(template).reshape(bh, bw)
    return sheet


def figure_png(result, title=None, dpi=100):
    """A PNG (bytes) of the original, the reconstruction, the error map and the codebook
    as tiles, side by side (matplotlib's Agg renderer: no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    picture, recon = result.picture, result.reconstruction
    h, w = picture.shape[:2]
    fig = Figure(figsize=(4 * 3.6 * max(0.6, min(1.6, w / h)) + 3.2, 4.4), dpi=dpi,
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 4, width_ratios=[1, 1, 1, 0.8])
    gray = dict(cmap="gray", vmin=0, vmax=PEAK, interpolation="nearest")
    axes[0].imshow(picture, **(gray if picture.ndim == 2 else {}))
    axes[0].set_title("original")
    axes[1].imshow(recon, **(gray if recon.ndim == 2 else {}))
    axes[1].set_title(f"reconstruction, {result.bits_per_pixel:.3g} bpp")
    error = np.abs(picture.astype(np.int64) - recon.astype(np.int64))
    if error.ndim == 3:
        error = error.mean(axis=2)
    shown = axes[2].imshow(error, cmap="magma", interpolation="nearest")
    fig.colorbar(shown, ax=axes[2], shrink=0.8, label="|error|")
    axes[2].set_title(f"error, PSNR {result.psnr:.2f} dB")
    first = result.codebooks[0]
    axes[3].imshow(_tiles(first, result.block), **gray)
    axes[3].set_title(f"codebook ({len(first)} templates"
                      + (", luma)" if result.color == "ycbcr" else ")"))
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _png(array):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def write_outputs(result, paths, *, title=None, extra=None):
    """Write the reconstruction, the figure, the codebook(s) and the figures' JSON to
    ``paths`` (from :func:`output_paths`), each whole or not at all; return the paths."""
    blobs = {"image": _png(result.reconstruction), "figure": figure_png(result, title)}
    figures = result.figures()
    figures.update(extra or {})
    blobs["json"] = (json.dumps(figures, indent=2, sort_keys=True) + "\n").encode()
    # Everything is rendered before the first file is written.
    for key, path in paths.items():
        if key.startswith("codebook"):
            plane = 0 if key == "codebook" else ["codebook_y", "codebook_cb",
                                                 "codebook_cr"].index(key)
            book = result.codebooks[plane]
            write_atomically(path, lambda f, b=book: np.save(f, b))
        else:
            write_atomically(path, lambda f, data=blobs[key]: f.write(data))
    return list(paths.values())


def picture_png(path, picture):
    """Write ``picture`` (an (H, W) or (H, W, 3) uint8 array) as a PNG at ``path``."""
    return write_atomically(Path(path), lambda f: f.write(_png(picture)))
