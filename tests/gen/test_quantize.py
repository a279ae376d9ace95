"""``madvq quantize``: images cut into blocks, coded by the core and decoded."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from cli_helpers import run
from madvq.gen import quantize as q
from madvq.sim import golden


def small_image(h=10, w=13, seed=0):
    """A gray picture with structure (a gradient, a bright square) and noise, whose sides
    are not multiples of 4."""
    y, x = np.mgrid[0:h, 0:w]
    img = 30 + 12 * x + 5 * y + np.random.default_rng(seed).integers(0, 9, (h, w))
    img[2:6, 3:8] = 240
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("text, block", [("4x4", (4, 4)), ("2X8", (2, 8)), ("3", (3, 3)),
                                         ("32x32", (32, 32)), ("1x1", (1, 1))])
def test_parse_block(text, block):
    assert q.parse_block(text) == block


@pytest.mark.parametrize("text, message", [
    ("4x", r"--block must be HxW with positive integers H and W \(e\.g\. 4x4\), not '4x'"),
    ("0x4", r"not '0x4'"), ("4x4x4", r"not '4x4x4'"), ("a", r"not 'a'"), ("-4x4", r"not"),
    ("33x32", r"a 33x32 block has 1056 pixels; a core takes at most 1024 values"),
])
def test_parse_bad_block(text, message):
    with pytest.raises(ValueError, match=message):
        q.parse_block(text)


def test_blocks_pad_by_repeating_the_edge_and_crop_back():
    img = small_image(10, 13)
    vectors = q.image_blocks(img, (4, 4))
    assert vectors.shape == (3 * 4, 16)
    # Block (row 2, col 3) covers rows 8..11 and columns 12..15: rows 10, 11 repeat row 9,
    # columns 13..15 repeat column 12.
    corner = vectors[2 * 4 + 3].reshape(4, 4)
    assert (corner == img[[8, 9, 9, 9]][:, [12, 12, 12, 12]]).all()
    # Raster order, row by row inside a block.
    assert (vectors[1].reshape(4, 4) == img[0:4, 4:8]).all()
    assert np.array_equal(q.blocks_image(vectors, (4, 4), img.shape), img)
    assert np.array_equal(q.blocks_image(q.image_blocks(img, (3, 5)), (3, 5), img.shape), img)


def test_psnr():
    a = np.zeros((4, 4), np.uint8)
    b = a.copy()
    assert q.psnr(a, b) == math.inf
    b[0, 0] = 16                       # MSE 16**2 / 16 = 16
    assert q.psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / 16))
    assert q.psnr(a, b) == pytest.approx(20 * math.log10(255) - 10 * math.log10(16))


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(small_image()).save(path)
    return path


@pytest.mark.parametrize("engine", ["golden", "amaranth"])
def test_round_trip_through_an_engine(picture, engine):
    pic, planes = q.load_image(picture)
    result = q.quantize(pic, planes, templates=4, engine=engine, seed=1)
    book, = result.codebooks
    index, = result.indices
    assert result.config.dims == 16 and result.config.templates == 4
    assert result.config.templates_per_cycle == 4
    # The reconstruction is each block's template, cropped; the winners are the golden model's.
    vectors = q.image_blocks(pic, (4, 4))
    assert np.array_equal(index, golden.classify(result.config, book, vectors).index)
    assert np.array_equal(result.reconstruction, q.blocks_image(book[index], (4, 4), pic.shape))
    error = pic.astype(float) - result.reconstruction
    assert result.psnr == pytest.approx(10 * math.log10(255 ** 2 / np.mean(error ** 2)))
    assert result.mean_absolute_error == pytest.approx(np.abs(error).mean())
    assert result.bits_per_pixel == 2 / 16 and result.vectors == 12


def test_a_mismatch_is_reported(picture, monkeypatch):
    from madvq.sim.run import MismatchError, RunResult

    def wrong(batch, **options):
        expected = batch.expected()
        expected.index[3] ^= 1
        return RunResult(expected, 0)
    monkeypatch.setattr(q, "simulate", wrong)
    pic, planes = q.load_image(picture)
    with pytest.raises(MismatchError, match=r"1 of 12 results of the luma plane differ from "
                                            r"the golden model; first at block 3"):
        q.quantize(pic, planes, templates=4, engine="amaranth")


def test_colour_in_ycbcr(tmp_path):
    rgb = np.stack([small_image(seed=s) for s in range(3)], axis=-1)
    rgb[..., 2] = 255 - rgb[..., 2]
    path = tmp_path / "colour.png"
    Image.fromarray(rgb).save(path)
    pic, planes = q.load_image(path, "ycbcr")
    assert np.array_equal(pic, rgb) and len(planes) == 3
    result = q.quantize(pic, planes, color="ycbcr", templates=12, engine="golden")
    assert result.reconstruction.shape == rgb.shape and len(result.codebooks) == 3
    assert result.bits_per_pixel == 3 * 4 / 16 and result.vectors == 36
    assert result.psnr == pytest.approx(q.psnr(rgb, result.reconstruction))
    # 12 templates for 12 blocks: every plane is coded exactly, the colour conversions
    # round a little.
    assert result.psnr > 35


def test_command_line_writes_every_output_and_reuses_its_codebook(capsys, picture, tmp_path):
    out = tmp_path / "out" / "q.png"
    code, stdout, err = run(capsys, "quantize", picture, "--templates", 4, "--backend",
                            "golden", "-o", out)
    assert code == 0, err
    assert "all match the golden model" in stdout and "0.125 bits per pixel" in stdout
    for name in ("q.png", "q_figure.png", "q_codebook.npy", "q.json"):
        assert (out.parent / name).is_file(), name
    with Image.open(out) as img:
        assert img.size == (13, 10) and img.mode == "L"
    figures = json.loads((out.parent / "q.json").read_text())
    assert figures["templates"] == [4] and figures["bits_per_pixel"] == 0.125
    with Image.open(out.parent / "q_figure.png") as img:
        assert img.format == "PNG"
    again = tmp_path / "again.png"
    code, stdout2, err = run(capsys, "quantize", picture, "--codebook",
                             out.parent / "q_codebook.npy", "--backend", "golden", "-o", again)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(out)))


def test_command_line_mismatch_exits_1(capsys, picture, tmp_path, monkeypatch):
    from madvq.sim.run import RunResult

    def wrong(batch, **options):
        expected = batch.expected()
        expected.distance[0] += 1
        return RunResult(expected, 0)
    monkeypatch.setattr(q, "simulate", wrong)
    out = tmp_path / "q.png"
    code, _, err = run(capsys, "quantize", picture, "--templates", 4, "--backend", "amaranth",
                       "-o", out)
    assert code == 1
    assert err.startswith("madvq quantize: FAILED: 1 of 12 results")
    assert not out.exists()


def test_simulated_board(picture):
    pic, planes = q.load_image(picture)
    pic, planes = pic[:4, :8], [planes[0][:4, :8]]
    result = q.quantize(pic, planes, block=(2, 2), templates=2, engine="amaranth", port="sim")
    assert result.engine == "simulated board (amaranth)" and result.vectors == 8
