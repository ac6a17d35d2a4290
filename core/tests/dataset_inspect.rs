//! Dataset inspection on real files: every container, every format, every refusal with its line.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::path::{Path, PathBuf};
use std::process::Command;
use trainpod::ErrorKind;
use trainpod::dataset::{
    Container, DatasetFormat, InspectOptions, convert_alpaca, inspect, validate,
};

const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"}]}"#;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("trainpod-ds-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The sha256 computed by the system's own tool, as a pod would check it.
fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn opts() -> InspectOptions {
    InspectOptions::default()
}

#[test]
fn valid_chat_jsonl() {
    let d = dir();
    let body = format!("{CHAT}\n{CHAT}\r\n\n   \n{CHAT}");
    let p = write(&d, "chat.jsonl", body.as_bytes());
    let r = inspect(&p, &opts()).unwrap();
    assert_eq!(
        (r.container, r.format, r.rows, r.error_count),
        (Container::Jsonl, Some(DatasetFormat::Messages), 3, 0)
    );
    assert_eq!(r.bytes, body.len() as u64);
    assert_eq!(r.sha256, sha256sum(&p));
    assert_eq!(r.longest_row_bytes, CHAT.len() as u64);
    assert!(validate(&p, &opts()).is_ok());
}

#[test]
fn json_array_and_gzip_containers() {
    let d = dir();
    let arr = write(
        &d,
        "a.json",
        br#" [ {"prompt":"p1","completion":"c1"}, {"prompt":"p2","completion":"c2"} ] "#,
    );
    let r = inspect(&arr, &opts()).unwrap();
    assert_eq!(
        (r.container, r.format, r.rows),
        (
            Container::JsonArray,
            Some(DatasetFormat::PromptCompletion),
            2
        )
    );
    assert_eq!(r.sha256, sha256sum(&arr));

    let plain = write(&d, "t.jsonl", b"{\"text\":\"one\"}\n{\"text\":\"two\"}\n");
    assert!(
        Command::new("gzip")
            .arg("-k")
            .arg(&plain)
            .status()
            .unwrap()
            .success()
    );
    let gz = d.join("t.jsonl.gz");
    let r = inspect(&gz, &opts()).unwrap();
    assert_eq!(
        (r.container, r.format, r.rows),
        (Container::GzipJsonl, Some(DatasetFormat::Text), 2)
    );
    assert_eq!(
        r.sha256,
        sha256sum(&gz),
        "the hash is of the file as stored"
    );
    assert_eq!(r.bytes, std::fs::metadata(&gz).unwrap().len());
}

#[test]
fn every_refusal_names_its_line_and_reason() {
    let d = dir();
    let mut body = Vec::new();
    let lines: Vec<&[u8]> = vec![
        CHAT.as_bytes(),           // 1 ok
        b"{not json}",             // 2
        b"{\"text\":\"caf\xe9\"}", // 3 invalid UTF-8
        br#"{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}"#, // 4 role order
        br#"{"messages":[{"role":"user","content":"a"}],"messages":[]}"#, // 5 duplicate key
        br#"{"prompt":"p","completion":"c"}"#,                            // 6 mixed formats
        br#"{"messages":[{"role":"user","content":""},{"role":"assistant","content":"x"}]}"#, // 7 empty
        br#"{"id":3}"#, // 8 missing fields
        b"[1,2]",       // 9 not an object
        br#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]"#, // 10 truncated
        CHAT.as_bytes(), // 11 ok
    ];
    for l in &lines {
        body.extend_from_slice(l);
        body.push(b'\n');
    }
    let p = write(&d, "bad.jsonl", &body);
    let r = inspect(&p, &opts()).unwrap();
    assert_eq!(r.rows, 2);
    assert_eq!(r.error_count, 9);
    let got: Vec<(u64, &str)> = r
        .errors
        .iter()
        .map(|e| (e.line, e.reason.as_str()))
        .collect();
    let want = [
        (2, "invalid JSON"),
        (3, "invalid UTF-8"),
        (4, "expected an assistant turn"),
        (5, "duplicate field `messages`"),
        (6, "mixed formats"),
        (7, "content is empty"),
        (8, "no training fields"),
        (9, "invalid type"),
        (10, "invalid JSON"),
    ];
    for ((line, reason), (wl, wr)) in got.iter().zip(want) {
        assert_eq!(*line, wl, "{reason}");
        assert!(
            reason.contains(wr),
            "line {line}: {reason:?} should mention {wr:?}"
        );
    }
    let err = validate(&p, &opts()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatasetInvalid);
    assert!(
        err.message().contains("line 3: invalid UTF-8"),
        "{}",
        err.message()
    );
}

#[test]
fn error_list_is_bounded_but_all_are_counted() {
    let d = dir();
    let p = write(&d, "many.jsonl", "{\"x\":1}\n".repeat(100).as_bytes());
    let r = inspect(&p, &InspectOptions { max_errors: 5 }).unwrap();
    assert_eq!((r.errors.len(), r.error_count, r.rows), (5, 100, 0));
}

#[test]
fn over_long_rows_are_refused_and_reading_goes_on() {
    let d = dir();
    let long = format!("{{\"text\":\"{}\"}}", "a".repeat(17 << 20));
    let body = format!("{CHAT}\n{long}\n{CHAT}\n");
    let p = write(&d, "long.jsonl", body.as_bytes());
    let r = inspect(&p, &opts()).unwrap();
    assert_eq!((r.rows, r.error_count), (2, 1));
    assert_eq!(r.errors[0].line, 2);
    assert!(r.errors[0].reason.contains("longer than 16 MiB"));
    assert_eq!(r.sha256, sha256sum(&p));
}

#[test]
fn empty_missing_and_broken_files() {
    let d = dir();
    let empty = write(&d, "empty.jsonl", b"\n\n");
    assert_eq!(
        validate(&empty, &opts()).unwrap_err().kind(),
        ErrorKind::DatasetInvalid
    );
    assert_eq!(
        inspect(&d.join("nope.jsonl"), &opts()).unwrap_err().kind(),
        ErrorKind::DatasetNotFound
    );
    let arr = write(&d, "broken.json", br#"[{"text":"a"}, {"text":"#);
    let r = inspect(&arr, &opts()).unwrap();
    assert_eq!((r.rows, r.error_count), (1, 1));
    assert!(
        r.errors[0].reason.contains("JSON array is invalid"),
        "{:?}",
        r.errors
    );
    let gz = write(&d, "bad.gz", &[0x1f, 0x8b, 0x08, 0x00, 1, 2, 3]);
    let err = inspect(&gz, &opts()).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::DatasetInvalid,
        "a corrupt gzip is an invalid dataset"
    );
    assert!(err.message().contains("corrupt"), "{}", err.message());
}

#[test]
fn alpaca_is_converted_to_prompt_completion() {
    let d = dir();
    let src = write(&d, "alpaca.json", br#"[{"instruction":"Add","input":"1+1","output":"2"},{"instruction":"Greet","input":"","output":"hi"}]"#);
    assert_eq!(
        inspect(&src, &opts()).unwrap().format,
        Some(DatasetFormat::Alpaca)
    );
    let dst = d.join("pc.jsonl");
    let r = convert_alpaca(&src, &dst).unwrap();
    assert_eq!(
        (r.format, r.rows),
        (Some(DatasetFormat::PromptCompletion), 2)
    );
    let text = std::fs::read_to_string(&dst).unwrap();
    assert_eq!(
        text,
        "{\"completion\":\"2\",\"prompt\":\"Add\\n\\n1+1\"}\n{\"completion\":\"hi\",\"prompt\":\"Greet\"}\n"
    );
    let chat = write(&d, "chat.jsonl", CHAT.as_bytes());
    assert_eq!(
        convert_alpaca(&chat, &d.join("x.jsonl"))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn rows_across_read_buffers_keep_their_lines() {
    // Rows of varied lengths over many of inspection's read buffers (64 KiB), every 97th one
    // invalid, with CRLF endings and a final row without a newline.
    let d = dir();
    let mut body = String::new();
    let mut bad = Vec::new();
    for i in 1..=20_000u64 {
        if i % 97 == 0 {
            body.push_str("{\"x\":1}");
            bad.push(i);
        } else {
            let text = "é\\u00e9 word ".repeat((i % 13) as usize);
            body.push_str(&format!("{{\"text\":\"{i} {text}\",\"i\":{i}}}"));
        }
        if i < 20_000 {
            body.push_str(if i % 2 == 0 { "\r\n" } else { "\n" });
        }
    }
    let p = write(&d, "many.jsonl", body.as_bytes());
    let r = inspect(&p, &InspectOptions { max_errors: 1000 }).unwrap();
    assert_eq!(r.rows, 20_000 - bad.len() as u64);
    assert_eq!(r.error_count, bad.len() as u64);
    assert_eq!(r.errors.iter().map(|e| e.line).collect::<Vec<_>>(), bad);
    assert_eq!(r.sha256, sha256sum(&p));
    assert!(
        Command::new("gzip")
            .arg("-k")
            .arg(&p)
            .status()
            .unwrap()
            .success()
    );
    let gz = inspect(
        &d.join("many.jsonl.gz"),
        &InspectOptions { max_errors: 1000 },
    )
    .unwrap();
    assert_eq!((gz.rows, gz.errors), (r.rows, r.errors));
}

#[test]
fn the_row_limit_is_exact() {
    // A row of 16 MiB - 1 bytes is read; one of 16 MiB is refused.
    let d = dir();
    let row = |len: usize| format!("{{\"text\":\"{}\"}}", "a".repeat(len - 11));
    let body = format!("{}\n{}\n{}", row((16 << 20) - 1), row(16 << 20), row(12));
    let p = write(&d, "limit.jsonl", body.as_bytes());
    let r = inspect(&p, &opts()).unwrap();
    assert_eq!((r.rows, r.error_count), (2, 1), "{:?}", r.errors);
    assert_eq!(r.longest_row_bytes, (16 << 20) - 1);
    assert_eq!(r.errors[0].line, 2);
}
