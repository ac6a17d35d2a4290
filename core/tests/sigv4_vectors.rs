//! Runs AWS's published SigV4 vectors (`tests/fixtures/sigv4.json`), as Python and Node will.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod common;

use serde_json::Value;
use trainpod::staging::sigv4::{
    Credentials, PresignRequest, Request, SecretKey, Signer, sha256_hex, signing_key,
};

fn signer(group: &Value) -> Signer {
    let creds = Credentials::new(
        group["access_key_id"].as_str().unwrap(),
        group["secret_access_key"].as_str().unwrap(),
    )
    .unwrap();
    Signer::new(
        creds,
        group["region"].as_str().unwrap(),
        group["service"].as_str().unwrap(),
    )
    .unwrap()
}

fn pairs(v: &Value) -> Vec<(&str, &str)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap()))
        .collect()
}

/// Signs every header case of a group; `check` compares the result with the case.
fn run_header_group(name: &str, check: impl Fn(&Value, &trainpod::staging::sigv4::Signed)) {
    let fixture = common::fixture("sigv4.json");
    let group = &fixture[name];
    let signer = signer(group);
    let now = group["unix_time"].as_u64().unwrap();
    assert_eq!(
        trainpod::staging::sigv4::amz_date(now),
        group["amz_date"].as_str().unwrap()
    );
    let cases = group["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let query = pairs(&case["query"]);
        // A case may name headers its published signature was computed without.
        let without: Vec<&str> = case["sign_without"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        let headers: Vec<(&str, &str)> = pairs(&case["headers"])
            .into_iter()
            .filter(|(n, _)| !without.contains(n))
            .collect();
        let payload = sha256_hex(case["body"].as_str().unwrap().as_bytes());
        let signed = signer.sign(
            &Request {
                method: case["method"].as_str().unwrap(),
                path: case["path"].as_str().unwrap(),
                query: &query,
                headers: &headers,
                payload_sha256: &payload,
            },
            now,
        );
        check(case, &signed);
    }
}

#[test]
fn aws_sigv4_test_suite() {
    run_header_group("suite", |case, signed| {
        let name = case["name"].as_str().unwrap();
        assert_eq!(signed.string_to_sign, case["string_to_sign"], "{name}");
        let authz = case["authorization"].as_str().unwrap();
        assert!(
            authz.ends_with(&format!("Signature={}", signed.signature)),
            "{name}"
        );
        // Where the published files disagree (see the case's note), only the string to sign
        // and the signature, which agree with each other, are checked.
        if case["sign_without"].is_null() {
            assert_eq!(
                signed.canonical_request, case["canonical_request"],
                "{name}"
            );
            assert_eq!(signed.authorization, authz, "{name}");
        }
    });
}

#[test]
fn s3_header_signing_examples() {
    run_header_group("s3_header", |case, signed| {
        let name = case["name"].as_str().unwrap();
        if let Some(hash) = case["canonical_request_sha256"].as_str() {
            assert_eq!(
                sha256_hex(signed.canonical_request.as_bytes()),
                hash,
                "{name}"
            );
        }
        assert_eq!(signed.signature, case["signature"], "{name}");
    });
}

#[test]
fn s3_presigned_url_example() {
    let fixture = common::fixture("sigv4.json");
    let group = &fixture["presign"];
    let signer = signer(group);
    let now = group["unix_time"].as_u64().unwrap();
    for case in group["cases"].as_array().unwrap() {
        let host = case["host"].as_str().unwrap();
        let presigned = signer
            .presign(
                &PresignRequest {
                    method: case["method"].as_str().unwrap(),
                    host,
                    path: case["path"].as_str().unwrap(),
                    query: &[],
                },
                now,
                case["expires_secs"].as_u64().unwrap(),
            )
            .unwrap();
        assert_eq!(presigned.canonical_request, case["canonical_request"]);
        assert_eq!(presigned.string_to_sign, case["string_to_sign"]);
        assert_eq!(presigned.signature, case["signature"]);
        let url = format!("https://{host}{}?{}", presigned.path, presigned.query);
        assert_eq!(url, case["url"].as_str().unwrap());
    }
}

#[test]
fn signing_key_derivation_example() {
    let fixture = common::fixture("sigv4.json");
    let v = &fixture["signing_key"];
    let key = signing_key(
        &SecretKey::new(v["secret_access_key"].as_str().unwrap()),
        v["date"].as_str().unwrap(),
        v["region"].as_str().unwrap(),
        v["service"].as_str().unwrap(),
    );
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, v["key_hex"].as_str().unwrap());
}

#[test]
fn every_vector_names_its_source() {
    let fixture = common::fixture("sigv4.json");
    for group in ["suite", "s3_header", "presign", "signing_key"] {
        let source = fixture[group]["source"].as_str().unwrap_or_default();
        assert!(source.contains("https://"), "{group} has no source");
    }
}
