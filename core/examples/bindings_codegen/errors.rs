//! The error classes: Python's `exceptions.py` (a class per group, and one per code beneath it)
//! and Node's `errors.js` with its declarations (a class per group).

use serde_json::{Map, Value};
use trainpod::{ErrorGroup, ErrorKind};

use super::{header, js_doc, member_doc, wrap};

/// Python builtins an error class also derives from, so that `except ValueError` catches it.
const PY_BUILTINS: &[(&str, &str)] = &[
    ("InvalidInputError", "ValueError"),
    ("RequestTimeoutError", "TimeoutError"),
    ("DatasetNotFoundError", "LookupError"),
    ("DatasetPathUnsafeError", "PermissionError"),
];

/// A kind's doc comment and its group's.
fn kind_doc(defs: &Map<String, Value>, kind: ErrorKind) -> String {
    member_doc(&defs["ErrorKind"], kind.code())
}

fn group_doc(defs: &Map<String, Value>, group: ErrorGroup) -> String {
    member_doc(&defs["ErrorGroup"], &format!("{group:?}"))
}

/// The Python class of a kind: its variant's name with `Error`, except where Python has a
/// builtin of that name.
fn py_kind_class(kind: ErrorKind) -> String {
    match kind {
        ErrorKind::Timeout => "RequestTimeoutError".to_owned(),
        _ => format!("{kind:?}").trim_end_matches("Error").to_owned() + "Error",
    }
}

fn py_bases(class: &str, parent: &str) -> String {
    match PY_BUILTINS.iter().find(|(c, _)| *c == class) {
        Some((_, builtin)) => format!("{parent}, {builtin}"),
        None => parent.to_owned(),
    }
}

pub fn py_docstring(text: &str, indent: &str) -> String {
    let text = text.replace('`', "``");
    let lines = wrap(&text, 94 - indent.len());
    format!(
        "{indent}\"\"\"{}\"\"\"\n",
        lines.join(&format!("\n{indent}"))
    )
}

pub fn python(defs: &Map<String, Value>) -> String {
    let mut out = format!(
        "{}\"\"\"One exception hierarchy for every trainpod failure, rooted in :class:`TrainpodError`.\n\n\
         Each error code of the core has its own class, under the class of its group (``TokenError``,\n\
         ``ApiError``, ...). Every exception carries ``code``, ``message``, ``status`` and\n\
         ``request_id`` (of the upstream response, where there was one), ``retry_after`` (seconds)\n\
         and ``retryable``, and pickles with all of them.\n\"\"\"\n\n\
         from __future__ import annotations\n\n\
         from trainpod._error_base import TrainpodError as TrainpodError\n\
         from trainpod._error_base import _rebuild as _rebuild\n",
        header("#")
    );
    for &group in ErrorGroup::ALL {
        let class = group.class_name();
        out += &format!("\n\nclass {class}({}):\n", py_bases(class, "TrainpodError"));
        out += &py_docstring(&group_doc(defs, group), "    ");
        if let Some(kind) = group.kinds().find(|k| py_kind_class(*k) == class) {
            out += &format!("\n    default_code = \"{}\"\n", kind.code());
        }
        for kind in group.kinds().filter(|k| py_kind_class(*k) != class) {
            let name = py_kind_class(kind);
            out += &format!("\n\nclass {name}({}):\n", py_bases(&name, class));
            out += &py_docstring(&kind_doc(defs, kind), "    ");
            out += &format!("\n    default_code = \"{}\"\n", kind.code());
        }
    }
    out += "\n\n#: The class raised for each error code.\nERRORS_BY_CODE: dict[str, type[TrainpodError]] = {\n";
    for &kind in ErrorKind::ALL {
        out += &format!("    \"{}\": {},\n", kind.code(), py_kind_class(kind));
    }
    out += "}\n\n#: Each group's class and its codes.\nERROR_GROUPS: dict[type[TrainpodError], tuple[str, ...]] = {\n";
    for &group in ErrorGroup::ALL {
        let codes: Vec<String> = group.kinds().map(|k| format!("\"{}\"", k.code())).collect();
        let comma = if codes.len() == 1 { "," } else { "" };
        let line = format!("    {}: ({}{comma}),", group.class_name(), codes.join(", "));
        if line.len() <= 100 {
            out += &format!("{line}\n");
        } else {
            out += &format!("    {}: (\n", group.class_name());
            for code in codes {
                out += &format!("        {code},\n");
            }
            out += "    ),\n";
        }
    }
    out + "}\n"
}

fn group_codes(group: ErrorGroup) -> String {
    group
        .kinds()
        .map(|k| format!("`{}`", k.code()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn javascript(defs: &Map<String, Value>) -> String {
    let mut out = format!(
        "{}\nconst {{ TrainpodError }} = require('./error-base.js');\n",
        header("//")
    );
    for &group in ErrorGroup::ALL {
        let text = format!("{} Codes: {}.", group_doc(defs, group), group_codes(group));
        out += &format!(
            "\n{}class {} extends TrainpodError {{}}\n",
            js_doc(&text, ""),
            group.class_name()
        );
    }
    out += "\n/** The class each trainpod error code is thrown as: its group's. */\nconst CLASS_BY_CODE = new Map([\n";
    for &kind in ErrorKind::ALL {
        out += &format!("  ['{}', {}],\n", kind.code(), kind.group().class_name());
    }
    out += "]);\n\n/** The class a trainpod error `code` is thrown as; `TrainpodError` for any other code. */\n\
            function errorClass(code) {\n  return CLASS_BY_CODE.get(code) ?? TrainpodError;\n}\n\n\
            module.exports = {\n  TrainpodError,\n";
    for &group in ErrorGroup::ALL {
        out += &format!("  {},\n", group.class_name());
    }
    out + "  CLASS_BY_CODE,\n  errorClass,\n};\n"
}

pub fn declarations(defs: &Map<String, Value>) -> String {
    let mut out = format!(
        "{}\nimport {{ TrainpodError }} from './error-base';\n\nexport {{ TrainpodError }};\n",
        header("//")
    );
    for &group in ErrorGroup::ALL {
        let text = format!("{} Codes: {}.", group_doc(defs, group), group_codes(group));
        out += &format!(
            "\n{}export declare class {} extends TrainpodError {{}}\n",
            js_doc(&text, ""),
            group.class_name()
        );
    }
    out + "\n/** The class each trainpod error code is thrown as: its group's. */\n\
           export declare const CLASS_BY_CODE: ReadonlyMap<string, typeof TrainpodError>;\n\
           \n/** The class a trainpod error `code` is thrown as; `TrainpodError` for any other code. */\n\
           export declare function errorClass(code: string): typeof TrainpodError;\n"
}
