"""The Space's requirements.txt names every requirement of the package and of the app, with the same versions."""

import ast
from pathlib import Path

from packaging.requirements import Requirement


REPO = Path(__file__).resolve().parents[1]


def setup_requirements() -> list[str]:
    """install_requires and APP_REQUIREMENTS, read from setup.py's literals (running setup.py would build)."""
    tree = ast.parse((REPO / "setup.py").read_text())
    literals = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            literals[node.targets[0].id] = node.value
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            literals["install_requires"] = node.value
    return ast.literal_eval(literals["install_requires"]) + ast.literal_eval(literals["APP_REQUIREMENTS"])


def test_space_requirements_match_setup():
    lines = [line.strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    space = {Requirement(line).name: Requirement(line) for line in lines if line and not line.startswith(("#", "--"))}
    for requirement in map(Requirement, setup_requirements()):
        assert requirement.name in space, f"requirements.txt lacks {requirement}"
        pinned = space[requirement.name]
        # torch is pinned to one CPU wheel there; every other line repeats setup.py's range.
        assert pinned.specifier == requirement.specifier or all(
            requirement.specifier.contains(spec.version) for spec in pinned.specifier
        ), f"{pinned} (requirements.txt) vs {requirement} (setup.py)"
    assert set(space) == {Requirement(line).name for line in setup_requirements()}


def test_readme_front_matter_makes_the_repository_a_gradio_space():
    from huggingface_hub.repocard import metadata_load
    from packaging.specifiers import SpecifierSet

    settings = metadata_load(REPO / "README.md")
    assert settings["sdk"] == "gradio" and (REPO / settings["app_file"]).is_file()
    gradio_range = next(Requirement(r).specifier for r in setup_requirements() if Requirement(r).name == "gradio")
    assert settings["sdk_version"] in SpecifierSet(str(gradio_range)), "the Space's gradio is outside setup.py's range"
    assert settings["python_version"] == "3.11"
