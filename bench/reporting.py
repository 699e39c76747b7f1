"""What every bench script does with its figures: print them as JSON, and keep them (e.g. in `bench/results/`)."""

import json
from pathlib import Path


def print_and_save(results: dict, output: Path | None) -> None:
    text = json.dumps(results, indent=2)
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
