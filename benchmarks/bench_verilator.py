"""Simulation speed of the two backends, and of a bare C++ loop, measured in one run.

On the default 16x16x8 fully parallel core (one vector per clock), prints:
* the Verilator backend's vectors per second on 1,000,000 vectors, end to end from NumPy
  arrays (``VerilatorBackend.run``: packing, the C++ harness, unpacking; compile and checking
  against the golden model excluded; best of three), and the cost of building the ``Batch``
  (input validation) beside it;
* the Amaranth backend's vectors per second (the extra time of a long run over a short one,
  so that elaboration is excluded);
* the same with a profile-guided build of the model (``profile_guided=True``), alternating
  with the plain one, and the ratio;
* the same compiled by clang++ (``CXX=clang++``) when it is installed, alternating with
  g++'s build, and the ratio; and clang++'s profile-guided build against its plain one
  when llvm-profdata is installed too;
* a bare C++ ``main()`` driving the ports of the same verilated model over the same vectors
  with no Python at all (its own clock around the vector loop), and its results checked too;
* the ratios: Verilator / Amaranth and bare loop / Verilator backend.

Usage: python benchmarks/bench_verilator.py [--vectors K] [--amaranth-vectors K]
Machine load (other processes) slows every figure: the load average is printed before and
after; compare the ratios, which come from the same run.
"""

import argparse
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from madvq.hdl.config import CoreConfig
from madvq.hdl.ports import port_table
from madvq.sim.amaranth_backend import AmaranthBackend
from madvq.sim.golden import Results
from madvq.sim.packing import pack_words
from madvq.sim.stimulus import Batch
from madvq.sim.verilated import build_model, copy_in, find_tools
from madvq.sim.verilator_backend import VerilatorBackend, exported_verilog
from timing import best_of, load_average


BARE_MAIN = r"""
// The same verilated core, driven from a plain loop: template writes, then one vector
// offered every cycle with the result stream always ready. Arguments: the packed templates
// file, the packed vectors file (32-bit words), the output file (index, distance as int64).
#include "Vmodel.h"
#include "verilated.h"
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

static std::vector<uint32_t> slurp(const char* path) {
    std::vector<uint32_t> v;
    FILE* f = std::fopen(path, "rb");
    if (!f) return v;
    uint32_t w;
    while (std::fread(&w, 4, 1, f) == 1) v.push_back(w);
    std::fclose(f);
    return v;
}

static void set_vector_data(Vmodel* m, const uint32_t* w) {
@SET_VECTOR@
}

static void set_codebook_data(Vmodel* m, const uint32_t* w) {
@SET_CODEBOOK@
}

int main(int argc, char** argv) {
    if (argc != 4) return 2;
    const uint64_t W = @WORDS@;
    std::vector<uint32_t> book = slurp(argv[1]), x = slurp(argv[2]);
    uint64_t templates = book.size() / W, k = x.size() / W;
    std::vector<int64_t> out(2 * k);
    VerilatedContext context;
    Vmodel* m = new Vmodel{&context};
    m->result_ready = 1;
    for (uint64_t j = 0; j < templates; ++j) {          // codebook_ready is high when idle
        m->codebook_index = j;
        set_codebook_data(m, &book[j * W]);
        m->codebook_valid = 1;
        m->clk = 0; m->eval();
        m->clk = 1; m->eval();
    }
    m->codebook_valid = 0;
    auto t0 = std::chrono::steady_clock::now();
    uint64_t sent = 0, got = 0, cycles = 0;
    while (got < k) {
        if (sent < k) { set_vector_data(m, &x[sent * W]); m->vector_valid = 1; }
        else m->vector_valid = 0;
        m->clk = 0; m->eval();
        bool put = m->vector_valid && m->vector_ready;
        if (m->result_valid) {
            out[2 * got] = m->result_index;
            out[2 * got + 1] = m->result_distance;
            ++got;
        }
        m->clk = 1; m->eval();
        if (put) ++sent;
        ++cycles;
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    FILE* f = std::fopen(argv[3], "wb");
    std::fwrite(out.data(), 8, out.size(), f);
    std::fclose(f);
    std::printf("%llu %llu %.6f\n", (unsigned long long)k, (unsigned long long)cycles, s);
    delete m;
    return 0;
}
"""


def compare_with_plain(what, variant, plain, batch, expected, repeats=3,
                       plain_what="the plain g++ build"):
    """Build ``variant`` (a Verilator backend), then run it and ``plain`` on ``batch`` in
    turn ``repeats`` times; print both best rates and their ratio."""
    seconds, model = best_of(1, variant.build)
    print(f"{what} model {'compiled' if model.built else 'found in the cache'} in "
          f"{seconds:.2f} s")
    variant_times, plain_times = [], []
    for _ in range(repeats):
        seconds, run = best_of(1, lambda: variant.run(batch))
        variant_times.append(seconds)
        plain_times.append(best_of(1, lambda: plain.run(batch))[0])
    assert len(run.results.mismatches(expected)) == 0
    v_rate = batch.vector_count / min(variant_times)
    p_rate = batch.vector_count / min(plain_times)
    print(f"{what} verilator backend: {v_rate:,.0f} vectors/s against {p_rate:,.0f} for "
          f"{plain_what} in the same alternating runs ({v_rate / p_rate:.2f}x); all results "
          f"match the golden model")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--amaranth-vectors", type=int, default=2000)
    args = parser.parse_args()

    cfg = CoreConfig()
    tools = find_tools()
    versions = subprocess.run([*tools["verilator"], "--version"], capture_output=True,
                              text=True).stdout.strip()
    gxx = subprocess.run([tools["cxx"], "--version"], capture_output=True,
                         text=True).stdout.splitlines()[0]
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"machine: {platform.machine()}, {cpu}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, numpy {np.__version__}")
    print(f"tools: Verilator {versions}; {gxx}")
    print(f"load average before: {load_average()}")

    rng = np.random.default_rng(0)
    book = rng.integers(0, 256, (cfg.templates, cfg.dims))
    x = rng.integers(0, 256, (args.vectors, cfg.dims))

    # -- Verilator backend --
    backend = VerilatorBackend(cfg, log=print)
    t_build, model = best_of(1, backend.build)
    print(f"model {'compiled' if model.built else 'found in the cache'} in {t_build:.2f} s")
    t_batch, batch = best_of(1, lambda: Batch.single(cfg, book, x))
    t_run, run = best_of(3, lambda: backend.run(batch))
    expected = run.check(batch)
    v_rate = args.vectors / t_run
    print(f"verilator backend, {cfg.default_name}: {args.vectors:,} vectors in {t_run:.3f} s "
          f"= {v_rate:,.0f} vectors/s ({run.cycles:,} cycles, {run.cycles / t_run:,.0f} "
          f"cycles/s); building the Batch (input checks) {t_batch:.3f} s more; all results "
          f"match the golden model")

    # -- the same, profile-guided (compiled twice around a profiling run), and compiled by
    # clang++ (CXX=clang++) when it is installed; each alternates with the plain g++ build,
    # so that a change in the machine's load hits both alike --
    compare_with_plain("profile-guided", VerilatorBackend(cfg, log=print, profile_guided=True),
                       backend, batch, expected)
    import shutil
    if shutil.which("clang++") and not os.environ.get("CXX"):
        os.environ["CXX"] = "clang++"       # read when the model is compiled
        try:
            clang = VerilatorBackend(cfg, log=print)
            compare_with_plain("clang++", clang, backend, batch, expected)
            if shutil.which("llvm-profdata"):
                compare_with_plain("clang++ profile-guided",
                                   VerilatorBackend(cfg, log=print, profile_guided=True),
                                   clang, batch, expected, plain_what="clang++'s plain build")
        finally:
            del os.environ["CXX"]
    else:
        print("clang++: not installed (or CXX already set): not compared")

    # -- bare C++ loop over the same verilated model --
    widths = {p["name"]: p["width"] for p in port_table(cfg)}
    words = -(-widths["vector_data"] // 32)
    source = (BARE_MAIN.replace("@SET_VECTOR@", copy_in("vector_data", widths["vector_data"]))
              .replace("@SET_CODEBOOK@", copy_in("codebook_data", widths["codebook_data"]))
              .replace("@WORDS@", str(words)))
    program = build_model(exported_verilog(cfg), cfg.default_name, source, executable=True,
                          log=print).library
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pack_words(book, cfg.width).tofile(tmp / "book.bin")
        pack_words(x, cfg.width).tofile(tmp / "x.bin")
        best = None
        for _ in range(3):
            out = subprocess.run([str(program), str(tmp / "book.bin"), str(tmp / "x.bin"),
                                  str(tmp / "out.bin")], capture_output=True, text=True,
                                 check=True).stdout.split()
            seconds = float(out[2])
            best = seconds if best is None else min(best, seconds)
        pairs = np.fromfile(tmp / "out.bin", dtype=np.int64).reshape(-1, 2)
    bare = Results(index=pairs[:, 0], distance=pairs[:, 1])
    assert len(bare.mismatches(expected)) == 0, "the bare loop disagrees with the golden model"
    b_rate = args.vectors / best
    print(f"bare C++ loop, same model and vectors: {b_rate:,.0f} vectors/s ({best:.3f} s; "
          f"results match the golden model)")

    # -- Amaranth backend: a short run first, so that the long run's extra time is all
    # simulation --
    amaranth = AmaranthBackend(cfg)
    short, long_ = 100, 100 + args.amaranth_vectors
    timings = {}
    for k in (short, long_):
        b = Batch.single(cfg, book, x[:k])
        timings[k], r = best_of(1, lambda: amaranth.run(b))
        r.check(b)
    a_rate = (long_ - short) / (timings[long_] - timings[short])
    print(f"amaranth backend: {a_rate:,.0f} vectors/s ({long_ - short} vectors beyond a "
          f"{short}-vector run; fixed cost {timings[short]:.2f} s)")

    print(f"verilator backend / amaranth backend: {v_rate / a_rate:,.0f}x")
    print(f"bare C++ loop / verilator backend: {b_rate / v_rate:.2f}x")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
