"""Layers import one way: every module of wsl_tf and data_tools, its imports walked, no circle, no way up.

The layers, lowest first (a module may import its own layer and those below,
never a layer above nor a sibling at its own height):

  core        wsl_tf's top-level modules: text, vocab, records, keys, fileio, variables; configs (data)
  input       wsl_tf/input: the train index, samplers, preprocessing, pipelines, PreparedDataset
  models      wsl_tf/models: keras.ops only, no TensorFlow (a saved model loads under any Keras backend)
  runs        wsl_tf/precision.py (precision@k on a split), wsl_tf/run_directory.py (a run read back): what
              training and evaluation both read
  train       wsl_tf/train: the loop, EASGD, LR halving     serving   wsl_tf/serving.py (the export), and a
                                                                      collection embedded by it and searched:
                                                                      collection.py, gallery.py
  eval        wsl_tf/eval: every experiment, the training choices' runs and the search experiment among them
              (evaluation sits above training and serving)
  data_tools  the data tools: they may use the library, never cli
  cli         wsl_tf/cli: the commands, and what they share (command.py)
"""

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("wsl_tf", "data_tools")
# (layer, height, module prefixes). A module belongs to the layer of its longest matching prefix.
LAYERS = [
    ("core", 0, ("wsl_tf", "wsl_tf.configs")),
    ("input", 1, ("wsl_tf.input",)),
    ("models", 1, ("wsl_tf.models",)),
    ("runs", 2, ("wsl_tf.precision", "wsl_tf.run_directory")),
    ("train", 3, ("wsl_tf.train",)),
    ("serving", 3, ("wsl_tf.serving", "wsl_tf.collection", "wsl_tf.gallery")),
    ("eval", 4, ("wsl_tf.eval",)),
    ("data_tools", 6, ("data_tools",)),
    ("cli", 7, ("wsl_tf.cli",)),
]


def module_files() -> dict[str, str]:
    """Every module of the packages (configs/ is installed as wsl_tf.configs): name -> path."""
    found = {}
    roots = {"wsl_tf": "wsl_tf", "data_tools": "data_tools", "wsl_tf.configs": "configs"}
    for package, root in roots.items():
        for folder, _, names in os.walk(os.path.join(REPO, root)):
            for name in names:
                if name.endswith(".py"):
                    relative = os.path.relpath(os.path.join(folder, name), os.path.join(REPO, root))[:-3]
                    parts = [p for p in relative.split(os.sep) if p != "__init__"]
                    found[".".join([package, *parts])] = os.path.join(folder, name)
    return found


def imports_of(path: str, modules: set[str]) -> set[str]:
    """The package modules a file imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]  # A submodule, or a name in node.module.
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                while name not in modules and "." in name:  # `from a.b import function`: the module a.b.
                    name = name.rsplit(".", 1)[0]
                if name in modules:
                    found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    modules = set(files)
    graph = {}
    for name, path in files.items():
        graph[name] = {m for m in imports_of(path, modules) if m != name}
    return graph


def layer_of(module: str) -> tuple[str, int]:
    best = max(
        (
            (prefix, name, height)
            for name, height, prefixes in LAYERS
            for prefix in prefixes
            if module == prefix or module.startswith(prefix + ".")
        ),
        key=lambda found: len(found[0]),
    )
    return best[1], best[2]


def wrong_way(graph: dict[str, set[str]]) -> list[str]:
    """Each import that goes up the layers, or across to a sibling layer."""
    problems = []
    for module, imported in sorted(graph.items()):
        layer, height = layer_of(module)
        for other in sorted(imported):
            other_layer, other_height = layer_of(other)
            if other_height > height or (other_height == height and other_layer != layer):
                problems.append(f"{module} ({layer}) imports {other} ({other_layer})")
    return problems


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles between modules (strongly connected components of more than one module)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    unplaced = [
        m
        for m in import_graph()
        if not any(m == p or m.startswith(p + ".") for _, _, prefixes in LAYERS for p in prefixes)
    ]
    assert unplaced == []


def test_no_import_goes_up_a_layer_or_across_to_a_sibling():
    assert wrong_way(import_graph()) == []


def test_no_modules_import_each_other_in_a_circle():
    assert circles(import_graph()) == []


def test_no_library_module_imports_cli_or_data_tools():
    graph = import_graph()
    library = [m for m in graph if m.startswith("wsl_tf") and not m.startswith("wsl_tf.cli")]
    assert [
        (m, sorted(i)) for m in library if (i := {x for x in graph[m] if x.startswith(("wsl_tf.cli", "data_tools"))})
    ] == []


def third_party_imports(path: str) -> set[str]:
    """The top-level names of the packages outside the project a file imports."""
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - set(PACKAGES)


def test_the_model_package_computes_with_keras_alone():
    """No module of wsl_tf/models imports TensorFlow, nor a core module but the plain-Python errors."""
    files = module_files()
    graph = import_graph()
    models = [m for m in files if m.startswith("wsl_tf.models")]
    assert len(models) >= 8
    assert {m: sorted(i) for m in models if (i := third_party_imports(files[m]) & {"tensorflow", "tf_keras"})} == {}
    assert third_party_imports(files["wsl_tf.errors"]) == set() and graph["wsl_tf.errors"] == set()
    allowed = {x for x in files if x.startswith("wsl_tf.models")} | {"wsl_tf.errors"}
    assert {m: sorted(graph[m] - allowed) for m in models if graph[m] - allowed} == {}


@pytest.mark.parametrize(
    "added, complaint",
    [
        (("wsl_tf.train.trainer", "wsl_tf.eval.transfer"), "wsl_tf.train.trainer (train) imports wsl_tf.eval.transfer"),
        (("wsl_tf.serving", "wsl_tf.train.trainer"), "wsl_tf.serving (serving) imports wsl_tf.train.trainer (train)"),
        (("wsl_tf.collection", "wsl_tf.eval.report"), "wsl_tf.collection (serving) imports wsl_tf.eval.report (eval)"),
        (("data_tools.preparer", "wsl_tf.cli.train"), "data_tools.preparer (data_tools) imports wsl_tf.cli.train"),
        (("wsl_tf.models.losses", "wsl_tf.cli.demo"), "wsl_tf.models.losses (models) imports wsl_tf.cli.demo"),
    ],
)
def test_an_import_added_the_wrong_way_is_named(added, complaint):
    """The checks on today's graph with one import added: they must fail, naming it."""
    graph = {m: set(i) for m, i in import_graph().items()}
    graph[added[0]].add(added[1])
    assert any(p.startswith(complaint) for p in wrong_way(graph)), wrong_way(graph)


def test_a_circle_within_a_layer_is_found():
    graph = {m: set(i) for m, i in import_graph().items()}
    graph["wsl_tf.input.index"].add("wsl_tf.input.pipeline")  # pipeline -> dataset -> index -> pipeline.
    assert any(
        {"wsl_tf.input.dataset", "wsl_tf.input.index", "wsl_tf.input.pipeline"} <= set(c) for c in circles(graph)
    )
