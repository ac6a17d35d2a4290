//! The fast path of row validation: one pass over the row's bytes, nothing allocated, nothing
//! unescaped or copied.
//!
//! [`check`] answers `Some(format)` only for a row that the serde path ([`super::row::Row`] and
//! its `check`) accepts with that same format, and `None` for everything else: invalid rows, and
//! valid rows in a shape it does not bother with (a `null` field, an escaped key, a surrogate
//! escape, a raw tab between tokens, deep nesting). `None` sends the row to the serde path, which
//! decides it and words the error, so reports stay exactly what they were; only the common valid
//! row is made cheap. Being conservative is always correct here; accepting a row serde would
//! refuse never is (the tests in this file compare both paths).

use super::row::DatasetFormat;

/// Deeper nesting (in ignored values) is left to serde, whose limit is far above this.
const MAX_DEPTH: u32 = 32;

/// The row's format when it is certainly valid; `None` when the serde path must decide.
pub(crate) fn check(bytes: &[u8]) -> Option<DatasetFormat> {
    // JSON strings may not hold raw control characters, and between tokens only space, tab,
    // CR and LF are allowed: a line with none of them (the usual JSON lines file) needs no
    // per-string control check. A line of ASCII needs no UTF-8 check either. One pass finds
    // both (a fold without early exit compiles to vector code); the usual line is done here.
    let (low, high) = bytes
        .iter()
        .fold((u8::MAX, 0u8), |(low, high), &b| (low.min(b), high.max(b)));
    if low < 0x20 || (high >= 0x80 && std::str::from_utf8(bytes).is_err()) {
        return None;
    }
    let mut p = Parser { bytes, at: 0 };
    let fields = p.row()?;
    p.space();
    if p.at != bytes.len() {
        return None;
    }
    fields.format()
}

/// A JSON string as it appears between its quotes, escapes still in.
#[derive(Clone, Copy)]
struct Raw<'a> {
    bytes: &'a [u8],
    escaped: bool,
}

impl<'a> Raw<'a> {
    /// Whether the string, unescaped, has a character that `str::trim` keeps: the serde
    /// path's "is empty" test, without building the string.
    fn has_text(self) -> bool {
        let mut rest = self.bytes;
        loop {
            let split = if self.escaped {
                memchr::memchr(b'\\', rest)
            } else {
                None
            };
            let (literal, escape) = match split {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            if literal_has_text(literal) {
                return true;
            }
            // `string` let through only well-formed escapes, and surrogates only in pairs,
            // which encode a character beyond the BMP: never whitespace. So a `\u` that is no
            // `char` on its own is text.
            let (c, len) = match escape.first() {
                None => return false,
                Some(b'u') => match escape.get(1..5).and_then(hex4).and_then(char::from_u32) {
                    Some(c) => (Some(c), 5),
                    None => return true,
                },
                Some(b'b') => (Some('\u{8}'), 1),
                Some(b'f') => (Some('\u{c}'), 1),
                Some(b'n') => (Some('\n'), 1),
                Some(b'r') => (Some('\r'), 1),
                Some(b't') => (Some('\t'), 1),
                Some(&b) => (Some(char::from(b)), 1), // `"`, `\` or `/`
            };
            match c {
                Some(c) if !c.is_whitespace() => return true,
                _ => rest = &escape[len..],
            }
        }
    }

    /// The key or role as written, when it has no escapes (an escaped one goes to serde).
    fn plain(self) -> Option<&'a [u8]> {
        (!self.escaped).then_some(self.bytes)
    }
}

/// Whether unescaped string bytes hold a non-whitespace character. Control characters were
/// ruled out for the line, so an ASCII byte other than a space is one (the usual first byte);
/// otherwise decode, as `str::trim` would.
fn literal_has_text(literal: &[u8]) -> bool {
    literal.iter().any(|&b| b.is_ascii() && b != b' ')
        || std::str::from_utf8(literal).is_ok_and(|s| s.chars().any(|c| !c.is_whitespace()))
}

/// Four hex digits.
fn hex4(digits: &[u8]) -> Option<u32> {
    if digits.len() != 4 {
        return None;
    }
    digits
        .iter()
        .try_fold(0, |n, &d| Some(n * 16 + char::from(d).to_digit(16)?))
}

/// Where the first `"` or `\` is: eight bytes at a time, with the classic "has a zero byte"
/// test on the bytes XORed with each (its lowest flagged byte is exact, which is the one
/// taken). Inlined, it beats a `memchr2` call on the short strings that make most of a row
/// (keys, roles) and keeps up on long ones.
fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let (q, b) = (x ^ (ONES * 0x22), x ^ (ONES * 0x5c));
        let found = (q.wrapping_sub(ONES) & !q | b.wrapping_sub(ONES) & !b) & HIGHS;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\');
    tail.map(|i| at + i)
}

/// The trainpod fields of one row, each seen at most once (a duplicate returns `None`).
#[derive(Default)]
struct Fields<'a> {
    messages: bool,
    prompt: Option<Raw<'a>>,
    completion: Option<Raw<'a>>,
    text: Option<Raw<'a>>,
    instruction: Option<Raw<'a>>,
    input: Option<Raw<'a>>,
    output: Option<Raw<'a>>,
}

impl Fields<'_> {
    /// `Row::check`, for a row whose messages (if any) were already found valid.
    fn format(&self) -> Option<DatasetFormat> {
        let kinds = [
            self.messages,
            self.prompt.is_some() || self.completion.is_some(),
            self.text.is_some(),
            self.instruction.is_some() || self.output.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return None;
        }
        let full = |f: Option<Raw<'_>>| f.is_some_and(Raw::has_text);
        if self.messages {
            Some(DatasetFormat::Messages)
        } else if kinds[1] {
            (full(self.prompt) && full(self.completion)).then_some(DatasetFormat::PromptCompletion)
        } else if kinds[2] {
            full(self.text).then_some(DatasetFormat::Text)
        } else {
            (full(self.instruction) && full(self.output)).then_some(DatasetFormat::Alpaca)
        }
    }
}

/// A cursor over one row. Every method returns `None` for anything it does not accept.
struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn space(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.space();
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// After a member or element: `true` for a comma, `false` for the closing bracket.
    fn more(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.at += 1;
                Some(true)
            }
            b if b == close => {
                self.at += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// `{ members }`, calling `member` with each key, the cursor on its value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, Raw<'a>) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            member(self, key)?;
            if !self.more(b'}')? {
                return Some(());
            }
        }
    }

    /// A string, cursor on its opening quote. Control characters were ruled out for the whole
    /// line, so only quotes and escapes matter.
    fn string(&mut self) -> Option<Raw<'a>> {
        self.eat(b'"')?;
        let bytes = self.bytes;
        let start = self.at;
        let mut escaped = false;
        loop {
            self.at += quote_or_backslash(&bytes[self.at..])?;
            if bytes[self.at] == b'"' {
                let raw = &bytes[start..self.at];
                self.at += 1;
                return Some(Raw {
                    bytes: raw,
                    escaped,
                });
            }
            escaped = true;
            match bytes.get(self.at + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
                b'u' => {
                    let unit = bytes.get(self.at + 2..self.at + 6).and_then(hex4)?;
                    self.at += 6;
                    // A surrogate is accepted only as a high one escaped right before a low
                    // one (an emoji, say); serde decides anything else.
                    if (0xDC00..0xE000).contains(&unit) {
                        return None;
                    }
                    if (0xD800..0xDC00).contains(&unit) {
                        let low = bytes.get(self.at..self.at + 6)?;
                        let low = low.strip_prefix(b"\\u").and_then(hex4)?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return None;
                        }
                        self.at += 6;
                    }
                }
                _ => return None,
            }
        }
    }

    /// The value of a string field, which may appear once.
    fn field(&mut self, slot: &mut Option<Raw<'a>>) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(self.string()?);
        Some(())
    }

    fn row(&mut self) -> Option<Fields<'a>> {
        let mut f = Fields::default();
        self.object(|p, key| match key.plain() {
            Some(b"messages") if !f.messages => {
                f.messages = true;
                p.messages()
            }
            Some(b"messages") => None,
            Some(b"prompt") => p.field(&mut f.prompt),
            Some(b"completion") => p.field(&mut f.completion),
            Some(b"text") => p.field(&mut f.text),
            Some(b"instruction") => p.field(&mut f.instruction),
            Some(b"input") => p.field(&mut f.input),
            Some(b"output") => p.field(&mut f.output),
            Some(_) => p.skip(0),
            None => None,
        })?;
        Some(f)
    }

    /// `check_messages`: an optional system message, then user and assistant alternating,
    /// ending with the assistant; every content non-empty.
    fn messages(&mut self) -> Option<()> {
        self.eat(b'[')?;
        let mut expected: &[u8] = b"user";
        let mut index = 0;
        loop {
            let (role, content) = self.message()?;
            if !content.has_text() {
                return None;
            }
            if !(role == b"system" && index == 0) {
                if role != expected {
                    return None;
                }
                expected = if role == b"user" {
                    b"assistant"
                } else {
                    b"user"
                };
            }
            index += 1;
            if !self.more(b']')? {
                // Ended with the assistant (or, as `check_messages` allows, a lone system
                // message): the next turn would be the user's.
                return (expected == b"user").then_some(());
            }
        }
    }

    /// One message: its role (one of the three) and content, each once; `name` at most once.
    fn message(&mut self) -> Option<(&'a [u8], Raw<'a>)> {
        let (mut role, mut content, mut name) = (None, None, false);
        self.object(|p, key| match key.plain() {
            Some(b"role") if role.is_none() => {
                role = Some(match p.string()?.plain()? {
                    r @ (b"system" | b"user" | b"assistant") => r,
                    _ => return None,
                });
                Some(())
            }
            Some(b"content") if content.is_none() => {
                content = Some(p.string()?);
                Some(())
            }
            Some(b"name") if !name => {
                name = true;
                p.skip(0)
            }
            Some(b"role" | b"content" | b"name") | None => None,
            Some(_) => p.skip(0),
        })?;
        Some((role?, content?))
    }

    /// Any JSON value, checked and skipped (extra columns, a message's `name`).
    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|p, _| p.skip(depth + 1)),
            b'[' => {
                self.at += 1;
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if !self.more(b']')? {
                        return Some(());
                    }
                }
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.bytes[self.at..]
            .starts_with(word.as_bytes())
            .then(|| self.at += word.len())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        let bytes = self.bytes;
        let digits = |at: &mut usize| {
            let start = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            (*at > start).then_some(())
        };
        let mut at = self.at;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        if bytes.get(at) == Some(&b'0') {
            at += 1;
        } else if bytes.get(at).is_some_and(|b| (b'1'..=b'9').contains(b)) {
            digits(&mut at)?;
        } else {
            return None;
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            digits(&mut at)?;
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            digits(&mut at)?;
        }
        // `01` is not a number; neither is `1` glued to a letter (the caller sees the letter).
        if bytes.get(at).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        self.at = at;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::inspect::parse_row;
    use proptest::prelude::*;

    /// The serde path: what the fast path must agree with whenever it answers.
    fn slow(row: &[u8]) -> Result<DatasetFormat, String> {
        parse_row(row).and_then(|r| r.check())
    }

    /// The fast path may decline any row, but when it answers, serde agrees.
    fn agrees(row: &[u8]) -> Option<DatasetFormat> {
        let fast = check(row);
        if let Some(format) = fast {
            assert_eq!(
                slow(row),
                Ok(format),
                "fast path accepted {:?}",
                String::from_utf8_lossy(row)
            );
        }
        fast
    }

    #[test]
    fn usual_valid_rows_take_the_fast_path() {
        let rows: [(&str, DatasetFormat); 10] = [
            (
                r#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}"#,
                DatasetFormat::Messages,
            ),
            (
                r#"{"messages":[{"role":"system","content":"Be brief.","name":"sys"},{"role":"user","content":"caf\u00e9 \"quoted\" \\ \/ \n"},{"role":"assistant","content":"\ud83d\ude00 ok","weight":0.5}],"id":-12.5e+3,"tags":["a",{"b":[true,false,null]}],"meta":{}}"#,
                DatasetFormat::Messages,
            ),
            (
                r#"{"messages":[{"role":"system","content":"s"}]}"#,
                DatasetFormat::Messages,
            ),
            (
                "{\"messages\":[{\"role\":\"user\",\"content\":\"日本語\"},{\"role\":\"assistant\",\"content\":\"\u{3000}はい\"}]}",
                DatasetFormat::Messages,
            ),
            (
                r#"{"prompt":"p","completion":" c","source":null}"#,
                DatasetFormat::PromptCompletion,
            ),
            (r#"  {"text":"\tt"}  "#, DatasetFormat::Text),
            (r#"{"text":"x","n":0,"m":[]}"#, DatasetFormat::Text),
            (
                r#"{"instruction":"i","input":"","output":"o"}"#,
                DatasetFormat::Alpaca,
            ),
            (
                r#"{"instruction":"\u0041","output":"\""}"#,
                DatasetFormat::Alpaca,
            ),
            (r#"{"text":"a","role":"bot"}"#, DatasetFormat::Text),
        ];
        for (row, format) in rows {
            assert_eq!(agrees(row.as_bytes()), Some(format), "{row}");
        }
    }

    #[test]
    fn doubtful_rows_go_to_serde() {
        let rows = [
            r#"{"text":null}"#,
            r#"{"text":"a","text":"b"}"#,
            r#"{"te\u0078t":"a"}"#,
            r#"{"text":"\n \u00a0\u3000\t"}"#,
            "{\"text\":\"\u{3000}\u{a0}\"}",
            r#"{"text":"a\qb"}"#,
            r#"{"text":"\ud83d"}"#,
            r#"{"text":"\ude00\ud83d"}"#,
            r#"{"text":"\ud83d\u0041"}"#,
            r#"{"text":"\ud83d x"}"#,
            r#"{"text":"a",}"#,
            r#"{"text":"a"} x"#,
            r#"{"text":"a","n":01}"#,
            r#"{"text":"a","n":1.}"#,
            r#"{"text":"a","n":-}"#,
            r#"{"text":"a","n":tru}"#,
            "{\"text\":\"a\tb\"}",
            "{\"text\":\"a\"}\u{feff}",
            r#"{"messages":[]}"#,
            r#"{"messages":null}"#,
            r#"{"messages":[{"role":"user","content":"a"}]}"#,
            r#"{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}"#,
            r#"{"messages":[{"role":"assistant","content":"a"}]}"#,
            r#"{"messages":[{"role":"user","content":"a","role":"user"},{"role":"assistant","content":"b"}]}"#,
            r#"{"messages":[{"role":"user","content":"a","name":1,"name":2},{"role":"assistant","content":"b"}]}"#,
            r#"{"messages":[{"role":"us\u0065r","content":"a"},{"role":"assistant","content":"b"}]}"#,
            r#"{"messages":[["user","a"],["assistant","b"]]}"#,
            r#"{"prompt":"p"}"#,
            r#"{"prompt":"p","completion":"c","text":"t"}"#,
            r#"{"input":"only"}"#,
            r#"{"id":1}"#,
            r#"{}"#,
            r#"[1,2]"#,
            r#"{"text":5}"#,
            "",
        ];
        for row in rows {
            assert_eq!(agrees(row.as_bytes()), None, "{row}");
        }
        assert_eq!(agrees(b"{\"text\":\"caf\xe9\"}"), None);
        let deep = format!(r#"{{"text":"a","x":{}{}}}"#, "[".repeat(40), "]".repeat(40));
        assert_eq!(agrees(deep.as_bytes()), None);
    }

    /// Row-like JSON from fragments that exercise every branch, then maybe one byte changed.
    fn row() -> impl Strategy<Value = Vec<u8>> {
        let key = prop::sample::select(vec![
            "messages",
            "prompt",
            "completion",
            "text",
            "instruction",
            "input",
            "output",
            "role",
            "content",
            "name",
            "id",
            "te\\u0078t",
        ]);
        let string = prop::sample::select(vec![
            "",
            " ",
            "a",
            "\\n",
            "\\u00a0",
            "\\u3000x",
            "\u{3000}",
            "é",
            "\\\"",
            "\\\\",
            "\\/",
            "\\ud83d\\ude00",
            "\\ud83d",
            "\\ude00",
            "\\ud83d\\u0041",
            "\\ud83d\\ude00\\u3000",
            "\\x",
            "user",
            "assistant",
            "system",
            "a\\tb",
        ])
        .prop_map(|s| format!("\"{s}\""));
        let scalar = prop_oneof![
            string.clone(),
            prop::sample::select(vec![
                "null",
                "true",
                "false",
                "0",
                "-1.5e+3",
                "01",
                "1.",
                "-",
                "[]",
                "{}",
                "[1,[2]]",
                "{\"a\":{\"b\":null}}",
            ])
            .prop_map(str::to_owned),
        ];
        let message =
            prop::collection::vec((key.clone(), scalar.clone()), 0..4).prop_map(|members| {
                let body: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            });
        // Conversations mostly in a valid order (an optional system turn, then pairs), some
        // with one role swapped for another, and a message with extra members at the end.
        let role = prop::sample::select(vec!["system", "user", "assistant", "bot"]);
        let chat = (
            any::<bool>(),
            1..4usize,
            prop::option::of((any::<prop::sample::Index>(), role)),
            prop::collection::vec(string.clone(), 8),
            prop::option::of(message),
        )
            .prop_map(|(system, pairs, swap, contents, extra)| {
                let mut roles: Vec<&str> = Vec::new();
                if system {
                    roles.push("system");
                }
                for _ in 0..pairs {
                    roles.extend(["user", "assistant"]);
                }
                if let Some((at, role)) = swap {
                    let at = at.index(roles.len());
                    roles[at] = role;
                }
                let mut items: Vec<String> = roles
                    .iter()
                    .zip(&contents)
                    .map(|(r, c)| format!("{{\"role\":\"{r}\",\"content\":{c}}}"))
                    .collect();
                items.extend(extra);
                format!("[{}]", items.join(", "))
            });
        // One format's fields, then extra members (any key, so formats mix sometimes).
        let base = prop_oneof![
            chat.prop_map(|c| vec![("messages", c)]),
            (string.clone(), string.clone())
                .prop_map(|(p, c)| vec![("prompt", p), ("completion", c)]),
            string.clone().prop_map(|t| vec![("text", t)]),
            (string.clone(), string.clone(), string.clone()).prop_map(|(i, x, o)| vec![
                ("instruction", i),
                ("input", x),
                ("output", o)
            ]),
        ];
        let members =
            (base, prop::collection::vec((key, scalar), 0..3)).prop_map(|(mut members, extra)| {
                members.extend(extra);
                let body: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\": {v}"))
                    .collect();
                format!("{{{}}}", body.join(", "))
            });
        let edit = prop::option::weighted(
            0.3,
            (
                any::<prop::sample::Index>(),
                prop::sample::select(vec![
                    b'"', b'\\', b',', b':', b'{', b'}', b'[', b']', b' ', b'\t', b'0', b'n', 0,
                    0xe9,
                ]),
                any::<bool>(),
            ),
        );
        (members, edit).prop_map(|(row, edit)| {
            let mut bytes = row.into_bytes();
            if let Some((at, byte, insert)) = edit {
                let at = at.index(bytes.len().max(1)).min(bytes.len());
                if insert || at == bytes.len() {
                    bytes.insert(at, byte);
                } else {
                    bytes[at] = byte;
                }
            }
            bytes
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn fast_path_never_accepts_what_serde_refuses(row in row()) {
            agrees(&row);
        }
    }
}
