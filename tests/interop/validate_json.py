#!/usr/bin/env python3
"""Validates a JSON document against a JSON Schema (2020-12) with the `jsonschema` package.

Usage: python3 validate_json.py <document.json> <schema.json>
Exit status: 0 and "VALID"; 1 and "INVALID: <reason>"; 2 on a usage or environment error.
"""

import json
import sys

try:
    import jsonschema
except ImportError as err:  # pragma: no cover - environment problem
    print(f"cannot import jsonschema (run tests/interop/install.sh): {err}", file=sys.stderr)
    sys.exit(2)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        document = json.load(f)
    with open(sys.argv[2], "rb") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    try:
        jsonschema.Draft202012Validator(schema).validate(document)
    except jsonschema.ValidationError as err:
        print(f"INVALID: {err.message} at {list(err.absolute_path)}")
        return 1
    print("VALID")
    return 0


if __name__ == "__main__":
    sys.exit(main())
