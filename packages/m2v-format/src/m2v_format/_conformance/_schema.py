"""JSON documents checked against the suite's schemas with the ``jsonschema`` library.

Case files are checked against ``case.schema.json``, each line the reader writes against
``response.schema.json``.  One deviation from jsonschema's defaults: an ``integer`` is a
JSON number written without a fraction or an exponent (``1``, not ``1.0`` or ``1e0``, which
jsonschema would accept), so a reader that returns token ids as floats is caught; booleans
are neither integers nor numbers, as in JSON Schema.

``jsonschema`` comes with m2v-format's optional extra ``conformance`` (nothing else in the
package needs it): it is imported here, when a suite is checked, and its absence is a
:class:`m2v_format.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from m2v_format._errors import MissingDependencyError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

INSTALL_HINT = 'pip install "m2v-format[conformance]"'


def schema_errors(value: Any, schema: Any) -> list[str]:
    """Every error of ``value`` against ``schema`` (JSON Schema draft 2020-12), as text.

    Each error is ``PATH: MESSAGE``, PATH being the JSON path of the value at fault (``$``,
    ``$.inputs.max_length``, ``$.rules[0]``); an empty list means ``value`` is valid.
    """
    return schema_checker(schema)(value)


def schema_checker(schema: Any) -> Callable[[Any], list[str]]:
    """:func:`schema_errors` against ``schema``, built once for many values.

    ``schema`` is assumed valid (see :func:`schema_problems`).
    """
    validator = _validator_class()(schema)
    return functools.partial(_messages, validator)


def schema_problems(schema: Any) -> list[str]:
    """Why ``schema`` is not a valid draft 2020-12 schema, in the same form (empty if it is)."""
    validator_class = _validator_class()
    return _messages(validator_class(validator_class.META_SCHEMA), schema)


def _messages(validator: Validator, value: Any) -> list[str]:
    """``PATH: MESSAGE`` for every error ``validator`` finds in ``value``."""
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(value)]


def _validator_class() -> type[Validator]:
    """jsonschema's draft 2020-12 validator, each error at its path; needs jsonschema.

    jsonschema (4.26) reports a value that a ``false`` subschema of ``properties`` refuses
    without its path (``$`` instead of ``$.error_code``): this validator reports it at the
    property, with jsonschema's own message.  Its ``integer`` is strict: a Python ``int``
    (what ``json.loads`` makes of ``1``), never a float such as ``1.0`` nor a ``bool``.
    """
    try:
        from jsonschema import Draft202012Validator, ValidationError, validators
    except ImportError:
        raise MissingDependencyError(
            f"checking a conformance suite needs jsonschema: {INSTALL_HINT}"
        ) from None
    base = Draft202012Validator.VALIDATORS["properties"]

    def properties(
        validator: Validator, properties: Mapping[str, Any], instance: Any, schema: Any
    ) -> Iterator[ValidationError]:
        """jsonschema's ``properties``, with the path of each value a ``false`` refuses."""
        if validator.is_type(instance, "object"):
            for name, subschema in properties.items():
                if subschema is False and name in instance:
                    message = f"False schema does not allow {instance[name]!r}"
                    yield ValidationError(message, path=[name], instance=instance[name])
        kept = {name: subschema for name, subschema in properties.items() if subschema is not False}
        yield from base(validator, kept, instance, schema)

    type_checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_json_integer)
    extended: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]  # untyped in the stubs
        Draft202012Validator, {"properties": properties}, type_checker=type_checker
    )
    return extended


def _is_json_integer(checker: object, instance: object) -> bool:
    """A JSON integer: ``json.loads`` gives ``int`` for ``1`` and ``float`` for ``1.0``."""
    return isinstance(instance, int) and not isinstance(instance, bool)
