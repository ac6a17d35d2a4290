//! Token behaviour: round trips, rotation, hostile input, redaction, single use.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use proptest::prelude::*;
use std::sync::Arc;
use trainpod::ErrorKind;
use trainpod::clock::{CounterRandom, ManualClock};
use trainpod::store::MemoryStore;
use trainpod::token::{
    Expect, IssueRequest, KeyRing, Purpose, Tokens, bearer, generate_secret_with,
};

const NOW: u64 = 1_767_225_600;

fn secret(seed: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        (0u8..32)
            .map(|i| i.wrapping_mul(13) ^ seed)
            .collect::<Vec<_>>(),
    )
}

fn tokens_with(spec: &str, clock: Arc<ManualClock>) -> Tokens {
    Tokens::builder()
        .keys(KeyRing::parse(spec).unwrap())
        .audience("https://app.example.com")
        .clock(clock)
        .build()
        .unwrap()
}

fn tokens() -> (Tokens, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(NOW));
    (
        tokens_with(&format!("a:active:{}", secret(1)), clock.clone()),
        clock,
    )
}

fn dataset_request() -> IssueRequest {
    IssueRequest::new(Purpose::DatasetRead, "user-1", "job-1")
        .dataset("ds-1")
        .once(true)
}

fn dataset_expect() -> Expect {
    Expect::purpose(Purpose::DatasetRead)
        .job("job-1")
        .dataset("ds-1")
        .user("user-1")
}

#[test]
fn every_purpose_round_trips_and_is_refused_elsewhere() {
    let (t, _) = tokens();
    for p in Purpose::ALL {
        let mut req = IssueRequest::new(p, "user-1", "job-1");
        req.dataset = Some("ds-1".into());
        let issued = t.issue(&req).unwrap();
        let claims = t
            .verify(issued.token.expose(), &Expect::purpose(p).job("job-1"))
            .unwrap();
        assert_eq!(claims, issued.claims);
        assert_eq!(claims.exp - claims.iat, p.default_lifetime_secs());
        for other in Purpose::ALL.into_iter().filter(|o| *o != p) {
            let err = t
                .verify(issued.token.expose(), &Expect::purpose(other))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TokenWrongPurpose, "{p} at {other}");
        }
    }
}

#[test]
fn rotation_without_downtime() {
    let clock = Arc::new(ManualClock::new(NOW));
    let (old, new) = (secret(1), secret(2));
    let before = tokens_with(&format!("old:active:{old}"), clock.clone());
    let token = before.issue(&dataset_request()).unwrap().token;
    // Step 1: the new key is added as verify-only everywhere; old tokens still verify.
    let step1 = tokens_with(&format!("old:active:{old},new:verify:{new}"), clock.clone());
    assert!(step1.verify(token.expose(), &dataset_expect()).is_ok());
    // Step 2: the new key signs; tokens from the old key still verify.
    let step2 = tokens_with(&format!("new:active:{new},old:verify:{old}"), clock.clone());
    assert!(step2.verify(token.expose(), &dataset_expect()).is_ok());
    let fresh = step2.issue(&dataset_request()).unwrap().token;
    assert!(fresh.expose().starts_with("v1.new."));
    assert!(
        step1.verify(fresh.expose(), &dataset_expect()).is_ok(),
        "instances not yet promoted verify new tokens"
    );
    // Step 3: the old key is retired, then removed.
    let step3 = tokens_with(
        &format!("new:active:{new},old:retired:{old}"),
        clock.clone(),
    );
    assert_eq!(
        step3
            .verify(token.expose(), &dataset_expect())
            .unwrap_err()
            .kind(),
        ErrorKind::TokenKeyRetired
    );
    let step4 = tokens_with(&format!("new:active:{new}"), clock);
    assert_eq!(
        step4
            .verify(token.expose(), &dataset_expect())
            .unwrap_err()
            .kind(),
        ErrorKind::TokenUnknownKey
    );
}

#[test]
fn time_window_edges_follow_the_clock_and_leeway() {
    let (t, clock) = tokens();
    let token = t.issue(&dataset_request().ttl_secs(100)).unwrap().token;
    clock.set(NOW + 159);
    assert!(t.verify(token.expose(), &dataset_expect()).is_ok());
    clock.set(NOW + 160);
    assert_eq!(
        t.verify(token.expose(), &dataset_expect())
            .unwrap_err()
            .kind(),
        ErrorKind::TokenExpired
    );
    let strict = Tokens::builder()
        .keys(t.keys().clone())
        .audience("https://app.example.com")
        .leeway_secs(0)
        .clock(Arc::new(ManualClock::new(NOW + 100)))
        .build()
        .unwrap();
    assert_eq!(
        strict
            .verify(token.expose(), &dataset_expect())
            .unwrap_err()
            .kind(),
        ErrorKind::TokenExpired
    );
    assert!(
        Tokens::builder()
            .keys(t.keys().clone())
            .audience("x")
            .leeway_secs(301)
            .build()
            .is_err()
    );
}

#[test]
fn lifetimes_are_capped_at_issue() {
    let (t, _) = tokens();
    for p in Purpose::ALL {
        let mut req = IssueRequest::new(p, "u", "j").ttl_secs(p.max_lifetime_secs());
        req.dataset = Some("d".into());
        assert!(t.issue(&req).is_ok());
        req.ttl_secs = Some(p.max_lifetime_secs() + 1);
        assert_eq!(t.issue(&req).unwrap_err().kind(), ErrorKind::InvalidInput);
    }
}

#[test]
fn secrets_and_tokens_never_show_in_debug_or_errors() {
    let (t, _) = tokens();
    let issued = t.issue(&dataset_request()).unwrap();
    let shown = format!("{t:?} {issued:?}");
    assert!(!shown.contains(&secret(1)), "secret leaked: {shown}");
    assert!(
        !shown.contains(issued.token.expose()),
        "token leaked: {shown}"
    );
    let sig = issued.token.expose().rsplit('.').next().unwrap();
    let tampered = format!("{}x", issued.token.expose());
    for bad in [tampered.as_str(), issued.token.expose()] {
        if let Err(e) = t.verify(bad, &Expect::purpose(Purpose::MetricsWrite)) {
            let text = format!("{e} {e:?}");
            assert!(!text.contains(sig), "error echoes the token: {text}");
        }
    }
}

#[test]
fn issue_uses_the_injected_random_source() {
    let clock = Arc::new(ManualClock::new(NOW));
    let build = || {
        Tokens::builder()
            .keys(KeyRing::parse(&format!("a:active:{}", secret(1))).unwrap())
            .audience("https://app.example.com")
            .clock(clock.clone())
            .random(Arc::new(CounterRandom::default()))
            .build()
            .unwrap()
    };
    let a = build().issue(&dataset_request()).unwrap();
    let b = build().issue(&dataset_request()).unwrap();
    assert_eq!(
        a.token, b.token,
        "same clock and random source give the same token"
    );
    let (t, _) = tokens();
    assert_ne!(
        t.issue(&dataset_request()).unwrap().claims.jti,
        t.issue(&dataset_request()).unwrap().claims.jti
    );
    assert_ne!(generate_secret_with(&CounterRandom::default()), secret(1));
}

#[test]
fn bearer_header_parsing() {
    assert_eq!(bearer(Some("Bearer abc")).unwrap(), "abc");
    assert_eq!(bearer(Some("bearer  abc ")).unwrap(), "abc");
    for bad in [
        None,
        Some(""),
        Some("Bearer"),
        Some("Bearer   "),
        Some("Basic abc"),
        Some("abc"),
    ] {
        assert_eq!(
            bearer(bad).unwrap_err().kind(),
            ErrorKind::TokenMissing,
            "{bad:?}"
        );
    }
    let (t, _) = tokens();
    let token = t.issue(&dataset_request()).unwrap().token;
    let header = format!("Bearer {}", token.expose());
    assert!(
        t.verify_authorization(Some(&header), &dataset_expect())
            .is_ok()
    );
    assert_eq!(
        t.verify_authorization(None, &dataset_expect())
            .unwrap_err()
            .http_status_hint(),
        401
    );
}

trait StatusHint {
    fn http_status_hint(&self) -> u16;
}

impl StatusHint for trainpod::Error {
    fn http_status_hint(&self) -> u16 {
        self.kind().http_status()
    }
}

#[test]
fn builder_refuses_missing_or_bad_config() {
    let ring = KeyRing::parse(&format!("a:active:{}", secret(1))).unwrap();
    assert!(Tokens::builder().audience("x").build().is_err());
    assert!(Tokens::builder().keys(ring.clone()).build().is_err());
    assert!(
        Tokens::builder()
            .keys(ring.clone())
            .audience("has space")
            .build()
            .is_err()
    );
    assert!(
        Tokens::builder()
            .keys(ring)
            .audience("https://a")
            .issuer("")
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn fifty_concurrent_redemptions_in_memory_have_one_winner() {
    let (t, _) = tokens();
    let token = t.issue(&dataset_request()).unwrap().token;
    let store = Arc::new(MemoryStore::new());
    let t = Arc::new(t);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (t, store, token) = (t.clone(), store.clone(), token.clone());
            tokio::spawn(async move {
                t.verify_and_redeem(token.expose(), &dataset_expect(), &*store)
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(e) => assert_eq!(e.kind(), ErrorKind::TokenAlreadyUsed),
        }
    }
    assert_eq!(wins, 1);
}

fn valid_token() -> (Tokens, String) {
    let (t, _) = tokens();
    let token = t
        .issue(&dataset_request())
        .unwrap()
        .token
        .expose()
        .to_owned();
    (t, token)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_single_byte_changed_is_refused(index in 0usize..400, byte in any::<u8>()) {
        let (t, token) = valid_token();
        let index = index % token.len();
        let mut bytes = token.clone().into_bytes();
        prop_assume!(bytes[index] != byte);
        bytes[index] = byte;
        let changed = String::from_utf8_lossy(&bytes).into_owned();
        let err = t.verify(&changed, &dataset_expect()).unwrap_err();
        prop_assert!(err.kind().is_token_error(), "{}", err);
    }

    #[test]
    fn truncated_or_extended_tokens_are_refused(cut in 1usize..400, extra in "[A-Za-z0-9_.-]{1,8}") {
        let (t, token) = valid_token();
        let cut = cut % token.len();
        prop_assert!(t.verify(&token[..cut], &dataset_expect()).is_err());
        let extended = format!("{token}{extra}");
        prop_assert!(t.verify(&extended, &dataset_expect()).is_err());
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,3000}") {
        let (t, _) = valid_token();
        prop_assert!(t.verify(&text, &dataset_expect()).is_err());
    }

    #[test]
    fn arbitrary_tokens_shaped_like_ours_are_refused(kid in "[a-z0-9]{1,4}", payload in "[A-Za-z0-9_-]{0,300}", tag in "[A-Za-z0-9_-]{0,60}") {
        let (t, _) = valid_token();
        let shaped = format!("v1.{kid}.{payload}.{tag}");
        let err = t.verify(&shaped, &dataset_expect()).unwrap_err();
        prop_assert!(err.kind().is_token_error());
    }

    #[test]
    fn valid_ids_and_lifetimes_round_trip(user in "[A-Za-z0-9][A-Za-z0-9._:@-]{0,60}", job in "[A-Za-z0-9_-]{1,64}", ttl in 1u64..=86_400, once: bool, epoch in proptest::option::of(0u32..1000)) {
        let (t, _) = tokens();
        let mut req = IssueRequest::new(Purpose::MetricsWrite, user.clone(), job.clone()).ttl_secs(ttl).once(once);
        req.epoch = epoch;
        let issued = t.issue(&req).unwrap();
        let claims = t.verify(issued.token.expose(), &Expect::purpose(Purpose::MetricsWrite).job(job).user(user)).unwrap();
        prop_assert_eq!(claims, issued.claims);
    }

    #[test]
    fn invalid_ids_are_refused_at_issue(user in ".{0,200}") {
        prop_assume!(!trainpod::token::is_valid_id(&user));
        let (t, _) = tokens();
        let err = t.issue(&IssueRequest::new(Purpose::MetricsWrite, user, "job-1")).unwrap_err();
        prop_assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
}
