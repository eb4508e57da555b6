"""The JSON Schemas under schemas/ are generated from the catalog's models and kept in step with them,
and every TOML file of the catalog points its editor at the right one."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from runner import schemas

REPO = Path(__file__).resolve().parent.parent
#: Each kind of TOML file of the catalog, and the schema its first line must name.
TOML_FILES = {
    "exercises/*/exercise.toml": "exercise.schema.json",
    "solutions/*/bugs.toml": "bugs.schema.json",
    "exercises/*/checks/mutants.toml": "mutants.schema.json",
    "solutions/*/equivalent.toml": "equivalent.schema.json",
}
FILES = [(path, name) for pattern, name in TOML_FILES.items() for path in sorted(REPO.glob(pattern))]


@pytest.mark.parametrize("name", sorted(schemas.SCHEMAS))
def test_schema_file_is_up_to_date(name: str) -> None:
    """schemas/<name> is what the models say today."""
    path = schemas.FOLDER / name
    assert path.is_file(), f"{path} is missing: run `{schemas.COMMAND}` to write it"
    assert path.read_text(encoding="utf-8") == schemas.render(name), (
        f"{path.relative_to(REPO)} is stale (the models of runner/catalog.py changed): run `{schemas.COMMAND}` "
        "and commit the result")


def test_schemas_are_stable_and_say_what_they_describe() -> None:
    """Two renders agree byte for byte; each has the draft, a title, a description and a trailing newline."""
    for name in schemas.SCHEMAS:
        text = schemas.render(name)
        assert text == schemas.render(name) and text.endswith("}\n")
        data = json.loads(text)
        assert list(data)[:3] == ["$schema", "title", "description"]
        assert data["$schema"] == schemas.DRAFT and data["additionalProperties"] is False


def test_every_field_has_a_description() -> None:
    """Editors show a field's description as its help: none is left without one."""
    missing = []
    for name in schemas.SCHEMAS:
        data = schemas.schema(name)
        for owner, body in [(name, data), *data.get("$defs", {}).items()]:
            for field, spec in body.get("properties", {}).items():
                if not spec.get("description"):
                    missing.append(f"{owner}.{field}")
    assert missing == []


def test_write_all_writes_the_files(tmp_path: Path) -> None:
    """`python -m runner.schemas` writes every file, and a second run changes nothing."""
    assert sorted(p.name for p in schemas.write_all(tmp_path)) == sorted(schemas.SCHEMAS)
    assert schemas.write_all(tmp_path) == []
    assert schemas.main([str(tmp_path)]) == 0


def test_the_catalog_has_files_of_each_kind() -> None:
    assert {name for _, name in FILES} >= {"exercise.schema.json", "bugs.schema.json", "mutants.schema.json"}


@pytest.mark.parametrize(("path", "name"), FILES, ids=[str(p.relative_to(REPO)) for p, _ in FILES])
def test_toml_file_names_its_schema(path: Path, name: str) -> None:
    """The first line is taplo's `#:schema` directive, with a path relative to the file that exists."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("#:schema "), f"{path}: the first line must be `#:schema <relative path>/{name}`"
    target = (path.parent / first.removeprefix("#:schema ").strip()).resolve()
    assert target == schemas.FOLDER / name, f"{path}: {first!r} points at {target}, not schemas/{name}"


@pytest.mark.parametrize(("path", "name"), FILES, ids=[str(p.relative_to(REPO)) for p, _ in FILES])
def test_toml_file_satisfies_its_schema(path: Path, name: str) -> None:
    """What the runner accepts, the editor does not flag (and a typo'd key is flagged)."""
    jsonschema = pytest.importorskip("jsonschema")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schemas.schema(name))
    assert [error.message for error in validator.iter_errors(data)] == []
    assert any("additional" in error.message.lower()
               for error in validator.iter_errors({**data, "format_verison": 1}))
