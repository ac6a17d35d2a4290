//! The reachability preflight: every way an app URL can be invisible to a pod is refused with
//! `URL_UNREACHABLE_FROM_POD` and its fixes; public URLs pass.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::collections::HashMap;
use std::net::IpAddr;
use trainpod::ErrorKind;
use trainpod::reach::{ReachPolicy, Resolver, check_reachable};

/// A resolver answering from a table, so tests need no network; unknown names fail to resolve.
#[derive(Debug)]
struct Table(HashMap<&'static str, Vec<IpAddr>>);

impl Resolver for Table {
    fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        self.0
            .get(host)
            .cloned()
            .ok_or_else(|| std::io::Error::other("no such host"))
    }
}

fn table() -> Table {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    Table(HashMap::from([
        ("app.example.com", vec![ip("93.184.215.14")]),
        ("v6.example.com", vec![ip("2606:2800:21f:cb07::1")]),
        (
            "rebind.example.com",
            vec![ip("93.184.215.14"), ip("10.0.0.5")],
        ),
        ("metadata.example.com", vec![ip("169.254.169.254")]),
        ("loop.example.com", vec![ip("127.0.0.1")]),
        ("empty.example.com", vec![]),
    ]))
}

#[test]
fn public_https_urls_pass() {
    for url in [
        "https://app.example.com/api/datasets/1/download",
        "https://v6.example.com:8443/x?y=1",
        "https://93.184.215.14/",
    ] {
        assert!(
            check_reachable(url, ReachPolicy::Public, &table()).is_ok(),
            "{url}"
        );
    }
}

#[test]
fn unreachable_urls_are_refused_with_the_fixes() {
    let cases = [
        "http://localhost:3000/api/metrics",
        "https://localhost/",
        "https://LOCALHOST./",
        "https://127.0.0.1/",
        "https://127.1/",
        "https://0x7f.0.0.1/",
        "https://2130706433/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://0.0.0.0/",
        "https://10.1.2.3/",
        "https://172.16.0.1/",
        "https://192.168.1.10/",
        "https://100.64.0.1/",
        "https://169.254.169.254/latest/meta-data",
        "https://[fe80::1]/",
        "https://[fd00::1]/",
        "https://app.local/",
        "https://db.internal/",
        "https://x.localhost/",
        "https://printer.home.arpa/",
        "https://intranet/",
        "https://rebind.example.com/",
        "https://metadata.example.com/",
        "https://loop.example.com/",
        "https://empty.example.com/",
        "https://does-not-resolve.example.com/",
        "http://app.example.com/",
        "ftp://app.example.com/",
    ];
    for url in cases {
        let err = check_reachable(url, ReachPolicy::Public, &table()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UrlUnreachableFromPod, "{url}: {err}");
        for fix in ["public https URL", "tunnel", "network volume"] {
            assert!(
                err.message().contains(fix),
                "{url}: the message must name the fix {fix:?}"
            );
        }
    }
}

#[test]
fn credentials_fragments_and_garbage_are_invalid_input() {
    for url in [
        "https://app@evil.example.com/",
        "https://u:p@app.example.com/",
        "https://app.example.com/#x",
        "not a url",
        "",
        "https://",
    ] {
        let err = check_reachable(url, ReachPolicy::Public, &table()).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::InvalidInput | ErrorKind::UrlUnreachableFromPod
            ),
            "{url}: {err}"
        );
        assert!(
            !err.message().contains(":p@"),
            "credentials must not be echoed"
        );
    }
}

#[test]
fn the_local_provider_may_allow_loopback() {
    for url in [
        "http://127.0.0.1:8080/x",
        "http://localhost:3000/",
        "http://[::1]:9/",
        "https://loop.example.com/",
    ] {
        assert!(
            check_reachable(url, ReachPolicy::AllowLoopback, &table()).is_ok(),
            "{url}"
        );
    }
    // Private networks stay out of reach even then.
    for url in [
        "http://10.0.0.1/",
        "http://192.168.0.2/",
        "https://metadata.example.com/",
    ] {
        assert!(
            check_reachable(url, ReachPolicy::AllowLoopback, &table()).is_err(),
            "{url}"
        );
    }
}
