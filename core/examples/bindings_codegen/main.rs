//! Writes the bindings' generated files from core's own types, so that no binding restates them:
//!
//! - the error classes, one per [`ErrorGroup`] with each [`ErrorKind`] under its group's class:
//!   `bindings-python/python/trainpod/exceptions.py`, `bindings-node/errors.js` and `errors.d.ts`;
//! - the plain objects core's results cross as, from the JSON Schemas of core's serde types (their
//!   doc comments included): `bindings-node/types.d.ts` (camelCase keys, as `bindings-node/src/
//!   json.rs` renames them) and `bindings-python/python/trainpod/_types.py` (frozen dataclasses,
//!   with the hand-written presentation of `trainpod/_present.py` as their bases).
//!
//! Run: `cargo run -p trainpod --example bindings_codegen --features schema`. The output depends on
//! nothing but the types, and CI (`scripts/test.sh`) fails when a committed copy differs from it.

mod errors;
mod python;
mod typescript;

use std::collections::BTreeSet;
use std::path::Path;

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use trainpod::{ErrorGroup, ErrorKind};

/// The first lines of every generated file, after the language's comment marker.
const HEADER: [&str; 2] = [
    "Generated from core's types by",
    "`cargo run -p trainpod --example bindings_codegen --features schema`: do not edit.",
];

fn header(marker: &str) -> String {
    HEADER
        .iter()
        .map(|line| format!("{marker} {line}\n"))
        .collect()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository root");
    let defs = definitions();
    let outputs = [
        (
            "bindings-python/python/trainpod/exceptions.py",
            errors::python(&defs),
        ),
        (
            "bindings-python/python/trainpod/_types.py",
            python::types(&defs),
        ),
        (
            "bindings-python/python/trainpod/_inputs.py",
            python::inputs(&defs),
        ),
        ("bindings-node/errors.js", errors::javascript(&defs)),
        ("bindings-node/errors.d.ts", errors::declarations(&defs)),
        ("bindings-node/types.d.ts", typescript::types(&defs)),
    ];
    for (path, text) in outputs {
        std::fs::write(root.join(path), text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

/// The schemas of every type the bindings name, by name (as core serializes them: an `Option`
/// field is always there, `null` or not). The titled variants of a tagged enum become types of
/// their own (`AppDataset`), and the enum their union.
fn definitions() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    generator.subschema_for::<trainpod::Plan>();
    generator.subschema_for::<trainpod::sdk::JobStatus>();
    generator.subschema_for::<trainpod::sdk::KeyCheck>();
    generator.subschema_for::<trainpod::dataset::DatasetReport>();
    generator.subschema_for::<trainpod::script::RenderedScript>();
    generator.subschema_for::<trainpod::script::PodRuntime>();
    generator.subschema_for::<trainpod::jobs::Event>();
    generator.subschema_for::<trainpod::runpod::LogEvent>();
    generator.subschema_for::<trainpod::sdk::ArtifactFile>();
    generator.subschema_for::<trainpod::webhooks::WebhookEvent>();
    generator.subschema_for::<trainpod::webhooks::WebhookReport>();
    generator.subschema_for::<ErrorKind>();
    generator.subschema_for::<ErrorGroup>();
    let mut defs = generator.definitions().clone();
    // A pod runtime is given as overrides of core's defaults: each field says its default.
    let runtime =
        serde_json::to_value(trainpod::script::PodRuntime::default()).expect("serializes");
    for (key, value) in runtime.as_object().into_iter().flatten() {
        let field = &mut defs["PodRuntime"]["properties"][key];
        let text = format!(
            "{} Default: `{value}`.",
            field["description"].as_str().unwrap_or_default()
        );
        field["description"] = json!(text);
    }
    for name in defs.keys().cloned().collect::<Vec<_>>() {
        let Some(Value::Array(alts)) = defs[&name].get("oneOf").cloned() else {
            continue;
        };
        if !alts
            .iter()
            .all(|a| a.get("title").is_some() && a.get("properties").is_some())
        {
            continue;
        }
        let mut refs = Vec::new();
        for alt in alts {
            let title = alt["title"].as_str().expect("a title").to_owned();
            refs.push(json!({ "$ref": format!("#/$defs/{title}") }));
            defs.insert(title, alt);
        }
        defs[&name]["oneOf"] = Value::Array(refs);
    }
    defs
}

// ---- shared helpers ----------------------------------------------------------------------------

/// A schema's doc comment as text: each paragraph on one line (rustdoc wraps at 100 columns),
/// intra-doc links as code.
fn doc(schema: &Value) -> String {
    let text = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    paragraphs
        .join("\n\n")
        .replace("[`", "`")
        .replace("`]", "`")
        .trim()
        .to_owned()
}

/// `text` in lines of at most `width` characters; each of its lines is a paragraph.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push(line);
    }
    out
}

/// The doc of the `oneOf` member of `def` whose `const` is `value`.
fn member_doc(def: &Value, value: &str) -> String {
    let alts = def["oneOf"].as_array().expect("a string enum");
    alts.iter()
        .find(|a| a["const"] == value)
        .map(doc)
        .unwrap_or_default()
}

fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix("#/$defs/")
}

/// The fields of an object schema: the required ones in declaration order, then the others.
fn fields(schema: &Value) -> Vec<(&str, &Value, bool)> {
    let props = schema["properties"].as_object().expect("an object schema");
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out: Vec<_> = required
        .iter()
        .map(|&name| (name, &props[name], true))
        .collect();
    out.extend(
        props
            .iter()
            .filter(|(k, _)| !required.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v, false)),
    );
    out
}

/// `schema` without its `null` alternative, when it has one.
fn non_null(schema: &Value) -> Option<Value> {
    if let Some(Value::Array(types)) = schema.get("type") {
        let rest: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
        if rest.len() < types.len() {
            let mut inner = schema.clone();
            inner["type"] = if rest.len() == 1 {
                rest[0].clone()
            } else {
                json!(rest)
            };
            return Some(inner);
        }
    }
    let alts = schema.get("anyOf")?.as_array()?;
    let rest: Vec<&Value> = alts
        .iter()
        .filter(|a| a.get("type") != Some(&json!("null")))
        .collect();
    (rest.len() == 1 && alts.len() == 2).then(|| rest[0].clone())
}

/// Every named type `roots` reach, each after the types it refers to.
fn ordered<'a>(defs: &'a Map<String, Value>, roots: &[&'a str]) -> Vec<&'a str> {
    fn visit<'a>(
        defs: &'a Map<String, Value>,
        name: &'a str,
        seen: &mut BTreeSet<&'a str>,
        out: &mut Vec<&'a str>,
    ) {
        if !seen.insert(name) {
            return;
        }
        let (key, schema) = defs
            .get_key_value(name)
            .unwrap_or_else(|| panic!("no schema for {name}"));
        let mut refs = Vec::new();
        collect_refs(schema, &mut refs);
        for r in refs {
            visit(defs, r, seen, out);
        }
        out.push(key);
    }
    let (mut seen, mut out) = (BTreeSet::new(), Vec::new());
    for root in roots {
        visit(defs, root, &mut seen, &mut out);
    }
    out
}

fn collect_refs<'a>(schema: &'a Value, out: &mut Vec<&'a str>) {
    if let Some(name) = ref_name(schema) {
        out.push(name);
    }
    if schema.get("properties").is_some() {
        for (_, field, _) in fields(schema) {
            collect_refs(field, out);
        }
    }
    for key in ["items", "oneOf", "anyOf", "prefixItems"] {
        match schema.get(key) {
            Some(Value::Array(items)) => items.iter().for_each(|s| collect_refs(s, out)),
            Some(item) => collect_refs(item, out),
            None => {}
        }
    }
}

/// `job_id` → `jobId`, as `bindings-node/src/json.rs` renames keys.
fn camel(key: &str) -> String {
    let mut parts = key.split('_');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        let mut chars = part.chars();
        out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        out.push_str(chars.as_str());
    }
    out
}

/// `DatasetRef` → `dataset_ref`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A JSDoc comment at `indent`, on one line when it fits in 100 columns. Rust's `None` is
/// JavaScript's `null`.
fn js_doc(text: &str, indent: &str) -> String {
    let text = text.replace("`None`", "`null`");
    if text.is_empty() {
        return String::new();
    }
    let one = format!("{indent}/** {text} */");
    if !text.contains('\n') && one.chars().count() <= 100 {
        return one + "\n";
    }
    let mut out = format!("{indent}/**\n");
    for line in wrap(&text, 97 - indent.len()) {
        out += &format!(
            "{indent} *{}{line}\n",
            if line.is_empty() { "" } else { " " }
        );
    }
    out + &format!("{indent} */\n")
}
