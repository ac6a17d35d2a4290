//! The shared webhook vectors (`tests/fixtures/webhook-vectors.json`, written with Python's
//! standard library): signing and verification, as the Python and Node suites run them too.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod common;

use serde_json::Value;
use trainpod::webhooks::{WebhookHeaders, WebhookSecret, parse_secrets, signature_header, verify};

fn text(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn signatures_match_the_vectors() {
    let vectors = common::fixture("webhook-vectors.json");
    for case in vectors["sign"].as_array().unwrap() {
        let secret = WebhookSecret::parse(text(&case["secret"])).unwrap();
        let signed = secret.sign(
            text(&case["id"]),
            case["timestamp"].as_u64().unwrap(),
            text(&case["body"]).as_bytes(),
        );
        assert_eq!(signed, text(&case["signature"]), "{}", case["name"]);
    }
    let rotation = &vectors["rotation"];
    let secrets: Vec<&str> = rotation["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    let header = signature_header(
        &parse_secrets(&secrets).unwrap(),
        text(&rotation["id"]),
        rotation["timestamp"].as_u64().unwrap(),
        text(&rotation["body"]).as_bytes(),
    );
    assert_eq!(header, text(&rotation["signature"]));
}

#[test]
fn verification_matches_the_vectors() {
    let vectors = common::fixture("webhook-vectors.json");
    for case in vectors["verify"].as_array().unwrap() {
        let secrets: Vec<&str> = case["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        let headers = case["headers"].as_object().unwrap();
        let headers =
            WebhookHeaders::from_pairs(headers.iter().map(|(k, v)| (k.as_str(), text(v))));
        let got = verify(
            &parse_secrets(&secrets).unwrap(),
            &headers,
            text(&case["body"]).as_bytes(),
            case["now"].as_u64().unwrap(),
            case["tolerance_secs"].as_u64().unwrap(),
        );
        let got = match got {
            Ok(()) => "ok",
            Err(e) => e.code(),
        };
        assert_eq!(got, text(&case["expect"]), "{}", case["name"]);
    }
}
