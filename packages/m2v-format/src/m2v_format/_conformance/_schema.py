"""Case files checked against ``case.schema.json``: a subset of JSON Schema 2020-12.

The runner depends on the standard library only: this validator supports the keywords
``case.schema.json`` uses.
"""

from __future__ import annotations

import re
from typing import Any

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "number": (int, float),
    "integer": (int,),
}


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("number", "integer"):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES[name])


def schema_errors(value: Any, schema: Any, root: Any | None = None, where: str = "$") -> list[str]:
    """Errors of ``value`` against ``schema`` (a subset of JSON Schema 2020-12).

    Supported: boolean schemas, $ref to "#/$defs/...", type, const, enum, required,
    properties, additionalProperties, items, minItems, minLength, pattern, minimum,
    if/then/else.  Unknown keywords are ignored, as JSON Schema says.
    """
    root = schema if root is None else root
    if schema is True:
        return []
    if schema is False:
        return [f"{where}: not allowed here"]
    if not isinstance(schema, dict):
        return [f"{where}: invalid schema {schema!r}"]
    if "$ref" in schema:
        ref = str(schema["$ref"])
        if not ref.startswith("#/$defs/"):
            return [f"{where}: unsupported $ref {ref}"]
        return schema_errors(value, root["$defs"][ref.removeprefix("#/$defs/")], root, where)

    errors: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, n) for n in names):
            return [f"{where}: expected {' or '.join(names)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: must be one of {schema['enum']!r}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if _is_type(value, "number") and "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: {value} is less than {schema['minimum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], root, f"{where}[{i}]")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing required key {key!r}")
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], root, f"{where}.{key}")
            elif "additionalProperties" in schema:
                errors += schema_errors(
                    item, schema["additionalProperties"], root, f"{where}.{key}"
                )
    if "if" in schema:
        branch = "then" if not schema_errors(value, schema["if"], root, where) else "else"
        if branch in schema:
            errors += schema_errors(value, schema[branch], root, where)
    return errors
