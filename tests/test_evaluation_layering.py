"""
The layering: the library (`modeling_dbeta`, evaluation included) never depends on the data-set package
(`datasets_scripts`), which builds on it; the evaluation scripts are thin entry points over the library.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path


REPO_DIR = Path(__file__).resolve().parents[1]
LIBRARY_DIR = REPO_DIR / "modeling_dbeta"


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module `path` imports (relative imports excluded: they stay in the package)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def test_no_library_module_imports_the_data_set_package():
    files = sorted(LIBRARY_DIR.rglob("*.py"))  # the local `evaluate` modules of the metrics included
    assert len(files) > 20
    offenders = [str(path.relative_to(REPO_DIR)) for path in files if "datasets_scripts" in imported_modules(path)]
    assert offenders == []


def test_importing_all_of_the_library_leaves_the_data_set_package_unimported():
    code = (
        "import importlib, pkgutil, sys, modeling_dbeta\n"
        "names = [m.name for m in pkgutil.walk_packages(modeling_dbeta.__path__, 'modeling_dbeta.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names), sorted(m for m in sys.modules if m.split('.')[0] == 'datasets_scripts'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR), "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    count, loaded = completed.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) > 20  # modeling_dbeta.evaluation and its submodules, modeling_dbeta.publish, ...
    assert loaded == "[]"


def test_every_evaluation_script_writes_through_the_one_writer():
    scripts = sorted((REPO_DIR / "evaluation").glob("*.py"))
    assert [path.name for path in scripts] == ["finetune.py", "linear_probe.py", "retrieval.py", "zero_shot.py"]
    for path in scripts:
        source = path.read_text(encoding="utf-8")
        assert "write_evaluation(" in source, path.name
        for glue in ("EvaluationResult(", "save_results(", "write_text(", "json.dump"):
            assert glue not in source, f"{path.name} builds or writes results itself ({glue})"
