#!/usr/bin/env python3
"""Checks a ci-attest bundle's statement against the in-toto Statement v1 shape and
docs/predicate.schema.json, with the `jsonschema` package (an implementation we did not write).

Usage: python3 validate_statement.py <bundle.json> <predicate.schema.json>
Exit status: 0 and "VALID"; 1 and "INVALID: <reason>"; 2 on a usage or environment error.
"""

import base64
import json
import sys

try:
    import jsonschema
except ImportError as err:  # pragma: no cover - environment problem
    print(f"cannot import jsonschema (run tests/interop/install.sh): {err}", file=sys.stderr)
    sys.exit(2)

# The parts of in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)
# that a ci-attest statement uses, as a schema.
STATEMENT_V1 = {
    "type": "object",
    "required": ["_type", "subject", "predicateType", "predicate"],
    "properties": {
        "_type": {"const": "https://in-toto.io/Statement/v1"},
        "subject": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["digest"],
                "properties": {
                    "name": {"type": "string"},
                    "digest": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]+$"},
                    },
                },
            },
        },
        "predicateType": {"type": "string", "format": "uri"},
        "predicate": {"type": "object"},
    },
}


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        bundle = json.load(f)
    with open(sys.argv[2], "rb") as f:
        schema = json.load(f)
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"], validate=True))
    try:
        jsonschema.validate(statement, STATEMENT_V1)
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(statement["predicate"])
    except jsonschema.ValidationError as err:
        print(f"INVALID: {err.message} at {list(err.absolute_path)}")
        return 1
    print("VALID")
    return 0


if __name__ == "__main__":
    sys.exit(main())
