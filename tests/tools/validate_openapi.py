#!/usr/bin/env python3
"""Validates an OpenAPI 3.0 document against the specification's own JSON Schema.

The schema is the OpenAPI Initiative's (Debian package openapi-specification, schemas/v3.0/
schema.json, JSON Schema draft 4); the validator is python3-jsonschema. Beyond the schema, every
operation must have an operationId, unique across the document (client generators need them).

Usage: validate_openapi.py DOCUMENT [SCHEMA]
Exit 0 when valid; 1 with one line per problem (its JSON path and the message); 2 on bad usage.
"""
import json
import sys

import jsonschema

DEFAULT_SCHEMA = "/usr/share/openapi-specification/schemas/v3.0/schema.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def path_of(error):
    return "/" + "/".join(str(p) for p in error.absolute_path)


def operation_problems(doc):
    problems, seen = [], {}
    for path, item in sorted(doc.get("paths", {}).items()):
        for method in METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            if not isinstance(op, dict):
                continue
            where = "/paths/%s/%s" % (path.replace("~", "~0").replace("/", "~1"), method)
            oid = op.get("operationId")
            if not oid:
                problems.append("%s: no operationId" % where)
            elif oid in seen:
                problems.append("%s: operationId %r also used by %s" % (where, oid, seen[oid]))
            else:
                seen[oid] = where
    return problems


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    schema_path = argv[2] if len(argv) == 3 else DEFAULT_SCHEMA
    try:
        with open(argv[1]) as f:
            doc = json.load(f)
        with open(schema_path) as f:
            schema = json.load(f)
    except (OSError, ValueError) as e:
        print("validate_openapi: %s" % e, file=sys.stderr)
        return 2
    validator = jsonschema.Draft4Validator(schema)
    problems = ["%s: %s" % (path_of(e), e.message) for e in sorted(validator.iter_errors(doc), key=path_of)]
    problems += operation_problems(doc)
    for p in problems:
        print("%s%s" % (argv[1] + ":", p))
    if not problems:
        ops = sum(1 for item in doc.get("paths", {}).values() for m in METHODS if m in item)
        print("%s: valid OpenAPI %s (%d paths, %d operations)" % (argv[1], doc.get("openapi"), len(doc.get("paths", {})), ops))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
