//! Runs the shared golden vectors (`tests/fixtures/token-vectors.json`), as Python and Node do.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod common;

use serde_json::Value;
use std::sync::Arc;
use trainpod::clock::ManualClock;
use trainpod::store::MemoryStore;
use trainpod::token::{Expect, IssueRequest, KeyRing, Purpose, Tokens};
use uuid::Uuid;

fn tokens(config: &Value, now: u64) -> Tokens {
    Tokens::builder()
        .keys(KeyRing::parse(config["keys"].as_str().unwrap()).unwrap())
        .issuer(config["issuer"].as_str().unwrap())
        .audience(config["audience"].as_str().unwrap())
        .leeway_secs(config["leeway_secs"].as_u64().unwrap())
        .clock(Arc::new(ManualClock::new(now)))
        .build()
        .unwrap()
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn issue_request(r: &Value) -> trainpod::Result<IssueRequest> {
    let mut req = IssueRequest::new(
        Purpose::parse(r["purpose"].as_str().unwrap())?,
        r["user"].as_str().unwrap(),
        r["job"].as_str().unwrap(),
    );
    req.dataset = opt(&r["dataset"]);
    req.resource = opt(&r["resource"]);
    req.ttl_secs = r["ttl_secs"].as_u64();
    req.not_before_delay_secs = r["not_before_delay_secs"].as_u64().unwrap();
    req.once = r["once"].as_bool().unwrap();
    req.epoch = r["epoch"].as_u64().map(|e| u32::try_from(e).unwrap());
    req.jti = r["jti"].as_str().map(|j| Uuid::parse_str(j).unwrap());
    Ok(req)
}

fn expect(e: &Value) -> Expect {
    let mut x = Expect::purpose(Purpose::parse(e["purpose"].as_str().unwrap()).unwrap());
    x.job = opt(&e["job"]);
    x.dataset = opt(&e["dataset"]);
    x.user = opt(&e["user"]);
    x
}

#[test]
fn issue_vectors() {
    let f = common::fixture("token-vectors.json");
    let cases = f["issue"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let t = tokens(&f["config"], case["now"].as_u64().unwrap());
        let got = issue_request(&case["request"]).and_then(|r| t.issue(&r));
        match (&case["error"], got) {
            (Value::String(code), Err(e)) => assert_eq!(e.code(), code, "{name}"),
            (Value::Null, Ok(issued)) => {
                assert_eq!(
                    issued.token.expose(),
                    case["token"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    serde_json::to_value(&issued.claims).unwrap(),
                    case["claims"],
                    "{name}"
                );
            }
            (want, got) => panic!("{name}: wanted {want}, got {got:?}"),
        }
    }
}

#[test]
fn verify_vectors() {
    let f = common::fixture("token-vectors.json");
    let cases = f["verify"].as_array().unwrap();
    assert!(cases.len() >= 40);
    let mut refused = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let t = tokens(&f["config"], case["now"].as_u64().unwrap());
        let got = t.verify(case["token"].as_str().unwrap(), &expect(&case["expect"]));
        match (&case["error"], got) {
            (Value::String(code), Err(e)) => {
                assert_eq!(e.code(), code, "{name}: {e}");
                refused += 1;
            }
            (Value::Null, Ok(claims)) => assert_eq!(
                serde_json::to_value(&claims).unwrap(),
                case["claims"],
                "{name}"
            ),
            (want, got) => panic!("{name}: wanted {want}, got {got:?}"),
        }
    }
    assert!(refused >= 30, "the vectors must exercise refusals");
}

#[tokio::test]
async fn redeem_vectors() {
    let f = common::fixture("token-vectors.json");
    for case in f["redeem"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let t = tokens(&f["config"], case["now"].as_u64().unwrap());
        let store = MemoryStore::new();
        let results: Vec<String> = {
            let mut out = Vec::new();
            for _ in 0..case["attempts"].as_u64().unwrap() {
                let r = t
                    .verify_and_redeem(
                        case["token"].as_str().unwrap(),
                        &expect(&case["expect"]),
                        &store,
                    )
                    .await;
                out.push(r.map_or_else(|e| e.code().to_owned(), |_| "ok".to_owned()));
            }
            out
        };
        let want: Vec<String> = serde_json::from_value(case["results"].clone()).unwrap();
        assert_eq!(results, want, "{name}");
    }
}
