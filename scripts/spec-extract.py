"""Make the schema-only extract of RunPod's REST v2 OpenAPI document that the contract tests read.

usage: spec-extract.py FULL.json OUT.json [--commit SHA --date YYYY-MM-DD]

Keeps what a validator needs (paths, methods, parameters, request bodies, responses, headers,
security schemes, components, and in schemas every keyword but the annotations) and drops the
documentation: description, summary, title (in schemas), example(s), externalDocs, $comment,
x-codeSamples and components/examples. The document is walked by the OpenAPI 3.1 object each
value is, so a key is dropped only where it is documentation: a schema property, parameter or
header named `description` is kept, and instance values (enum, const, default) are copied as
they are. A key the walker does not know stops it, so nothing new is kept or dropped unseen.
Output: sorted keys, 2-space indent, a trailing newline, with a top-level "x-source" naming the
source. The source's blob id is computed from FULL.json; a document other than the known one
needs --commit and --date.
"""

import argparse
import hashlib
import json
import sys

SOURCE = {
    "repository": "runpod/docs",
    "path": "api-reference-v2/openapi.json",
    "blob": "c871056529f969f71a8fa765511fe3f3131d1503",
    "commit": "098c7fb0",
    "date": "2026-08-18",
}

# Documentation keys of OpenAPI objects (a Reference object's summary and description included).
DOC = {"description", "summary", "example", "examples", "externalDocs", "x-codeSamples"}
# Schema annotations that are documentation only; default, deprecated, readOnly and writeOnly
# stay.
SCHEMA_DOC = DOC | {"title", "$comment"}
# Schema keywords whose value is a schema, a list of schemas, or a map of name to schema.
SUBSCHEMA = {
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
}
SUBSCHEMA_LIST = {"allOf", "anyOf", "oneOf", "prefixItems"}
SUBSCHEMA_MAP = {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
# Schema keywords copied verbatim (their values are constraints or instances, never walked).
SCHEMA_VALUE = {
    "$ref",
    "$dynamicRef",
    "$id",
    "$anchor",
    "$dynamicAnchor",
    "$schema",
    "type",
    "enum",
    "const",
    "default",
    "format",
    "pattern",
    "required",
    "dependentRequired",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minContains",
    "maxContains",
    "minProperties",
    "maxProperties",
    "contentEncoding",
    "contentMediaType",
    "deprecated",
    "readOnly",
    "writeOnly",
    "nullable",
    "discriminator",
    "xml",
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class UnknownKeyError(Exception):
    pass


def walk_object(obj, where, fields):
    """An OpenAPI object: documentation keys dropped, `fields` maps each other key to how its
    value is walked (None: copied verbatim); x- extensions are copied."""
    if not isinstance(obj, dict):
        raise UnknownKeyError(f"{where}: expected an object")
    out = {}
    for key, value in obj.items():
        at = pointer(where, key)
        if key in DOC:
            continue
        if key in fields:
            walk = fields[key]
            out[key] = value if walk is None else walk(value, at)
        elif key.startswith("x-"):
            out[key] = value
        else:
            raise UnknownKeyError(f"{at}: unknown key")
    return out


def pointer(where, key):
    return f"{where}/{key.replace('~', '~0').replace('/', '~1')}"


def each(walk):
    def mapped(value, where):
        if not isinstance(value, dict):
            raise UnknownKeyError(f"{where}: expected a map")
        return {k: walk(v, pointer(where, k)) for k, v in value.items()}

    return mapped


def listed(walk):
    def mapped(value, where):
        if not isinstance(value, list):
            raise UnknownKeyError(f"{where}: expected a list")
        return [walk(v, f"{where}/{i}") for i, v in enumerate(value)]

    return mapped


def schema(s, where):
    if isinstance(s, bool):
        return s
    if not isinstance(s, dict):
        raise UnknownKeyError(f"{where}: expected a schema")
    out = {}
    for key, value in s.items():
        at = pointer(where, key)
        if key in SCHEMA_DOC:
            continue
        if key in SUBSCHEMA:
            # `items` as a list is draft-04 tuple validation.
            out[key] = listed(schema)(value, at) if isinstance(value, list) else schema(value, at)
        elif key in SUBSCHEMA_LIST:
            out[key] = listed(schema)(value, at)
        elif key in SUBSCHEMA_MAP:
            out[key] = each(schema)(value, at)
        elif key in SCHEMA_VALUE or key.startswith("x-"):
            out[key] = value
        else:
            raise UnknownKeyError(f"{at}: unknown schema keyword")
    return out


def server(s, where):
    variable = lambda v, at: walk_object(v, at, {"enum": None, "default": None})  # noqa: E731
    return walk_object(s, where, {"url": None, "variables": each(variable)})


def media_type(m, where):
    encoding = lambda e, at: walk_object(  # noqa: E731
        e,
        at,
        {
            "contentType": None,
            "headers": each(header),
            "style": None,
            "explode": None,
            "allowReserved": None,
        },
    )
    return walk_object(m, where, {"schema": schema, "encoding": each(encoding)})


PARAMETER_FIELDS = {
    "$ref": None,
    "name": None,
    "in": None,
    "required": None,
    "deprecated": None,
    "allowEmptyValue": None,
    "style": None,
    "explode": None,
    "allowReserved": None,
    "schema": schema,
    "content": each(media_type),
}


def parameter(p, where):
    return walk_object(p, where, PARAMETER_FIELDS)


def header(h, where):
    return walk_object(h, where, PARAMETER_FIELDS)


def request_body(b, where):
    return walk_object(b, where, {"$ref": None, "content": each(media_type), "required": None})


def link(lk, where):
    fields = {
        "$ref": None,
        "operationRef": None,
        "operationId": None,
        "parameters": None,
        "requestBody": None,
        "server": server,
    }
    return walk_object(lk, where, fields)


def response(r, where):
    fields = {
        "$ref": None,
        "headers": each(header),
        "content": each(media_type),
        "links": each(link),
    }
    return walk_object(r, where, fields)


def operation(op, where):
    fields = {
        "tags": None,
        "operationId": None,
        "parameters": listed(parameter),
        "requestBody": request_body,
        "responses": each(response),
        "callbacks": each(callback),
        "deprecated": None,
        "security": None,
        "servers": listed(server),
    }
    return walk_object(op, where, fields)


def path_item(item, where):
    fields = {"$ref": None, "servers": listed(server), "parameters": listed(parameter)}
    fields.update(dict.fromkeys(HTTP_METHODS, operation))
    return walk_object(item, where, fields)


def callback(c, where):
    if isinstance(c, dict) and "$ref" in c:
        return walk_object(c, where, {"$ref": None})
    return each(path_item)(c, where)


def security_scheme(s, where):
    fields = {
        "$ref": None,
        "type": None,
        "name": None,
        "in": None,
        "scheme": None,
        "bearerFormat": None,
        "flows": None,
        "openIdConnectUrl": None,
    }
    return walk_object(s, where, fields)


def components(c, where):
    fields = {
        "schemas": each(schema),
        "responses": each(response),
        "parameters": each(parameter),
        "requestBodies": each(request_body),
        "headers": each(header),
        "securitySchemes": each(security_scheme),
        "links": each(link),
        "callbacks": each(callback),
        "pathItems": each(path_item),
    }
    # Named examples are documentation: dropped with their references (`examples` keys).
    c = {k: v for k, v in c.items() if k != "examples"}
    return walk_object(c, where, fields)


def document(doc):
    info = lambda i, at: walk_object(  # noqa: E731
        {k: v for k, v in i.items() if k not in ("termsOfService", "contact")},
        at,
        {"title": None, "version": None, "license": None},
    )
    tag = lambda t, at: walk_object(t, at, {"name": None})  # noqa: E731
    fields = {
        "openapi": None,
        "jsonSchemaDialect": None,
        "info": info,
        "servers": listed(server),
        "paths": each(path_item),
        "webhooks": each(path_item),
        "components": components,
        "security": None,
        "tags": listed(tag),
    }
    return walk_object(doc, "", fields)


def git_blob(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("full", help="the full OpenAPI document (JSON)")
    ap.add_argument("out", help="where to write the extract")
    ap.add_argument("--repository", default=SOURCE["repository"])
    ap.add_argument("--path", default=SOURCE["path"])
    ap.add_argument("--commit", help=f"the source commit (default {SOURCE['commit']})")
    ap.add_argument("--date", help=f"the source commit's date (default {SOURCE['date']})")
    args = ap.parse_args(argv)
    with open(args.full, "rb") as f:
        data = f.read()
    blob = git_blob(data)
    if blob != SOURCE["blob"] and (args.commit is None or args.date is None):
        sys.exit(
            f"{args.full} is blob {blob}, not {SOURCE['blob']} ({SOURCE['commit']}): "
            "pass --commit and --date for it"
        )
    try:
        out = document(json.loads(data))
    except UnknownKeyError as e:
        sys.exit(f"{args.full}: {e}")
    out["x-source"] = {
        "repository": args.repository,
        "path": args.path,
        "blob": blob,
        "commit": args.commit or SOURCE["commit"],
        "date": args.date or SOURCE["date"],
        "extract": "schema-only: documentation text dropped by scripts/spec-extract.py",
    }
    text = json.dumps(out, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
