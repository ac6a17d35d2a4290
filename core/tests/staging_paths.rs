//! The bad-input suite of app staging: path traversal in every variant of the security note,
//! wrong dataset, job, purpose or audience, expired and tampered tokens, tampered and absurd
//! ranges, and a dataset deleted after its URL was issued. Each gets its status and typed
//! error, and inotify proves no file outside the root is ever opened.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod staging_support;

use staging_support::{AUDIENCE, Fixture, NOW, OpenWatch, TRAPS, Wait, tokens};
use trainpod::ErrorKind;
use trainpod::dataset::InspectOptions;
use trainpod::staging::{AppStaging, DownloadRequest, Grant};
use trainpod::token::{IssueRequest, Purpose};

fn get(f: &Fixture, auth: Option<&str>, id: &str) -> trainpod::Result<Grant> {
    f.staging
        .authorize_dataset_download(auth, None, id, None)
        .wait()
}

fn refused(f: &Fixture, auth: Option<&str>, id: &str) -> trainpod::Error {
    get(f, auth, id).expect_err(id)
}

/// Route ids an attacker can send, as the framework hands them over (decoded once) or raw.
fn hostile_route_ids(f: &Fixture) -> Vec<String> {
    let canary = f.canary.to_str().unwrap().to_owned();
    let mut ids: Vec<String> = [
        "..",
        ".",
        "../outside/canary",
        "../../../../etc/passwd",
        "ds-1/../ds-1",
        "./ds-1",
        "ds-1/",
        "/ds-1",
        "%2e%2e",
        "%2e%2e%2foutside%2fcanary",
        "..%2foutside%2fcanary",
        "..%2Foutside%2Fcanary",
        "%252e%252e%252foutside",
        "%%32%65%%32%65/outside",
        ".%2e/outside",
        "..\\outside\\canary",
        "..%5coutside%5ccanary",
        "\\\\?\\COM1:.\\..\\..\\canary",
        "c:",
        "C:\\Windows\\win.ini",
        "/etc/passwd",
        "//proc/self/root/etc/passwd",
        "ds-1\0",
        "ds-1%00",
        "ds-1\0../outside/canary",
        "%c0%ae%c0%ae%c0%af",
        "\u{c0}\u{ae}\u{c0}\u{ae}",
        "\u{ff0e}\u{ff0e}/outside",
        "\u{2024}\u{2024}/outside",
        "\u{ff0e}\u{ff0e}\u{ff0f}canary",
        "..\u{2215}outside",
        "..\u{2044}canary",
        "ds-1#",
        "ds-1?x=1",
        "ds-1 ",
        " ds-1",
        "DS-1",
        "ds-1.",
        "ds-1\n",
        "CON",
        "ds-1:stream",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    ids.push(canary);
    ids.push(format!("../{}", "../".repeat(200)));
    ids.push("a".repeat(4096));
    ids
}

#[test]
fn the_watch_sees_an_open_of_the_canary() {
    // The control: without it, "nothing outside the root was opened" could be vacuous.
    let f = Fixture::new();
    let watch = OpenWatch::new(&f);
    std::fs::read(f.root.join("hard")).unwrap();
    assert!(!watch.events().is_empty());
    std::fs::read(f.root.join("link-out")).unwrap();
    assert!(!watch.events().is_empty());
    watch.assert_untouched("after draining");
}

#[test]
fn hostile_route_ids_with_a_token_for_another_dataset_are_403_scope_mismatch() {
    let f = Fixture::new();
    let watch = OpenWatch::new(&f);
    let auth = f.bearer();
    for id in hostile_route_ids(&f) {
        let err = refused(&f, Some(&auth), &id);
        assert_eq!(err.kind(), ErrorKind::TokenScopeMismatch, "{id:?}: {err}");
        assert_eq!(err.kind().http_status(), 403);
        watch.assert_untouched(&id);
    }
}

#[test]
fn hostile_ids_named_by_the_token_itself_fail_the_id_check_with_400() {
    // The token format's id alphabet allows dots; the staging id check does not allow these.
    let f = Fixture::new();
    let watch = OpenWatch::new(&f);
    for id in [
        "..", ".", "...", ".hidden", "a..b", "ds-1.", "x.", "-rf", "_x", ":x", "@x", "a:b",
    ] {
        let auth = format!("Bearer {}", f.token_for("job-1", id));
        let err = refused(&f, Some(&auth), id);
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{id:?}: {err}");
        assert_eq!(err.kind().http_status(), 400);
        watch.assert_untouched(id);
    }
}

#[test]
fn traps_inside_the_root_are_403_path_unsafe_and_never_opened() {
    let f = Fixture::new();
    let watch = OpenWatch::new(&f);
    for (id, what) in TRAPS {
        let auth = format!("Bearer {}", f.token_for("job-1", id));
        let err = refused(&f, Some(&auth), id);
        assert_eq!(
            err.kind(),
            ErrorKind::DatasetPathUnsafe,
            "{id} ({what}): {err}"
        );
        assert_eq!(err.kind().http_status(), 403);
        assert_eq!(err.code(), "DATASET_PATH_UNSAFE");
        watch.assert_untouched(id);
    }
    // The same traps cannot get a URL either.
    for (id, _) in TRAPS {
        let err = f
            .staging
            .signed_download_url(AUDIENCE, "job-1", "user-1", id, None)
            .wait()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DatasetPathUnsafe, "{id}");
    }
    watch.assert_untouched("signed_download_url");
    // Nor be inspected (a plan): what a pod could not download is refused before it is deployed.
    for (id, _) in TRAPS {
        let err = f
            .staging
            .inspect(id, &InspectOptions::default())
            .wait()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DatasetPathUnsafe, "{id}");
    }
    watch.assert_untouched("inspect");
}

#[test]
fn inspection_reports_the_digest_a_download_url_carries() {
    let f = Fixture::new();
    std::fs::write(
        f.root.join("chat-1"),
        b"{\"text\":\"hello\"}\n{\"text\":\"again\"}\n",
    )
    .unwrap();
    let report = f
        .staging
        .inspect("chat-1", &InspectOptions::default())
        .wait()
        .unwrap();
    assert_eq!(report.rows, 2);
    let dl = f
        .staging
        .signed_download_url(AUDIENCE, "job-1", "user-1", "chat-1", None)
        .wait()
        .unwrap();
    assert_eq!(dl.sha256, report.sha256);
    assert_eq!(dl.size, report.bytes);
    // An invalid dataset is refused with its lines, as `validate` refuses it.
    std::fs::write(f.root.join("bad-1"), b"{\"text\":1}\n").unwrap();
    let err = f
        .staging
        .inspect("bad-1", &InspectOptions::default())
        .wait()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatasetInvalid, "{err}");
}

#[test]
fn hard_links_can_be_allowed_explicitly() {
    let f = Fixture::new();
    let root = f.root.clone();
    let staging = AppStaging::new(
        &root,
        tokens(f.clock.clone(), staging_support::KEYS, AUDIENCE),
    )
    .unwrap()
    .allow_hardlinks(true);
    let auth = format!("Bearer {}", f.token_for("job-1", "hard"));
    let grant = staging
        .authorize_dataset_download(Some(&auth), None, "hard", None)
        .wait()
        .unwrap();
    assert_eq!(grant.status, 200);
}

#[test]
fn a_symlink_swapped_in_after_the_url_was_issued_is_refused() {
    let f = Fixture::new();
    let dl = f
        .staging
        .signed_download_url(AUDIENCE, "job-1", "user-1", "ds-1", None)
        .wait()
        .unwrap();
    let watch = OpenWatch::new(&f);
    std::fs::remove_file(f.root.join("ds-1")).unwrap();
    std::os::unix::fs::symlink(&f.canary, f.root.join("ds-1")).unwrap();
    let auth = format!("Bearer {}", dl.token.expose());
    let err = refused(&f, Some(&auth), "ds-1");
    assert_eq!(err.kind(), ErrorKind::DatasetPathUnsafe, "{err}");
    watch.assert_untouched("swapped symlink");
}

#[test]
fn a_dataset_deleted_after_its_url_was_issued_is_404() {
    let f = Fixture::new();
    let dl = f
        .staging
        .signed_download_url(AUDIENCE, "job-1", "user-1", "ds-1", None)
        .wait()
        .unwrap();
    std::fs::remove_file(f.root.join("ds-1")).unwrap();
    let auth = format!("Bearer {}", dl.token.expose());
    let err = refused(&f, Some(&auth), "ds-1");
    assert_eq!(err.kind(), ErrorKind::DatasetNotFound);
    assert_eq!(err.kind().http_status(), 404);
    assert_eq!(err.code(), "DATASET_NOT_FOUND");
    // Never staged at all: the same.
    let auth = format!("Bearer {}", f.token_for("job-1", "never"));
    assert_eq!(
        refused(&f, Some(&auth), "never").kind(),
        ErrorKind::DatasetNotFound
    );
    let err = f
        .staging
        .signed_download_url(AUDIENCE, "job-1", "user-1", "ds-1", None)
        .wait()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatasetNotFound);
}

#[test]
fn a_dataset_replaced_under_the_same_id_gets_a_new_digest_and_etag() {
    let f = Fixture::new();
    let first = get(&f, Some(&f.bearer()), "ds-1").unwrap();
    let path = f.root.join("ds-1");
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"{\"text\":\"new\"}\n").unwrap();
    let second = get(&f, Some(&f.bearer()), "ds-1").unwrap();
    assert_ne!(first.etag, second.etag);
    assert_eq!(second.size, 15);
    // In place, same size, mtime set back: ctime still changes, so the digest is recomputed.
    std::fs::write(&path, b"{\"text\":\"NEW\"}\n").unwrap();
    let third = get(&f, Some(&f.bearer()), "ds-1").unwrap();
    assert_ne!(second.sha256, third.sha256);
}

#[test]
fn token_failures_have_their_status_and_code() {
    let f = Fixture::new();
    let watch = OpenWatch::new(&f);
    let t = f.token_for("job-1", "ds-1");
    let other_app = tokens(
        f.clock.clone(),
        "k1:active:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8",
        AUDIENCE,
    );
    let other_audience = tokens(
        f.clock.clone(),
        staging_support::KEYS,
        "https://other.example",
    );
    let issue = |tokens: &trainpod::token::Tokens, p: Purpose, ds: Option<&str>| {
        let mut req = IssueRequest::new(p, "user-1", "job-1");
        req.dataset = ds.map(str::to_owned);
        format!("Bearer {}", tokens.issue(&req).unwrap().token.expose())
    };
    // Change the tag's first character: it carries six whole bits, so any letter stays canonical
    // base64url (the last one has padding bits, where a change can make the token malformed).
    let mut tampered = t.clone().into_bytes();
    let first = t.rfind('.').unwrap() + 1;
    tampered[first] = if tampered[first] == b'A' { b'B' } else { b'A' };
    let tampered = format!("Bearer {}", String::from_utf8(tampered).unwrap());
    let cases: Vec<(&str, Option<String>, ErrorKind)> = vec![
        ("no header", None, ErrorKind::TokenMissing),
        ("empty header", Some(String::new()), ErrorKind::TokenMissing),
        (
            "basic scheme",
            Some(format!("Basic {t}")),
            ErrorKind::TokenMissing,
        ),
        ("bare token", Some(t.clone()), ErrorKind::TokenMissing),
        (
            "garbage",
            Some("Bearer garbage".into()),
            ErrorKind::TokenMalformed,
        ),
        (
            "tampered tag",
            Some(tampered),
            ErrorKind::TokenSignatureInvalid,
        ),
        (
            "metrics token",
            Some(issue(f.staging.tokens(), Purpose::MetricsWrite, None)),
            ErrorKind::TokenWrongPurpose,
        ),
        (
            "artifacts token naming the dataset",
            Some(issue(
                f.staging.tokens(),
                Purpose::ArtifactsWrite,
                Some("ds-1"),
            )),
            ErrorKind::TokenWrongPurpose,
        ),
        (
            "another app's key",
            Some(issue(&other_app, Purpose::DatasetRead, Some("ds-1"))),
            ErrorKind::TokenSignatureInvalid,
        ),
        (
            "another audience",
            Some(issue(&other_audience, Purpose::DatasetRead, Some("ds-1"))),
            ErrorKind::TokenWrongAudience,
        ),
        (
            "another dataset",
            Some(format!("Bearer {}", f.token_for("job-1", "ds-2"))),
            ErrorKind::TokenScopeMismatch,
        ),
    ];
    for (case, auth, kind) in cases {
        let err = refused(&f, auth.as_deref(), "ds-1");
        let kinds = [
            kind,
            ErrorKind::TokenSignatureInvalid,
            ErrorKind::TokenWrongPurpose,
        ];
        // A token of another purpose is signed with another derived key: either refusal holds.
        let ok = if kind == ErrorKind::TokenWrongPurpose {
            kinds.contains(&err.kind())
        } else {
            err.kind() == kind
        };
        assert!(ok, "{case}: {err}");
        assert!(err.kind().is_token_error(), "{case}");
        assert!(matches!(err.kind().http_status(), 401 | 403), "{case}");
        watch.assert_untouched(case);
    }
}

#[test]
fn a_token_for_another_job_is_refused_where_the_route_names_the_job() {
    let f = Fixture::new();
    let auth = format!("Bearer {}", f.token_for("job-2", "ds-1"));
    let req = |job| DownloadRequest {
        authorization: Some(&auth),
        dataset_id: "ds-1",
        job,
        ..DownloadRequest::default()
    };
    let err = f.staging.authorize(&req(Some("job-1"))).wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenScopeMismatch);
    assert_eq!(
        f.staging
            .authorize(&req(Some("job-2")))
            .wait()
            .unwrap()
            .claims
            .job,
        "job-2"
    );
    assert_eq!(f.staging.authorize(&req(None)).wait().unwrap().status, 200);
}

#[test]
fn expiry_is_enforced_with_the_leeway() {
    let f = Fixture::new();
    let dl = f
        .staging
        .signed_download_url(AUDIENCE, "job-1", "user-1", "ds-1", Some(600))
        .wait()
        .unwrap();
    assert_eq!(dl.expires_at, NOW + 600);
    let auth = format!("Bearer {}", dl.token.expose());
    f.clock.set(NOW + 600 + 59);
    assert_eq!(get(&f, Some(&auth), "ds-1").unwrap().status, 200);
    f.clock.set(NOW + 600 + 60);
    let err = refused(&f, Some(&auth), "ds-1");
    assert_eq!(err.kind(), ErrorKind::TokenExpired);
    assert_eq!(err.kind().http_status(), 401);
    // Not yet valid: a token from the future beyond the leeway.
    f.clock.set(NOW - 61);
    assert_eq!(
        refused(&f, Some(&auth), "ds-1").kind(),
        ErrorKind::TokenNotYetValid
    );
    // Lifetimes over 24 hours are never issued.
    let err = f
        .staging
        .signed_download_url(AUDIENCE, "job-1", "user-1", "ds-1", Some(24 * 3600 + 1))
        .wait()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn query_tokens_work_alone_are_refused_beside_a_header_and_can_be_turned_off() {
    let f = Fixture::new();
    let dl = f
        .staging
        .signed_download_url(AUDIENCE, "job-1", "user-1", "ds-1", None)
        .wait()
        .unwrap();
    let t = dl.token.expose();
    assert_eq!(dl.url_with_token, format!("{}?token={t}", dl.url));
    let q = |auth: Option<&str>, query: Option<&str>| {
        f.staging
            .authorize_dataset_download(auth, query, "ds-1", None)
            .wait()
    };
    assert_eq!(q(None, Some(t)).unwrap().status, 200);
    let bearer = format!("Bearer {t}");
    assert_eq!(
        q(Some(&bearer), Some(t)).unwrap_err().kind(),
        ErrorKind::TokenMalformed
    );
    assert_eq!(q(Some(&bearer), Some("")).unwrap().status, 200);
    let strict = AppStaging::new(
        &f.root,
        tokens(f.clock.clone(), staging_support::KEYS, AUDIENCE),
    )
    .unwrap()
    .allow_query_token(false);
    let err = strict
        .authorize_dataset_download(None, Some(t), "ds-1", None)
        .wait()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenMissing);
    assert!(format!("{dl:?}").contains("<redacted>") && !format!("{dl:?}").contains(t));
}

fn body(g: &Grant) -> Vec<u8> {
    let mut out = vec![0u8; usize::try_from(g.length).unwrap()];
    let mut pos = 0;
    while pos < out.len() {
        let n = g.read_at(&mut out[pos..], pos as u64).unwrap();
        assert!(n > 0);
        pos += n;
    }
    assert_eq!(
        g.read_at(&mut [0u8; 8], g.length).unwrap(),
        0,
        "never past the range"
    );
    out
}

/// What a binding streams: the body read chunk by chunk off the calling thread.
#[test]
fn a_grant_body_reads_its_range_in_chunks_then_closes_the_file() {
    let f = Fixture::new();
    let auth = f.bearer();
    let read_all = |range: Option<&str>| {
        let grant = f
            .staging
            .authorize_dataset_download(Some(&auth), None, "ds-1", range)
            .wait()
            .unwrap();
        let mut body = grant.into_body();
        let mut out = Vec::new();
        while let Some(chunk) = body.next_chunk().wait().unwrap() {
            assert!(!chunk.is_empty() && chunk.len() <= trainpod::staging::BODY_CHUNK);
            out.extend(chunk);
        }
        assert!(!body.is_open(), "the file is closed at the end");
        out
    };
    assert_eq!(read_all(None), f.data);
    assert_eq!(read_all(Some("bytes=3-9")), f.data[3..10].to_vec());
    assert!(read_all(Some(&format!("bytes={}-", f.data.len()))).is_empty());
    let mut closed = f
        .staging
        .authorize_dataset_download(Some(&auth), None, "ds-1", None)
        .wait()
        .unwrap()
        .into_body();
    closed.close();
    assert_eq!(closed.next_chunk().wait().unwrap(), None);
}

#[test]
fn ranges_give_200_206_or_416_with_their_headers() {
    let f = Fixture::new();
    let auth = f.bearer();
    let size = f.data.len() as u64;
    let ranged = |range: &str| {
        f.staging
            .authorize_dataset_download(Some(&auth), None, "ds-1", Some(range))
            .wait()
            .unwrap()
    };
    let full = get(&f, Some(&auth), "ds-1").unwrap();
    assert_eq!((full.status, full.offset, full.length), (200, 0, size));
    assert_eq!(body(&full), f.data);
    assert_eq!(
        full.header("content-length"),
        Some(size.to_string().as_str())
    );
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        full.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(full.header("content-range"), None);
    assert_eq!(full.header("etag"), Some(full.etag.as_str()));
    assert_eq!(full.etag, format!("\"sha256-{}\"", full.sha256));
    use sha2::Digest;
    assert_eq!(full.sha256, hex(&sha2::Sha256::digest(&f.data)));

    let part = ranged("bytes=100-199");
    assert_eq!((part.status, part.offset, part.length), (206, 100, 100));
    assert_eq!(body(&part), f.data[100..200]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-199/{size}").as_str())
    );
    assert_eq!(part.header("content-length"), Some("100"));
    let tail = ranged("bytes=-10");
    assert_eq!(body(&tail), f.data[f.data.len() - 10..]);
    let resume = ranged(&format!("bytes={}-", size - 1));
    assert_eq!((resume.status, resume.length), (206, 1));

    for absurd in [
        format!("bytes={size}-"),
        format!("bytes={}-{}", size + 5, size + 10),
        "bytes=-0".to_owned(),
        "bytes=18446744073709551615-".to_owned(),
        "bytes=99999999999999999999999999999999-".to_owned(),
    ] {
        let g = ranged(&absurd);
        assert_eq!((g.status, g.length), (416, 0), "{absurd}");
        assert_eq!(
            g.header("content-range"),
            Some(format!("bytes */{size}").as_str())
        );
        assert_eq!(g.header("content-length"), Some("0"));
    }
    for ignored in [
        "bytes=0-1,5-6",
        "bytes=0-0,-1",
        "bytes=5-2",
        "bytes=abc",
        "bytes=",
        "bytes=--1",
        "bytes=1-2-3",
        "pages=1-2",
        "bytes = 1-2",
        "bytes=0x1-",
        "bytes=-1-",
        "bytes=1 - 2",
        "bytes=\u{ff11}-",
        "bytes=0-1\r\nAuthorization: Bearer x",
    ] {
        let g = ranged(ignored);
        assert_eq!((g.status, g.length), (200, size), "{ignored:?}");
    }
    let huge_last = ranged("bytes=10-99999999999999999999999999");
    assert_eq!(
        (huge_last.status, huge_last.offset, huge_last.length),
        (206, 10, size - 10)
    );
}

#[test]
fn if_range_serves_the_range_only_for_the_current_etag() {
    let f = Fixture::new();
    let auth = f.bearer();
    let etag = get(&f, Some(&auth), "ds-1").unwrap().etag;
    let with = |if_range: &str| {
        f.staging
            .authorize(&DownloadRequest {
                authorization: Some(&auth),
                dataset_id: "ds-1",
                range: Some("bytes=5-"),
                if_range: Some(if_range),
                ..DownloadRequest::default()
            })
            .wait()
            .unwrap()
            .status
    };
    assert_eq!(with(&etag), 206);
    assert_eq!(with("\"sha256-0000\""), 200);
    assert_eq!(with(&format!("W/{etag}")), 200);
    assert_eq!(with("Thu, 01 Jan 2026 00:00:00 GMT"), 200);
}

#[test]
fn an_empty_dataset_is_served_and_every_range_of_it_is_416() {
    let f = Fixture::with_data(Vec::new());
    let auth = f.bearer();
    let g = get(&f, Some(&auth), "ds-1").unwrap();
    assert_eq!((g.status, g.length), (200, 0));
    let r = f
        .staging
        .authorize_dataset_download(Some(&auth), None, "ds-1", Some("bytes=0-"))
        .wait()
        .unwrap();
    assert_eq!(r.status, 416);
}

#[test]
fn signed_urls_name_the_dataset_size_and_digest() {
    let f = Fixture::new();
    let dl = f
        .staging
        .signed_download_url(
            "https://app.example.com/api/tp/",
            "job-1",
            "user-1",
            "ds-1",
            None,
        )
        .wait()
        .unwrap();
    assert_eq!(dl.url, "https://app.example.com/api/tp/datasets/ds-1");
    assert_eq!(dl.size, f.data.len() as u64);
    assert_eq!(dl.sha256, f.staging.digest("ds-1").wait().unwrap());
    assert_eq!(dl.expires_at, NOW + 15 * 60);
    for bad in ["..", "a/b", "%2e%2e", ""] {
        let err = f
            .staging
            .signed_download_url(AUDIENCE, "job-1", "user-1", bad, None)
            .wait()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
    }
    let err = f
        .staging
        .signed_download_url(
            "https://u:p@app.example.com",
            "job-1",
            "user-1",
            "ds-1",
            None,
        )
        .wait()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_root_that_is_not_a_directory_is_refused() {
    let f = Fixture::new();
    let t = || tokens(f.clock.clone(), staging_support::KEYS, AUDIENCE);
    for root in [f.root.join("ds-1"), f.base.join("missing")] {
        let err = AppStaging::new(&root, t()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
