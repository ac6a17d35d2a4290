//! Token verification: trainpod v1 against the `jsonwebtoken` crate verifying an HS256 JWT with
//! the same claims and the same checks (signature, audience, issuer, expiry, not-before), in one
//! run. Run: `cargo bench -p trainpod-bench --bench token_verify`.

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use trainpod_bench::{NOW, SECRET, trainpod_token};

/// The trainpod claims, as a JWT would carry them.
#[derive(Serialize, Deserialize)]
struct JwtClaims {
    iss: String,
    aud: String,
    pur: String,
    sub: String,
    job: String,
    ds: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
    once: bool,
}

fn jwt() -> (String, DecodingKey, Validation) {
    let (tokens, token, expect) = trainpod_token();
    let c = tokens.verify(&token, &expect).expect("valid");
    let claims = JwtClaims {
        iss: c.iss,
        aud: c.aud,
        pur: c.pur.as_str().into(),
        sub: c.sub,
        job: c.job,
        ds: c.ds.unwrap_or_default(),
        // jsonwebtoken checks against the system clock; shift the window around now.
        iat: now(),
        nbf: now(),
        exp: now() + 900,
        jti: c.jti,
        once: c.once,
    };
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&SECRET).expect("key"),
    )
    .expect("encode");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["https://app.example.com"]);
    validation.set_issuer(&["trainpod"]);
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    (
        token,
        DecodingKey::from_secret(&SECRET).expect("key"),
        validation,
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(NOW)
}

fn bench(c: &mut Criterion) {
    let (tokens, token, expect) = trainpod_token();
    let (jwt, key, validation) = jwt();
    assert!(
        decode::<JwtClaims>(&jwt, &key, &validation).is_ok(),
        "the baseline must verify its token"
    );
    let mut group = c.benchmark_group("token_verify");
    group.bench_function("trainpod_v1", |b| {
        b.iter(|| {
            tokens
                .verify(black_box(&token), black_box(&expect))
                .expect("ok")
        })
    });
    group.bench_function("jsonwebtoken_hs256", |b| {
        b.iter(|| {
            decode::<JwtClaims>(black_box(&jwt), black_box(&key), black_box(&validation))
                .expect("ok")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
