//! Writes the shared token test vectors (`tests/fixtures/token-vectors.json`) to stdout.
//!
//! Run: `cargo run -p trainpod --example token_vectors > tests/fixtures/token-vectors.json`.
//! Valid tokens come from `Tokens::issue`; hostile ones are signed here by a separate, minimal
//! implementation of the format (HKDF + HMAC over PAE), so that they carry authentic signatures
//! over bad claims.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;
use trainpod::clock::ManualClock;
use trainpod::token::{IssueRequest, KeyRing, Purpose, Tokens, pae};
use uuid::Uuid;

const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const AUD: &str = "https://app.example.com";

fn secret(seed: u8) -> Vec<u8> {
    (0u8..32)
        .map(|i| i.wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn ring_spec() -> String {
    format!(
        "k2:active:{},k1:verify:{},k0:retired:{}",
        B64.encode(secret(2)),
        B64.encode(secret(1)),
        B64.encode(secret(0))
    )
}

/// Sign `payload` as `kid` (secret `seed`) for `purpose`, independently of the library.
fn seal(seed: u8, kid: &str, purpose: &str, payload: &[u8]) -> String {
    let mut okm = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(None, &secret(seed))
        .expand(format!("trainpod/v1/{purpose}").as_bytes(), &mut okm)
        .expect("32 bytes");
    let mut mac = Hmac::<Sha256>::new_from_slice(&okm).expect("any key length");
    mac.update(&pae(&[
        b"trainpod/token/v1",
        purpose.as_bytes(),
        kid.as_bytes(),
        payload,
    ]));
    format!(
        "v1.{kid}.{}.{}",
        B64.encode(payload),
        B64.encode(mac.finalize().into_bytes())
    )
}

fn tokens(now: u64, audience: &str, issuer: &str, spec: &str) -> Tokens {
    Tokens::builder()
        .keys(KeyRing::parse(spec).expect("ring"))
        .audience(audience)
        .issuer(issuer)
        .clock(Arc::new(ManualClock::new(now)))
        .build()
        .expect("tokens")
}

fn jti(n: u8) -> Uuid {
    Uuid::from_bytes([
        n, 0x11, 0x22, 0x33, 0x44, 0x55, 0x40, 0x66, 0x80, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, n,
    ])
}

struct Req(Value);

impl Req {
    fn to_core(&self) -> Result<IssueRequest, trainpod::Error> {
        let v = &self.0;
        let s = |k: &str| v[k].as_str().map(str::to_owned);
        let mut req = IssueRequest::new(
            Purpose::parse(v["purpose"].as_str().unwrap_or(""))?,
            s("user").unwrap_or_default(),
            s("job").unwrap_or_default(),
        );
        req.dataset = s("dataset");
        req.resource = s("resource");
        req.ttl_secs = v["ttl_secs"].as_u64();
        req.not_before_delay_secs = v["not_before_delay_secs"].as_u64().unwrap_or(0);
        req.once = v["once"].as_bool().unwrap_or(false);
        req.epoch = v["epoch"].as_u64().map(|e| e as u32);
        req.jti = s("jti").map(|j| Uuid::parse_str(&j).expect("uuid"));
        Ok(req)
    }
}

fn request(
    purpose: &str,
    dataset: Option<&str>,
    ttl: Option<u64>,
    once: bool,
    epoch: Option<u32>,
    n: u8,
) -> Value {
    json!({
        "purpose": purpose, "user": "user-1", "job": "job-1", "dataset": dataset, "resource": null,
        "ttl_secs": ttl, "not_before_delay_secs": 0, "once": once, "epoch": epoch,
        "jti": jti(n).to_string(),
    })
}

fn issue_vector(name: &str, req: Value) -> (Value, Option<String>) {
    let t = tokens(NOW, AUD, "trainpod", &ring_spec());
    match Req(req.clone()).to_core().and_then(|r| t.issue(&r)) {
        Ok(issued) => {
            let token = issued.token.expose().to_owned();
            let claims = serde_json::to_value(&issued.claims).expect("claims");
            (
                json!({"name": name, "now": NOW, "request": req, "token": token, "claims": claims}),
                Some(token),
            )
        }
        Err(e) => (
            json!({"name": name, "now": NOW, "request": req, "error": e.code()}),
            None,
        ),
    }
}

fn expect(purpose: &str, job: Option<&str>, dataset: Option<&str>, user: Option<&str>) -> Value {
    json!({"purpose": purpose, "job": job, "dataset": dataset, "user": user})
}

fn verify_vector(name: &str, now: u64, token: &str, exp: &Value) -> Value {
    let t = tokens(now, AUD, "trainpod", &ring_spec());
    let mut e = trainpod::token::Expect::purpose(
        Purpose::parse(exp["purpose"].as_str().expect("purpose")).expect("purpose"),
    );
    e.job = exp["job"].as_str().map(str::to_owned);
    e.dataset = exp["dataset"].as_str().map(str::to_owned);
    e.user = exp["user"].as_str().map(str::to_owned);
    match t.verify(token, &e) {
        Ok(c) => {
            json!({"name": name, "now": now, "token": token, "expect": exp, "claims": serde_json::to_value(c).expect("claims")})
        }
        Err(err) => {
            json!({"name": name, "now": now, "token": token, "expect": exp, "error": err.code()})
        }
    }
}

fn claims_json(purpose: &str, iat: u64, exp: u64) -> Value {
    json!({"v":1,"iss":"trainpod","aud":AUD,"pur":purpose,"sub":"user-1","job":"job-1","ds":"ds-42",
           "iat":iat,"nbf":iat,"exp":exp,"jti":jti(90).to_string(),"once":false})
}

fn flip_char(s: &str, index: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ascii")
}

fn main() {
    let mut issue = Vec::new();
    let mut tok = Vec::new();
    let cases = [
        (
            "dataset.read single-use, 15 minutes",
            request("dataset.read", Some("ds-42"), Some(900), true, None, 1),
        ),
        (
            "metrics.write with run epoch, default lifetime",
            request("metrics.write", None, None, false, Some(1), 2),
        ),
        (
            "artifacts.write, one hour",
            request("artifacts.write", None, Some(3600), false, None, 3),
        ),
        (
            "dataset.read default lifetime",
            request("dataset.read", Some("ds-42"), None, false, None, 4),
        ),
        (
            "dataset.read over its 24 h cap",
            request("dataset.read", Some("ds-42"), Some(86_401), false, None, 5),
        ),
        (
            "metrics.write over the 7 day cap",
            request("metrics.write", None, Some(604_801), false, None, 6),
        ),
        (
            "zero lifetime",
            request("metrics.write", None, Some(0), false, None, 7),
        ),
        (
            "dataset.read without a dataset",
            request("dataset.read", None, Some(60), false, None, 8),
        ),
        (
            "unknown purpose",
            request("admin.all", None, Some(60), false, None, 9),
        ),
    ];
    for (name, req) in cases {
        let (v, t) = issue_vector(name, req);
        issue.push(v);
        tok.push(t);
    }
    let mut bad_user = request("metrics.write", None, Some(60), false, None, 10);
    bad_user["user"] = json!("user 1; rm -rf /");
    issue.push(issue_vector("user id with spaces and shell", bad_user).0);
    let mut delayed = request("metrics.write", None, Some(600), false, None, 11);
    delayed["not_before_delay_secs"] = json!(300);
    let (v, delayed_token) = issue_vector("metrics.write valid in 5 minutes", delayed);
    issue.push(v);

    let dataset = tok[0].clone().expect("dataset token");
    let metrics = tok[1].clone().expect("metrics token");
    let artifacts = tok[2].clone().expect("artifacts token");
    let delayed = delayed_token.expect("delayed token");
    let ds_expect = expect("dataset.read", Some("job-1"), Some("ds-42"), Some("user-1"));
    let m_expect = expect("metrics.write", Some("job-1"), None, None);
    let mut verify = vec![
        verify_vector("valid dataset token", NOW + 10, &dataset, &ds_expect),
        verify_vector("valid metrics token", NOW + 3600, &metrics, &m_expect),
        verify_vector(
            "valid artifacts token",
            NOW,
            &artifacts,
            &expect("artifacts.write", Some("job-1"), None, None),
        ),
        verify_vector(
            "valid without scope checks",
            NOW,
            &dataset,
            &expect("dataset.read", None, None, None),
        ),
        verify_vector(
            "inside leeway after expiry",
            NOW + 900 + 59,
            &dataset,
            &ds_expect,
        ),
        verify_vector(
            "expired at expiry plus leeway",
            NOW + 900 + 60,
            &dataset,
            &ds_expect,
        ),
        verify_vector("long expired", NOW + 86_400 * 30, &dataset, &ds_expect),
        verify_vector(
            "issued in the future beyond leeway",
            NOW - 61,
            &dataset,
            &ds_expect,
        ),
        verify_vector(
            "issued in the future inside leeway",
            NOW - 60,
            &dataset,
            &ds_expect,
        ),
        verify_vector("before not-before", NOW + 200, &delayed, &m_expect),
        verify_vector("after not-before", NOW + 300, &delayed, &m_expect),
        verify_vector(
            "metrics token at the dataset route",
            NOW,
            &metrics,
            &ds_expect,
        ),
        verify_vector(
            "dataset token at the metrics route",
            NOW,
            &dataset,
            &m_expect,
        ),
        verify_vector(
            "artifacts token at the metrics route",
            NOW,
            &artifacts,
            &m_expect,
        ),
        verify_vector(
            "other job",
            NOW,
            &dataset,
            &expect("dataset.read", Some("job-2"), Some("ds-42"), None),
        ),
        verify_vector(
            "other dataset",
            NOW,
            &dataset,
            &expect("dataset.read", Some("job-1"), Some("ds-43"), None),
        ),
        verify_vector(
            "other user",
            NOW,
            &dataset,
            &expect("dataset.read", None, None, Some("user-2")),
        ),
        verify_vector(
            "job id differing only in case",
            NOW,
            &dataset,
            &expect("dataset.read", Some("JOB-1"), None, None),
        ),
    ];
    // Keys in rotation.
    let by_k1 = seal(
        1,
        "k1",
        "metrics.write",
        claims_json("metrics.write", NOW, NOW + 600)
            .to_string()
            .as_bytes(),
    );
    let by_k0 = seal(
        0,
        "k0",
        "metrics.write",
        claims_json("metrics.write", NOW, NOW + 600)
            .to_string()
            .as_bytes(),
    );
    let by_k9 = seal(
        9,
        "k9",
        "metrics.write",
        claims_json("metrics.write", NOW, NOW + 600)
            .to_string()
            .as_bytes(),
    );
    let k2_wrong_secret = seal(
        1,
        "k2",
        "metrics.write",
        claims_json("metrics.write", NOW, NOW + 600)
            .to_string()
            .as_bytes(),
    );
    verify.push(verify_vector(
        "signed by a verify-only key",
        NOW,
        &by_k1,
        &m_expect,
    ));
    verify.push(verify_vector(
        "signed by a retired key",
        NOW,
        &by_k0,
        &m_expect,
    ));
    verify.push(verify_vector(
        "signed by an unknown key",
        NOW,
        &by_k9,
        &m_expect,
    ));
    verify.push(verify_vector(
        "key id of one key, secret of another",
        NOW,
        &k2_wrong_secret,
        &m_expect,
    ));
    // Authentic signatures over bad claims.
    let sealed = |name: &str, claims: String| {
        verify_vector(
            name,
            NOW,
            &seal(2, "k2", "metrics.write", claims.as_bytes()),
            &m_expect,
        )
    };
    verify.push(sealed(
        "lifetime over the purpose cap",
        claims_json("dataset.read", NOW, NOW + 86_401)
            .to_string()
            .replace("dataset.read", "metrics.write")
            .replace(&(NOW + 86_401).to_string(), &(NOW + 604_801).to_string()),
    ));
    verify.push(verify_vector(
        "dataset token over its 24 h cap",
        NOW,
        &seal(
            2,
            "k2",
            "dataset.read",
            claims_json("dataset.read", NOW, NOW + 86_401)
                .to_string()
                .as_bytes(),
        ),
        &ds_expect,
    ));
    let base = claims_json("metrics.write", NOW, NOW + 600);
    // The payload cap counts decoded bytes, exactly: authentic claims padded with JSON
    // whitespace to 1024 bytes verify; one or two bytes more are refused as malformed, which
    // a cap on the encoded length alone (whole 4-character groups) let through.
    let compact = base.to_string();
    for size in [1024, 1025, 1026] {
        let padded = format!("{{{}{}", " ".repeat(size - compact.len()), &compact[1..]);
        assert_eq!(padded.len(), size);
        verify.push(sealed(&format!("payload of {size} bytes"), padded));
    }
    verify.push(sealed(
        "duplicate exp key",
        base.to_string().replacen(
            &format!("\"exp\":{}", NOW + 600),
            &format!("\"exp\":{},\"exp\":{}", NOW + 600, NOW + 999_999),
            1,
        ),
    ));
    let mut v = base.clone();
    v["exp"] = json!((NOW + 600).to_string());
    verify.push(sealed("exp as a string", v.to_string()));
    let mut v = base.clone();
    v["nbf"] = json!(null);
    verify.push(sealed("nbf null", v.to_string()));
    let mut v = base.clone();
    v["exp"] = json!(NOW as f64 + 600.5);
    verify.push(sealed("exp fractional", v.to_string()));
    let mut v = base.clone();
    v["admin"] = json!(true);
    verify.push(sealed("unknown claim", v.to_string()));
    let mut v = base.clone();
    v["aud"] = json!("https://evil.example.com");
    verify.push(sealed("other audience", v.to_string()));
    let mut v = base.clone();
    v["iss"] = json!("someone-else");
    verify.push(sealed("other issuer", v.to_string()));
    let mut v = base.clone();
    v["pur"] = json!("dataset.read");
    verify.push(sealed(
        "claims purpose differs from signing purpose",
        v.to_string(),
    ));
    let mut v = base.clone();
    v["v"] = json!(2);
    verify.push(sealed("claims version 2", v.to_string()));
    let mut v = base.clone();
    v["jti"] = json!(jti(90).to_string().to_uppercase());
    verify.push(sealed("uppercase token id", v.to_string()));
    verify.push(sealed("payload not JSON", "not json".to_owned()));
    verify.push(sealed("payload JSON array", "[1,2,3]".to_owned()));
    verify.push(sealed(
        "payload with NaN",
        base.to_string()
            .replace(&format!("\"exp\":{}", NOW + 600), "\"exp\":NaN"),
    ));
    verify.push(sealed("payload with a BOM", format!("\u{feff}{base}")));
    // Tampered and malformed text.
    let parts: Vec<&str> = dataset.split('.').collect();
    verify.push(verify_vector(
        "payload character changed",
        NOW,
        &flip_char(&dataset, parts[0].len() + parts[1].len() + 5),
        &ds_expect,
    ));
    verify.push(verify_vector(
        "signature first character changed",
        NOW,
        &flip_char(&dataset, dataset.len() - 43),
        &ds_expect,
    ));
    let last = dataset.chars().last().expect("char");
    let sibling = (b'A'..=b'Z').chain(b'a'..=b'z').map(char::from).find(|c| {
        *c != last
            && B64
                .decode(format!(
                    "{}{}",
                    &dataset[dataset.len() - 43..dataset.len() - 1],
                    c
                ))
                .is_err()
    });
    if let Some(c) = sibling {
        verify.push(verify_vector(
            "signature with non-canonical trailing bits",
            NOW,
            &format!("{}{}", &dataset[..dataset.len() - 1], c),
            &ds_expect,
        ));
    }
    let hostile: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("three parts", parts[..3].join(".")),
        ("five parts", format!("{dataset}.x")),
        ("version v2", dataset.replacen("v1.", "v2.", 1)),
        ("version V1", dataset.replacen("v1.", "V1.", 1)),
        ("version v01", dataset.replacen("v1.", "v01.", 1)),
        ("padding added", format!("{dataset}=")),
        (
            "standard base64 characters",
            dataset.replace('-', "+").replace('_', "/"),
        ),
        (
            "empty signature (alg none)",
            format!("{}.{}.{}.", parts[0], parts[1], parts[2]),
        ),
        (
            "truncated signature (16 bytes)",
            format!("{}.{}.{}.{}", parts[0], parts[1], parts[2], &parts[3][..22]),
        ),
        (
            "signature with an extra byte",
            format!(
                "{}.{}.{}.{}AA",
                parts[0],
                parts[1],
                parts[2],
                &parts[3][..42]
            ),
        ),
        ("leading space", format!(" {dataset}")),
        ("trailing newline", format!("{dataset}\n")),
        ("bearer prefix left on", format!("Bearer {dataset}")),
        (
            "kid with a dot-free homoglyph",
            dataset.replacen(".k2.", ".k\u{0662}.", 1),
        ),
        (
            "kid too long",
            dataset.replacen(".k2.", &format!(".{}.", "k".repeat(33)), 1),
        ),
        ("kid with SQL", dataset.replacen(".k2.", ".k2'--.", 1)),
        (
            "JWT instead",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
                .to_owned(),
        ),
        (
            "over 2048 bytes",
            format!("v1.k2.{}.{}", "A".repeat(2100), parts[3]),
        ),
        (
            "payload over 1024 bytes",
            format!("v1.k2.{}.{}", B64.encode(vec![b' '; 1100]), parts[3]),
        ),
        ("NUL inside", dataset.replacen(".k2.", ".k2\0.", 1)),
    ];
    for (name, t) in hostile {
        verify.push(verify_vector(name, NOW, &t, &ds_expect));
    }

    let redeem = vec![
        json!({"name": "single-use token redeemed once", "now": NOW + 1, "token": dataset, "expect": ds_expect,
               "attempts": 3, "results": ["ok", "TOKEN_ALREADY_USED", "TOKEN_ALREADY_USED"]}),
        json!({"name": "reusable token redeemed many times", "now": NOW + 1, "token": metrics, "expect": m_expect,
               "attempts": 2, "results": ["ok", "ok"]}),
        json!({"name": "expired single-use token is refused before the ledger", "now": NOW + 10_000, "token": dataset,
               "expect": ds_expect, "attempts": 2, "results": ["TOKEN_EXPIRED", "TOKEN_EXPIRED"]}),
    ];

    let out = json!({
        "description": "trainpod token v1 test vectors; see docs/token-format.md. Generated by `cargo run -p trainpod --example token_vectors`.",
        "config": {"keys": ring_spec(), "issuer": "trainpod", "audience": AUD, "leeway_secs": 60},
        "issue": issue,
        "verify": verify,
        "redeem": redeem,
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&out).expect("json"));
    }
}
