//! One training example: which format it is in and whether it is well formed.

use serde::Deserialize;
use serde::de::IgnoredAny;
use std::borrow::Cow;
use std::fmt;

/// The shape of a dataset's rows, as TRL's `SFTTrainer` reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DatasetFormat {
    /// `{"messages": [{"role": "user", "content": "…"}, …]}` (conversational).
    Messages,
    /// `{"prompt": "…", "completion": "…"}`.
    PromptCompletion,
    /// `{"text": "…"}` (language modelling).
    Text,
    /// `{"instruction": "…", "input": "…", "output": "…"}`, converted to prompt/completion on request.
    Alpaca,
}

impl DatasetFormat {
    /// The name used in reports and configs.
    pub const fn as_str(self) -> &'static str {
        match self {
            DatasetFormat::Messages => "messages",
            DatasetFormat::PromptCompletion => "prompt_completion",
            DatasetFormat::Text => "text",
            DatasetFormat::Alpaca => "alpaca",
        }
    }
}

impl fmt::Display for DatasetFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields trainpod reads. Unknown fields are allowed (extra columns are common) and skipped;
/// a known field twice is refused by serde as a duplicate.
#[derive(Deserialize)]
pub(crate) struct Row<'a> {
    #[serde(borrow, default)]
    messages: Option<Vec<Message<'a>>>,
    #[serde(borrow, default)]
    prompt: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    completion: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    instruction: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    output: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(borrow)]
    content: Cow<'a, str>,
    #[serde(default, rename = "name")]
    _name: Option<IgnoredAny>,
}

fn present(field: &Option<Cow<'_, str>>) -> bool {
    field.is_some()
}

fn non_empty(name: &str, field: &Option<Cow<'_, str>>) -> Result<(), String> {
    match field {
        Some(v) if !v.trim().is_empty() => Ok(()),
        Some(_) => Err(format!("field `{name}` is empty")),
        None => Err(format!("field `{name}` is missing")),
    }
}

impl Row<'_> {
    /// The row's format, or why it is not a valid example.
    pub(crate) fn check(&self) -> Result<DatasetFormat, String> {
        let kinds = [
            self.messages.is_some(),
            present(&self.prompt) || present(&self.completion),
            present(&self.text),
            present(&self.instruction) || present(&self.output),
        ];
        match kinds.iter().filter(|k| **k).count() {
            0 => return Err("no training fields: expected `messages`, `prompt`/`completion`, `text` or `instruction`/`output`".into()),
            1 => {}
            _ => return Err("fields of several formats in one row: keep one of `messages`, `prompt`/`completion`, `text`, `instruction`/`output`".into()),
        }
        if let Some(messages) = &self.messages {
            check_messages(messages)?;
            Ok(DatasetFormat::Messages)
        } else if kinds[1] {
            non_empty("prompt", &self.prompt)?;
            non_empty("completion", &self.completion)?;
            Ok(DatasetFormat::PromptCompletion)
        } else if kinds[2] {
            non_empty("text", &self.text)?;
            Ok(DatasetFormat::Text)
        } else {
            non_empty("instruction", &self.instruction)?;
            non_empty("output", &self.output)?;
            Ok(DatasetFormat::Alpaca)
        }
    }

    /// Alpaca's fields as a prompt and a completion.
    pub(crate) fn alpaca_to_prompt_completion(&self) -> Option<(String, String)> {
        let instruction = self.instruction.as_deref()?;
        let output = self.output.as_deref()?;
        let prompt = match self.input.as_deref().map(str::trim) {
            Some(input) if !input.is_empty() => format!("{instruction}\n\n{input}"),
            _ => instruction.to_owned(),
        };
        Some((prompt, output.to_owned()))
    }
}

/// An optional system message, then user and assistant turns alternating, ending with the
/// assistant (the turn the model learns).
fn check_messages(messages: &[Message<'_>]) -> Result<(), String> {
    if messages.is_empty() {
        return Err("`messages` is empty".into());
    }
    let mut expected = "user";
    for (i, m) in messages.iter().enumerate() {
        let role = m.role.as_ref();
        if !matches!(role, "system" | "user" | "assistant") {
            return Err(format!(
                "message {}: unknown role {:?}; use system, user or assistant",
                i + 1,
                truncate(role)
            ));
        }
        if m.content.trim().is_empty() {
            return Err(format!("message {} ({role}): content is empty", i + 1));
        }
        if role == "system" && i == 0 {
            continue;
        }
        if role != expected {
            let article = if expected == "assistant" { "an" } else { "a" };
            return Err(format!(
                "message {}: expected {article} {expected} turn, found {role}",
                i + 1
            ));
        }
        expected = if role == "user" { "assistant" } else { "user" };
    }
    if expected != "user" {
        return Err("the conversation must end with an assistant turn".into());
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<DatasetFormat, String> {
        serde_json::from_str::<Row<'_>>(json)
            .map_err(|e| e.to_string())?
            .check()
    }

    #[test]
    fn formats_are_detected() {
        assert_eq!(
            check(
                r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}"#
            ),
            Ok(DatasetFormat::Messages)
        );
        assert_eq!(
            check(
                r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}],"id":7}"#
            ),
            Ok(DatasetFormat::Messages)
        );
        assert_eq!(
            check(r#"{"prompt":"p","completion":"c"}"#),
            Ok(DatasetFormat::PromptCompletion)
        );
        assert_eq!(
            check(r#"{"text":"t","meta":{"a":[1,2]}}"#),
            Ok(DatasetFormat::Text)
        );
        assert_eq!(
            check(r#"{"instruction":"i","input":"","output":"o"}"#),
            Ok(DatasetFormat::Alpaca)
        );
    }

    #[test]
    fn bad_rows_say_why() {
        let cases = [
            (r#"{"messages":[]}"#, "empty"),
            (
                r#"{"messages":[{"role":"assistant","content":"x"}]}"#,
                "expected a user turn",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}]}"#,
                "end with an assistant",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"},{"role":"user","content":"y"}]}"#,
                "expected an assistant turn",
            ),
            (
                r#"{"messages":[{"role":"bot","content":"x"}]}"#,
                "unknown role",
            ),
            (
                r#"{"messages":[{"role":"user","content":"  "},{"role":"assistant","content":"y"}]}"#,
                "content is empty",
            ),
            (r#"{"prompt":"p"}"#, "`completion` is missing"),
            (r#"{"prompt":"","completion":"c"}"#, "`prompt` is empty"),
            (
                r#"{"text":"t","prompt":"p","completion":"c"}"#,
                "several formats",
            ),
            (r#"{"id":1}"#, "no training fields"),
            (r#"{"text":"a","text":"b"}"#, "duplicate field"),
            (r#"{"text":5}"#, "invalid type"),
        ];
        for (json, want) in cases {
            let err = check(json).unwrap_err();
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn alpaca_converts() {
        let row: Row<'_> =
            serde_json::from_str(r#"{"instruction":"Translate","input":"chat","output":"cat"}"#)
                .unwrap();
        assert_eq!(
            row.alpaca_to_prompt_completion(),
            Some(("Translate\n\nchat".into(), "cat".into()))
        );
        let row: Row<'_> =
            serde_json::from_str(r#"{"instruction":"Say hi","input":" ","output":"hi"}"#).unwrap();
        assert_eq!(
            row.alpaca_to_prompt_completion(),
            Some(("Say hi".into(), "hi".into()))
        );
    }
}
