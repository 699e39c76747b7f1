"""
transformers' own common model tests (`ModelTesterMixin`, `ConfigTester`), imported from the sdist of the installed
transformers version. The sdist is fetched once with pip into a cache outside the repository
(`$DBETA_TRANSFORMERS_TESTS_CACHE`, default `~/.cache/dbeta/transformers-tests`); nothing of it is copied here.

The sdist's `tests/test_modeling_common.py` and `tests/test_configuration_common.py` import three modules that the
sdist does not ship; they are stubbed, each with the reason it is safe for D-BETA:
- `tests/generation/test_utils.py` (`GenerationTesterMixin`): D-BETA cannot `generate`, so a tester must not inherit
  the mixin (`test_generation_tester_mixin_inheritance` asserts exactly that).
- `tests/exporters/test_export.py` (`ExportTesterMixin`): its export tests are not in the sdist;
  `tests/test_compile.py` exports every D-BETA class with `torch.export` instead.
- `tests/utils/test_configuration_utils.py` (`config_common_kwargs`): read only by
  `ConfigTester.check_config_arguments_init`, which returns before reading it for a config with sub-configs, as
  `DBetaConfig` is.
"""

import importlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import transformers


PACKAGE = "transformers_sdist_tests"
# Markers the sdist's tests use, registered by transformers' own conftest (and by ours, tests/conftest.py).
SDIST_MARKERS = ("accelerate_tests", "flash_attn_test", "flash_attn_3_test", "flash_attn_4_test", "torch_compile_test")
COMMON_FILES = ("test_modeling_common.py", "test_configuration_common.py")
STUBS = {
    "generation/test_utils.py": "class GenerationTesterMixin:\n    pass\n",
    "exporters/test_export.py": "class ExportTesterMixin:\n    pass\n",
    "utils/test_configuration_utils.py": "config_common_kwargs = {}\n",
}


def cache_dir(version: str = transformers.__version__) -> Path:
    root = os.environ.get("DBETA_TRANSFORMERS_TESTS_CACHE") or Path.home() / ".cache" / "dbeta" / "transformers-tests"
    return Path(root) / f"transformers-{version}"


def fetch(version: str = transformers.__version__, timeout: float = 300) -> Path:
    """The package directory holding the common test files of `version` (downloaded on first use); raises OSError."""
    target = cache_dir(version)
    package = target / PACKAGE
    if all((package / name).is_file() for name in COMMON_FILES):
        return target
    with tempfile.TemporaryDirectory() as download:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
            f"transformers=={version}", "--dest", download,
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise OSError(f"`{' '.join(command)}` took more than {timeout} s") from error
        archives = list(Path(download).glob(f"transformers-{version}.tar.gz"))
        if result.returncode != 0 or not archives:
            raise OSError(f"`{' '.join(command)}` failed: {result.stderr.strip()[-500:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        with tarfile.open(archives[0]) as archive:
            for name in COMMON_FILES:
                member = archive.getmember(f"transformers-{version}/tests/{name}")
                (staging / PACKAGE).mkdir(parents=True, exist_ok=True)
                (staging / PACKAGE / name).write_bytes(archive.extractfile(member).read())
    (staging / PACKAGE / "__init__.py").write_text("")
    for relative, text in STUBS.items():
        stub = staging / PACKAGE / relative
        stub.parent.mkdir(parents=True, exist_ok=True)
        (stub.parent / "__init__.py").touch()
        stub.write_text(
            f"# Stub for a module the transformers {version} sdist does not ship (see tests/transformers_common.py).\n"
            f"{text}"
        )
    if not package.is_dir():  # another process may have finished first
        staging.rename(target)
    return target


def import_common_tests(version: str = transformers.__version__):
    """
    (test_modeling_common, test_configuration_common) of the installed transformers; raises OSError if unavailable.
    """
    root = str(fetch(version))
    if root not in sys.path:
        sys.path.insert(0, root)
    return (
        importlib.import_module(f"{PACKAGE}.test_modeling_common"),
        importlib.import_module(f"{PACKAGE}.test_configuration_common"),
    )
