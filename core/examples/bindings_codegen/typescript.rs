//! `types.d.ts`: the plain objects of the Node binding, keys camelCased as
//! `bindings-node/src/json.rs` does.

use serde_json::{Map, Value};

use super::{camel, doc, fields, header, js_doc, non_null, ordered, ref_name};

/// Node's roots: what `Trainpod` returns and takes as plain objects (the napi objects of
/// `binding.d.ts` are declared there).
const TS_ROOTS: &[&str] = &[
    "Plan",
    "JobStatus",
    "KeyCheck",
    "DatasetReport",
    "RenderedScript",
    "PodRuntime",
    "PodEvent",
    "WebhookEvent",
    "WebhookReport",
];
/// Types whose keys Node hands over as sent (`js_json`), not camelCased.
const TS_KEYS_AS_SENT: &[&str] = &["PodEvent"];
/// The TypeScript type of `schema`; `keys` renames object keys.
fn ts(schema: &Value, keys: fn(&str) -> String) -> String {
    if schema == &Value::Bool(true) {
        return "unknown".to_owned();
    }
    if let Some(name) = ref_name(schema) {
        return name.to_owned();
    }
    if let Some(value) = schema.get("const") {
        return format!("'{}'", value.as_str().expect("a string constant"));
    }
    if let Some(Value::Array(alts)) = schema.get("oneOf").or_else(|| schema.get("anyOf")) {
        return alts
            .iter()
            .map(|a| ts(a, keys))
            .collect::<Vec<_>>()
            .join(" | ");
    }
    let types = match &schema["type"] {
        Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
        t => vec![t.as_str().unwrap_or_else(|| panic!("no type in {schema}"))],
    };
    let one = |t: &str| match t {
        "string" | "boolean" | "null" => t.to_owned(),
        "integer" | "number" => "number".to_owned(),
        "array" if schema.get("prefixItems").is_some() => {
            let items = schema["prefixItems"].as_array().into_iter().flatten();
            format!(
                "[{}]",
                items.map(|s| ts(s, keys)).collect::<Vec<_>>().join(", ")
            )
        }
        "array" => match ts(&schema["items"], keys) {
            item if item.contains(' ') => format!("({item})[]"),
            item => format!("{item}[]"),
        },
        "object" if schema.get("properties").is_some() => {
            let members: Vec<String> = fields(schema)
                .into_iter()
                .map(|(k, s, req)| {
                    format!(
                        "{}{}: {}",
                        keys(k),
                        if req { "" } else { "?" },
                        ts_field(s, req, keys)
                    )
                })
                .collect();
            format!("{{ {} }}", members.join("; "))
        }
        "object" => "Record<string, unknown>".to_owned(),
        other => panic!("no TypeScript type for {other}"),
    };
    types.into_iter().map(one).collect::<Vec<_>>().join(" | ")
}

/// A field's type: one that may be absent is absent rather than `null` (serde skips `None`).
fn ts_field(schema: &Value, required: bool, keys: fn(&str) -> String) -> String {
    match non_null(schema) {
        Some(inner) if !required => ts(&inner, keys),
        _ => ts(schema, keys),
    }
}

pub fn types(defs: &Map<String, Value>) -> String {
    let mut out = format!(
        "{}// The plain objects `Trainpod` takes and returns: core's serde types with camelCase keys\n\
         // (src/json.rs converts the keys, nothing else). Enum values keep core's spelling.\n",
        header("//")
    );
    for name in ordered(defs, TS_ROOTS) {
        let schema = &defs[name];
        let keys: fn(&str) -> String = if TS_KEYS_AS_SENT.contains(&name) {
            str::to_owned
        } else {
            camel
        };
        let mut text = doc(schema);
        if let Some(Value::Array(alts)) = schema.get("oneOf")
            && alts
                .iter()
                .all(|a| a.get("const").is_some() && a.get("description").is_some())
        {
            let list: Vec<String> = alts
                .iter()
                .map(|a| {
                    format!(
                        "- `'{}'`: {}",
                        a["const"].as_str().unwrap_or_default(),
                        doc(a)
                    )
                })
                .collect();
            text = format!("{text}\n\n{}", list.join("\n"));
        }
        out += &format!("\n{}", js_doc(&text, ""));
        if schema.get("properties").is_some() {
            out += &format!("export interface {name} {{\n");
            for (key, field, required) in fields(schema) {
                out += &js_doc(&doc(field), "  ");
                out += &format!(
                    "  {}{}: {};\n",
                    keys(key),
                    if required { "" } else { "?" },
                    ts_field(field, required, keys)
                );
            }
            out += "}\n";
            continue;
        }
        let line = format!("export type {name} = {};", ts(schema, keys));
        if line.len() <= 120 {
            out += &format!("{line}\n");
        } else {
            out += &format!("export type {name} =\n");
            for alt in schema["oneOf"].as_array().expect("a union") {
                out += &format!("  | {}\n", ts(alt, keys));
            }
            out.pop();
            out += ";\n";
        }
    }
    let required: Vec<String> = trainpod::JobSpec::REQUIRED_FIELDS
        .iter()
        .map(|f| format!("'{}'", camel(f)))
        .collect();
    let named: Vec<String> = trainpod::JobSpec::REQUIRED_FIELDS
        .iter()
        .map(|f| format!("`{}`", camel(f)))
        .collect();
    let (last, rest) = named.split_last().expect("required fields");
    let named = format!("{} and {last}", rest.join(", "));
    out += &format!(
        "\n/**\n * What `plan` takes: {named}; everything else is optional,\n * and given hyperparameters are laid over the method's \
         defaults. Unknown keys are refused.\n */\nexport type JobSpecInput = Pick<JobSpec, {}> &\n  \
         Partial<Omit<JobSpec, {} | 'hyperparameters'>> & {{\n    hyperparameters?: Partial<Hyperparameters> | null;\n  }};\n",
        required.join(" | "),
        required.join(" | "),
    );
    out + "\n/**\n * How the pod behaves (`podRuntime`): any of these laid over core's defaults; unknown keys are\n \
           * refused. `podPython` and `expectGpu`, given as options of their own, are laid over them.\n */\n\
           export type PodRuntimeInput = Partial<PodRuntime>;\n\n\
           /** One thing `follow` saw (src/stream.rs tags it). */\n\
           export type FollowUpdate = { kind: 'status'; status: JobStatus } | { kind: 'event'; event: PodEvent };\n"
}
