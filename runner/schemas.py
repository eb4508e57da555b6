"""JSON Schemas of the kit's TOML files, for editors (taplo / Even Better TOML, VS Code, ...).

The schemas are generated from the pydantic models of ``runner.catalog`` and kept in the repository
under ``schemas/``; each TOML file points at its schema with a first line such as
``#:schema ../../schemas/exercise.schema.json`` (a path relative to the TOML file). A schema only
helps an editor: the runner validates with the models themselves, which also check what a JSON
Schema cannot say (a ``find`` text that occurs once, unique ids, the kind's own entry rules).

``python -m runner.schemas`` rewrites the files; ``tests/test_schemas.py`` fails when one is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .catalog import BugCatalogue, EquivalentCatalogue, ExerciseMeta, MutantCatalogue

#: File name → the model whose schema it holds.
SCHEMAS: dict[str, type[BaseModel]] = {
    "exercise.schema.json": ExerciseMeta,
    "bugs.schema.json": BugCatalogue,
    "mutants.schema.json": MutantCatalogue,
    "equivalent.schema.json": EquivalentCatalogue,
}

#: What each file describes (the schema's title and description).
_ABOUT: dict[str, tuple[str, str]] = {
    "exercise.schema.json": ("exercise.toml", "An exercise's metadata: exercises/<NN-name>/exercise.toml."),
    "bugs.schema.json": ("bugs.toml", "Realistic learner mistakes, as find/replace edits of the reference "
                                      "solution: solutions/<NN-name>/bugs.toml."),
    "mutants.schema.json": ("mutants.toml", "The hidden mutants of a tests-kind exercise, as find/replace edits of "
                                            "the module under test: exercises/<NN-name>/checks/mutants.toml."),
    "equivalent.schema.json": ("equivalent.toml", "Machine-made mutants of the reference solution that behave as it "
                                                  "does, each with a reason: solutions/<NN-name>/equivalent.toml."),
}

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: The repository's copy of the schemas.
FOLDER = Path(__file__).resolve().parent.parent / "schemas"
COMMAND = "python -m runner.schemas"


def _ordered(value: Any, *, declared: bool = False) -> Any:
    """Keys sorted at every level, except property names (``declared``), which keep the models'
    declaration order, the order the files document; lists keep their order."""
    if isinstance(value, dict):
        keys = list(value) if declared else sorted(value)
        return {key: _ordered(value[key], declared=not declared and key == "properties") for key in keys}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema held in ``schemas/<name>``."""
    model = SCHEMAS[name]
    title, description = _ABOUT[name]
    body = _ordered(model.model_json_schema())
    body.pop("title", None)
    body.pop("description", None)
    return {"$schema": DRAFT, "title": title, "description": description, **body}


def render(name: str) -> str:
    """The text of ``schemas/<name>``: stable key order, two-space indent, a trailing newline."""
    return json.dumps(schema(name), indent=2, ensure_ascii=False) + "\n"


def write_all(folder: Path = FOLDER) -> list[Path]:
    """Write every schema into ``folder``; the files whose text changed are returned."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name in SCHEMAS:
        path = folder / name
        text = render(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else FOLDER
    changed = write_all(folder)
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print(f"{folder}: the {len(SCHEMAS)} schemas are up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
