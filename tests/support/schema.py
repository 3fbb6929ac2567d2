"""The OCI runtime-spec JSON schema, resolved locally."""
from __future__ import annotations

import json
import pathlib
from typing import Any

import jsonschema

from .conformance import REPO

SHARED_SCHEMA = REPO.parent / "shared" / "runtime-spec-schema"
VENDORED_SCHEMA = REPO / "tests" / "schema"


def schema_dir() -> pathlib.Path:
    """../shared/runtime-spec-schema when it exists, else tests/schema."""
    return SHARED_SCHEMA if SHARED_SCHEMA.is_dir() else VENDORED_SCHEMA


def config_validator() -> Any:
    """A draft-04 validator for config-schema.json whose relative $refs
    (defs.json#/..., config-linux.json#/...) resolve to the files beside it,
    never over the network."""
    directory = schema_dir()
    documents = {path.resolve().as_uri(): json.loads(path.read_text())
                 for path in directory.glob("*.json")}
    main_uri = (directory / "config-schema.json").resolve().as_uri()
    schema = documents[main_uri]
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4
        registry = Registry().with_resources(
            (uri, Resource.from_contents(doc, default_specification=DRAFT4))
            for uri, doc in documents.items())
        return validator_class({"$ref": main_uri}, registry=registry)
    except ImportError:  # Debian 12: jsonschema 4.10
        resolver = jsonschema.RefResolver(base_uri=main_uri, referrer=schema, store=documents)
        return validator_class(schema, resolver=resolver)


def schema_errors(validator: Any, config: Any) -> list[str]:
    """Every way config breaks the schema, one line each ("" if valid)."""
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    return ["$" + "".join(f"[{p!r}]" for p in e.absolute_path) + ": " + e.message
            for e in errors]
