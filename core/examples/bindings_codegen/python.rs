//! `_types.py`: frozen dataclasses (and `TypedDict`s) that parse core's JSON, on the hand-written
//! presentation bases of `trainpod/_present.py`; and `_inputs.py`: the shapes the hand-written
//! `JobSpec` (in `_present.py`) is made of, apart, so that no two modules import each other.

use serde_json::{Map, Value, json};

use super::errors::py_docstring;
use super::{doc, fields, header, non_null, ordered, ref_name, snake, wrap};

/// Python's roots: the results `trainpod.types._decode` builds from core's JSON.
const PY_ROOTS: &[&str] = &[
    "Plan",
    "JobStatus",
    "KeyCheck",
    "DatasetReport",
    "RenderedScript",
    "ArtifactFile",
    "LogLine",
    "WebhookEvent",
    "WebhookReport",
];
/// Python classes written by hand in `trainpod/_present.py` (an input type with its own defaults).
const PY_HANDWRITTEN: &[&str] = &["JobSpec"];
/// Python values kept as dicts (typed as `TypedDict`s), as users index them: `hyperparameters["seed"]`.
const PY_DICTS: &[&str] = &[
    "Hyperparameters",
    "DatasetTokens",
    "ThroughputSource",
    "HeuristicThroughput",
    "MeasuredThroughput",
];
/// Python classes with a presentation base `<Name>View` in `trainpod/_present.py`, and whether that
/// base writes the `repr`.
const PY_VIEWS: &[(&str, bool)] = &[
    ("Plan", true),
    ("JobStatus", false),
    ("DatasetReport", false),
    ("RenderedFile", true),
    ("RenderedScript", true),
];
#[derive(Clone, Copy, PartialEq)]
enum PyKind {
    /// A frozen dataclass with `_from`.
    Class,
    /// A `TypedDict`: the JSON object as it came.
    Dict,
    /// A union of classes, with a `_from_<name>` function.
    Union,
    /// A type alias (string constants, a union of dicts).
    Alias,
    /// Written by hand in `trainpod/_present.py`.
    Handwritten,
}

fn py_kind(defs: &Map<String, Value>, name: &str) -> PyKind {
    let schema = &defs[name];
    if PY_HANDWRITTEN.contains(&name) {
        PyKind::Handwritten
    } else if PY_DICTS.contains(&name) {
        if schema.get("properties").is_some() {
            PyKind::Dict
        } else {
            PyKind::Alias
        }
    } else if schema.get("properties").is_some() {
        PyKind::Class
    } else if schema
        .get("oneOf")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().all(|s| ref_name(s).is_some()))
    {
        PyKind::Union
    } else {
        PyKind::Alias
    }
}

/// The Python type of `schema`; `frozen` makes arrays tuples (in dataclasses, not in dicts).
fn py(defs: &Map<String, Value>, schema: &Value, frozen: bool) -> String {
    if schema == &Value::Bool(true) {
        return "Any".to_owned();
    }
    if let Some(name) = ref_name(schema) {
        return match py_kind(defs, name) {
            PyKind::Handwritten => format!("_present.{name}"),
            _ => name.to_owned(),
        };
    }
    if let Some(value) = schema.get("const") {
        return format!("Literal[{value}]");
    }
    if let Some(Value::Array(alts)) = schema.get("oneOf").or_else(|| schema.get("anyOf")) {
        return alts
            .iter()
            .map(|a| py(defs, a, frozen))
            .collect::<Vec<_>>()
            .join(" | ");
    }
    let types = match &schema["type"] {
        Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
        t => vec![t.as_str().unwrap_or_else(|| panic!("no type in {schema}"))],
    };
    let one = |t: &str| match t {
        "string" => "str".to_owned(),
        "integer" => "int".to_owned(),
        "number" => "float".to_owned(),
        "boolean" => "bool".to_owned(),
        "null" => "None".to_owned(),
        "array" if schema.get("prefixItems").is_some() => {
            let items = schema["prefixItems"].as_array().into_iter().flatten();
            format!(
                "tuple[{}]",
                items
                    .map(|s| py(defs, s, frozen))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        "array" if frozen => format!("tuple[{}, ...]", py(defs, &schema["items"], frozen)),
        "array" => format!("list[{}]", py(defs, &schema["items"], frozen)),
        "object" => "dict[str, Any]".to_owned(),
        other => panic!("no Python type for {other}"),
    };
    types.into_iter().map(one).collect::<Vec<_>>().join(" | ")
}

/// A function from a field's JSON to its Python value; `None` where the JSON is the value.
fn py_convert(defs: &Map<String, Value>, schema: &Value) -> Option<String> {
    if let Some(inner) = non_null(schema) {
        return py_convert(defs, &inner).map(|f| format!("lambda v: _opt(v, {f})"));
    }
    if let Some(name) = ref_name(schema) {
        return match py_kind(defs, name) {
            PyKind::Class => Some(format!("{name}._from")),
            PyKind::Handwritten => Some(format!("_present.{name}._from")),
            PyKind::Union => Some(format!("_from_{}", snake(name))),
            PyKind::Dict | PyKind::Alias => None,
        };
    }
    if schema.get("type") == Some(&json!("array")) {
        return Some(
            match schema
                .get("items")
                .and_then(|items| py_convert(defs, items))
            {
                Some(f) => format!("lambda v: tuple({f}(i) for i in v)"),
                None => "tuple".to_owned(),
            },
        );
    }
    None
}

/// The expression that makes a field's value from its JSON, `json`.
fn py_parse(defs: &Map<String, Value>, schema: &Value, json: &str) -> String {
    if let Some(inner) = non_null(schema) {
        return match py_convert(defs, &inner) {
            Some(f) => format!("_opt({json}, {f})"),
            None => json.to_owned(),
        };
    }
    if schema.get("type") == Some(&json!("array")) {
        return match schema
            .get("items")
            .and_then(|items| py_convert(defs, items))
        {
            Some(f) => format!("tuple({f}(v) for v in {json})"),
            None => format!("tuple({json})"),
        };
    }
    match py_convert(defs, schema) {
        Some(f) => format!("{f}({json})"),
        None => json.to_owned(),
    }
}

/// `#:` comment lines (Sphinx's attribute docs) at `indent`.
fn py_comment(text: &str, indent: &str) -> String {
    let text = text.replace('`', "``");
    wrap(&text, 97 - indent.len())
        .iter()
        .map(|l| format!("{indent}#: {l}\n").replace("#: \n", "#:\n"))
        .collect()
}

/// The shapes the hand-written classes are made of (`DatasetRef`, `Method`, ...), dependencies
/// first.
fn input_names(defs: &Map<String, Value>) -> Vec<&str> {
    ordered(defs, PY_HANDWRITTEN)
        .into_iter()
        .filter(|name| py_kind(defs, name) != PyKind::Handwritten)
        .collect()
}

/// `_inputs.py`.
pub fn inputs(defs: &Map<String, Value>) -> String {
    let body = emit(defs, &input_names(defs));
    let head = format!(
        "{}\"\"\"The shapes a ``JobSpec`` is made of, built from core's JSON like the rest of\n\
         :mod:`trainpod._types`, in a module of their own: ``JobSpec`` (in :mod:`trainpod._present`)\n\
         uses them, and :mod:`trainpod._types` uses ``JobSpec``.\n\"\"\"\n\n\
         from __future__ import annotations\n\n{}\n{}",
        header("#"),
        standard_imports(&body),
        imports("trainpod._parse", &["_known", "_opt"], &body),
    );
    checked("_inputs.py", after_imports(head, &body))
}

/// `_types.py`.
pub fn types(defs: &Map<String, Value>) -> String {
    let inputs = input_names(defs);
    let names: Vec<&str> = ordered(defs, PY_ROOTS)
        .into_iter()
        .filter(|name| !inputs.contains(name))
        .collect();
    let body = emit(defs, &names);
    let from_inputs: Vec<String> = inputs
        .iter()
        .flat_map(|name| [name.to_string(), format!("_from_{}", snake(name))])
        .collect();
    let from_inputs: Vec<&str> = from_inputs.iter().map(String::as_str).collect();
    let head = format!(
        "{}\"\"\"The values core's results cross as, built from core's JSON: frozen dataclasses (and\n\
         ``TypedDict`` classes where a value is a dict), each field as core documents it. Their\n\
         presentation (``describe``, ``_repr_html_``, ...) is their base in :mod:`trainpod._present`.\n\"\"\"\n\n\
         from __future__ import annotations\n\n{}\n\
         from trainpod import _present\n{}{}",
        header("#"),
        standard_imports(&body),
        imports("trainpod._inputs", &from_inputs, &body),
        imports("trainpod._parse", &["_known", "_opt"], &body),
    );
    checked("_types.py", after_imports(head, &body))
}

/// The classes and aliases of `names`, in order.
fn emit(defs: &Map<String, Value>, names: &[&str]) -> String {
    let mut out = String::new();
    for &name in names {
        out += &match py_kind(defs, name) {
            PyKind::Handwritten => continue,
            kind @ (PyKind::Class | PyKind::Dict) => class(defs, name, kind),
            kind => alias(defs, name, kind),
        };
    }
    out
}

/// `from <module> import ...` of those of `names` that `body` uses, one per line (ruff's
/// isort style for a long list).
fn imports(module: &str, names: &[&str], body: &str) -> String {
    let used: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| uses(body, name))
        .collect();
    let one = format!("from {module} import {}\n", used.join(", "));
    match used.len() {
        0 => String::new(),
        _ if one.len() <= 101 => one,
        _ => format!(
            "from {module} import (\n{})\n",
            used.iter()
                .map(|n| format!("    {n},\n"))
                .collect::<String>()
        ),
    }
}

/// The standard library's names `body` uses.
fn standard_imports(body: &str) -> String {
    imports("collections.abc", &["Mapping"], body)
        + &imports("dataclasses", &["dataclass"], body)
        + &imports(
            "typing",
            &["Any", "Literal", "TypeAlias", "TypedDict"],
            body,
        )
}

/// Whether `body` names `name` as a whole word.
fn uses(body: &str, name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    body.match_indices(name).any(|(i, _)| {
        let before = body[..i].chars().next_back();
        let after = body[i + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// `head` then `body`, the blank lines between them as ruff's formatter leaves them: two before a
/// class or function, one before an assignment.
fn after_imports(head: String, body: &str) -> String {
    let first = body.trim_start_matches('\n');
    let blank = if first.starts_with(['@', 'c', 'd']) {
        "\n\n"
    } else {
        "\n"
    };
    head + blank + first
}

/// `text`, after checking that every line fits in 100 columns.
fn checked(file: &str, text: String) -> String {
    for (i, line) in text.lines().enumerate() {
        assert!(
            line.chars().count() <= 100,
            "{file}:{}: over 100 columns: {line}",
            i + 1
        );
    }
    text
}

/// A dataclass, parsed by `_from`, or a `TypedDict`.
fn class(defs: &Map<String, Value>, name: &str, kind: PyKind) -> String {
    let schema = &defs[name];
    let view = PY_VIEWS.iter().find(|(n, _)| *n == name);
    let mut out = String::from("\n\n");
    if kind == PyKind::Dict {
        out += &format!("class {name}(TypedDict):\n");
    } else {
        let repr = if view.is_some_and(|(_, own)| *own) {
            ", repr=False"
        } else {
            ""
        };
        let base = view
            .map(|_| format!("(_present.{name}View)"))
            .unwrap_or_default();
        out += &format!("@dataclass(frozen=True{repr})\nclass {name}{base}:\n");
    }
    out += &py_docstring(&doc(schema), "    ");
    out += "\n";
    let fields = fields(schema);
    // A tag (`kind: Literal["app"]`) has its only value as default, so it goes last.
    let (tags, rest): (Vec<_>, Vec<_>) = fields
        .iter()
        .partition(|(_, s, _)| kind == PyKind::Class && s.get("const").is_some());
    for &&(key, field, required) in rest.iter().chain(&tags) {
        assert!(
            required || kind == PyKind::Class,
            "{name}.{key}: a dict field that may be absent"
        );
        out += &py_comment(&doc(field), "    ");
        let default = match (field.get("const"), required) {
            (Some(value), _) if kind == PyKind::Class => format!(" = {value}"),
            (Some(_), _) => String::new(),
            (None, false) => " = None".to_owned(),
            (None, true) => String::new(),
        };
        let mut ty = py(defs, field, kind == PyKind::Class);
        if !required && !ty.ends_with("None") {
            ty += " | None";
        }
        out += &format!("    {key}: {ty}{default}\n");
    }
    if kind == PyKind::Class {
        out += &format!(
            "\n    @classmethod\n    def _from(cls, d: Mapping[str, Any]) -> {name}:\n        \
             _known(cls, d)\n        return cls(\n"
        );
        for &(key, field, required) in &fields {
            let json = if required {
                format!("d[\"{key}\"]")
            } else {
                format!("d.get(\"{key}\")")
            };
            out += &format!("            {key}={},\n", py_parse(defs, field, &json));
        }
        out += "        )\n";
    }
    out
}

/// A type alias, and for a union of classes the function that parses it.
fn alias(defs: &Map<String, Value>, name: &str, kind: PyKind) -> String {
    let schema = &defs[name];
    let mut out = format!("\n\n{}", py_comment(&doc(schema), ""));
    let alts: Vec<String> = match schema.get("oneOf").or_else(|| schema.get("anyOf")) {
        Some(Value::Array(alts)) => alts.iter().map(|a| py(defs, a, false)).collect(),
        _ => vec![py(defs, schema, false)],
    };
    let literals: Vec<&str> = alts
        .iter()
        .filter_map(|a| a.strip_prefix("Literal[")?.strip_suffix(']'))
        .collect();
    let line = if literals.len() == alts.len() {
        format!("{name}: TypeAlias = Literal[{}]", literals.join(", "))
    } else {
        format!("{name}: TypeAlias = {}", alts.join(" | "))
    };
    if line.len() <= 100 {
        out += &format!("{line}\n");
    } else if literals.len() == alts.len() {
        out += &format!("{name}: TypeAlias = Literal[\n");
        literals.iter().for_each(|l| out += &format!("    {l},\n"));
        out += "]\n";
    } else {
        out += &format!("{name}: TypeAlias = (\n    {}\n)\n", alts.join("\n    | "));
    }
    if kind == PyKind::Union {
        let f = snake(name);
        out += &format!("\n\ndef _from_{f}(d: Mapping[str, Any]) -> {name}:\n");
        for variant in schema["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(ref_name)
        {
            let (tag, value) = fields(&defs[variant])
                .into_iter()
                .find_map(|(k, s, _)| Some((k, s.get("const")?)))
                .expect("a tagged variant");
            out += &format!("    if d[\"{tag}\"] == {value}:\n        return {variant}._from(d)\n");
        }
        out += &format!("    raise ValueError(f\"not a {name}: {{d!r}}\")\n");
    }
    out
}
