"""The architecture as a test: madvq's layers import one way, and no module imports one that
imports it back.

Layers, bottom up: ``hdl`` (gateware) <- ``sim`` (models and simulators) <- ``gen`` (flows
that write files, and the command line) and ``host`` (the board driver). Every import
counts, at the top of a module or inside a function. Nothing imports Amaranth's private
modules (``amaranth._...``). No function or method of the gateware is longer than
``LONGEST_GATEWARE_FUNCTION`` lines (an ``elaborate`` that long is several components or
several states that want names of their own).
"""

import ast
from pathlib import Path



ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hdl", "sim", "gen", "host", "constraints")
# What each package may import from madvq.
ALLOWED = {
    "hdl": {"hdl"},
    "sim": {"hdl", "sim"},
    "host": {"hdl", "sim", "host"},
    "gen": {"hdl", "sim", "host", "gen"},
    "constraints": {"constraints"},
}
LONGEST_GATEWARE_FUNCTION = 120


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            name = path.stem
            yield (f"madvq.{package}" if name == "__init__" else f"madvq.{package}.{name}",
                   package, path)


def _imports(module, package, path):
    """Every madvq module ``module`` imports (anywhere in it), and every imported name."""
    tree = ast.parse(path.read_text())
    is_package = path.stem == "__init__"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.append(target)
            # `from madvq.x import y` may name module y.
            found += [f"{target}.{alias.name}" for alias in node.names]
    return found


def _graph():
    modules = {name: (package, path) for name, package, path in _modules()}
    graph = {}
    private = []
    for name, (package, path) in modules.items():
        targets = _imports(name, package, path)
        private += [(name, t) for t in targets if t.startswith("amaranth._")]
        graph[name] = sorted({t for t in targets if t in modules and t != name})
    return graph, private


def test_layers_import_one_way():
    graph, _ = _graph()
    wrong = [(a, b) for a, targets in graph.items() for b in targets
             if b.split(".")[1] not in ALLOWED[a.split(".")[1]]]
    assert wrong == []


def _cycles(graph):
    """The cycles a depth-first walk of ``graph`` (module -> imported modules) meets."""
    cycles = []
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [])
    return cycles


def test_no_import_cycles():
    graph, _ = _graph()
    assert _cycles(graph) == []


def test_no_private_amaranth_imports():
    _, private = _graph()
    assert private == []


def test_the_checks_see_what_they_look_for():
    """The walk finds a cycle and a wrong-way import where there are some."""
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c", "a"]]
    graph, _ = _graph()
    assert "madvq.hdl.config" in graph["madvq.hdl.core"]
    assert "madvq.sim.golden" in graph["madvq.sim.stimulus"]


def _long_functions(source, limit):
    """``(name, lines)`` of each function or method in ``source`` longer than ``limit``."""
    return [(node.name, node.end_lineno - node.lineno + 1)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > limit]


def test_gateware_functions_are_short():
    long = [(path.name, *found) for path in sorted((ROOT / "hdl").glob("*.py"))
            for found in _long_functions(path.read_text(), LONGEST_GATEWARE_FUNCTION)]
    assert long == []


def test_the_length_check_sees_a_long_function():
    body = "".join(f"    x{k} = {k}\n" for k in range(LONGEST_GATEWARE_FUNCTION))
    source = f"class C:\n  def elaborate(self):\n{body}"
    assert _long_functions(source, LONGEST_GATEWARE_FUNCTION) == \
        [("elaborate", LONGEST_GATEWARE_FUNCTION + 1)]
    assert _long_functions(source, LONGEST_GATEWARE_FUNCTION + 1) == []
