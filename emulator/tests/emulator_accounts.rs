//! Several accounts on one emulator, through raw v2 calls on loopback: each account sees and
//! touches its own pods only (another's answers 404 as a missing one, and is left out of lists
//! and bills), a read-only key reads and never writes (403 before any routing), a key without
//! access reads only the catalog, a revoked key is 401; keys added through the handle, the
//! control endpoint and the binary's `--account`.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::{Api, CU128_IMAGE, WAIT, header, pod};
use trainpod::runpod::Method;
use trainpod_emulator::{ACCOUNT_KEY, AccountKey, DEFAULT_ACCOUNT, Emulator, Options, Permission};

fn id(pod: &Value) -> String {
    pod["id"].as_str().unwrap().to_owned()
}

fn ids(list: &Value) -> Vec<&str> {
    list["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect()
}

fn forbidden() -> Value {
    json!({"title": "Forbidden", "status": 403,
        "detail": "this key lacks permission for the request"})
}

fn not_found(pod_id: &str) -> Value {
    json!({"title": "Not Found", "status": 404, "detail": format!("pod {pod_id} not found")})
}

/// Every v2 operation on `pod_id` answers 404, exactly as for a pod that does not exist.
async fn assert_hidden(api: &Api, pod_id: &str) {
    let one = format!("/pods/{pod_id}");
    let calls = [
        (Method::Get, one.clone(), None),
        (
            Method::Patch,
            one.clone(),
            Some(json!({"name": "mine-now"})),
        ),
        (Method::Delete, one.clone(), None),
        (
            Method::Post,
            format!("{one}/action"),
            Some(json!({"action": "stop"})),
        ),
        (Method::Get, format!("{one}/logs?source=container"), None),
    ];
    for (method, path, body) in calls {
        let (status, out) = api.json(method, &path, body.as_ref()).await;
        assert_eq!((status, &out), (404, &not_found(pod_id)), "{path}");
    }
    let (_, list) = api.get("/pods").await;
    assert!(!ids(&list).contains(&pod_id), "{list}");
    let (status, bill) = api.get(&format!("/billing/pods?podId={pod_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(bill["records"], json!([]), "{bill}");
    assert_eq!(bill["metadata"]["totals"]["totalAmount"], 0.0);
}

#[tokio::test]
async fn two_accounts_never_see_or_touch_each_others_pods() {
    let emu = Emulator::start().await.unwrap();
    let default = Api::new(&emu);
    let alice = default.with_key(&emu.add_account("alice").unwrap());
    emu.add_key("bob", "rpa_bob", Permission::All).unwrap();
    let bob = default.with_key("rpa_bob");
    let a = id(&alice.create(&pod("trainpod-alice", CU128_IMAGE)).await);
    let b = id(&bob.create(&pod("trainpod-bob", CU128_IMAGE)).await);
    let d = id(&default.create(&pod("trainpod-default", CU128_IMAGE)).await);
    assert_eq!(emu.pod_account(&a).as_deref(), Some("alice"));
    assert_eq!(emu.pod_account(&d).as_deref(), Some(DEFAULT_ACCOUNT));
    emu.advance(3600);
    for (api, own) in [(&alice, &a), (&bob, &b), (&default, &d)] {
        let (_, list) = api.get("/pods").await;
        assert_eq!(ids(&list), [own.as_str()], "{list}");
        let (_, bill) = api.get("/billing/pods").await;
        assert_eq!(bill["records"].as_array().unwrap().len(), 1, "{bill}");
        assert_eq!(bill["records"][0]["podId"], own.as_str());
        // One hour of an A40 on secure cloud: only the account's own pod is summed.
        let total = bill["metadata"]["totals"]["totalAmount"].as_f64().unwrap();
        assert!((total - 0.40).abs() < 1e-9, "{bill}");
    }
    assert_hidden(&bob, &a).await;
    assert_hidden(&default, &a).await;
    assert_hidden(&alice, &b).await;
    // Alice's pod went through all that untouched.
    let (status, mine) = alice.get(&format!("/pods/{a}")).await;
    assert_eq!((status, mine["status"].as_str()), (200, Some("RUNNING")));
    assert_eq!(mine["name"], "trainpod-alice");
    // A pod key belongs to its pod's account.
    let scoped = default.with_key(&emu.pod_key(&a));
    let (_, list) = scoped.get("/pods").await;
    assert_eq!(ids(&list), [a.as_str()]);
    // runpodctl, RunPod's other path, keeps to the key's account as well.
    let (status, text) = bob.runpodctl(&["pod", "delete", &a]).await;
    assert_eq!(status, 400);
    assert!(text.contains(&format!("pod {a} not found")), "{text}");
    assert_eq!(emu.pod_status(&a), Some("RUNNING"));
    let (status, _) = alice
        .json(Method::Delete, &format!("/pods/{a}"), None)
        .await;
    assert_eq!(status, 204);
    // The record tells which account made each call.
    let requests = emu.requests();
    let uri = format!("/v2/pods/{a}");
    let on_a = |method: &str| {
        requests
            .iter()
            .filter(|r| r.uri == uri && r.method == method)
            .map(|r| r.account.as_deref().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(on_a("PATCH"), ["bob", DEFAULT_ACCOUNT]);
    assert_eq!(on_a("DELETE"), ["bob", DEFAULT_ACCOUNT, "alice"]);
    let (_, record) = default.control(Method::Get, "requests", None).await;
    assert!(
        record["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["account"] == "bob" && r["method"] == "PATCH"),
        "{record}"
    );
}

#[tokio::test]
async fn a_read_only_key_reads_and_every_write_is_403_before_routing() {
    let emu = Emulator::start().await.unwrap();
    let full = Api::new(&emu);
    emu.add_key(DEFAULT_ACCOUNT, "rpa_ro", Permission::ReadOnly)
        .unwrap();
    let ro = full.with_key("rpa_ro");
    let p = id(&full.create(&pod("trainpod-ro", CU128_IMAGE)).await);
    let one = format!("/pods/{p}");
    for path in [
        "/pods",
        one.as_str(),
        "/catalog/gpus",
        "/catalog/gpus/NVIDIA%20A40",
        "/billing/pods",
    ] {
        let (status, out) = ro.get(path).await;
        assert_eq!(status, 200, "{path}: {out}");
    }
    let logs = ro.stream(&format!("{one}/logs"), None).await;
    assert_eq!(logs.status, 200);
    drop(logs);
    // A write is refused for the key, not for the request: a missing pod or a bad body does
    // not turn it into a 404 or a 422.
    let writes = [
        (
            Method::Post,
            "/pods".to_owned(),
            json!({"name": "p", "image": "i", "gpu": {"id": "NVIDIA A40"}}),
        ),
        (Method::Post, "/pods".to_owned(), json!({"unknown": true})),
        (Method::Patch, one.clone(), json!({"name": "renamed"})),
        (Method::Delete, one.clone(), Value::Null),
        (
            Method::Post,
            format!("{one}/action"),
            json!({"action": "stop"}),
        ),
        (Method::Delete, "/pods/no-such-pod".to_owned(), Value::Null),
        (
            Method::Patch,
            "/pods/no-such-pod".to_owned(),
            json!({"disk": "huge"}),
        ),
        (
            Method::Post,
            "/pods/no-such-pod/action".to_owned(),
            json!({}),
        ),
        (Method::Post, "/no/such/route".to_owned(), Value::Null),
    ];
    for (method, path, body) in writes {
        let body = (!body.is_null()).then_some(body);
        let resp = ro.send(method, &path, body.as_ref()).await;
        let out: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!((resp.status, &out), (403, &forbidden()), "{path}");
        assert_eq!(
            header(&resp, "content-type"),
            Some("application/problem+json")
        );
        assert!(
            header(&resp, "ratelimit").is_some(),
            "an authenticated answer"
        );
    }
    assert_eq!(emu.pod_count(), 1);
    assert_eq!(emu.pod_status(&p), Some("PROVISIONING"));
    // The same unknown pod with a key that may write: 404.
    let (status, _) = full.json(Method::Delete, "/pods/no-such-pod", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_key_without_access_reads_only_the_catalog() {
    let emu = Emulator::start().await.unwrap();
    let full = Api::new(&emu);
    emu.add_key(DEFAULT_ACCOUNT, "rpa_none", Permission::None)
        .unwrap();
    let none = full.with_key("rpa_none");
    let p = id(&full.create(&pod("trainpod-none", CU128_IMAGE)).await);
    for path in ["/catalog/gpus", "/catalog/gpus/NVIDIA%20A40"] {
        assert_eq!(none.get(path).await.0, 200, "{path}");
    }
    let one = format!("/pods/{p}");
    for (method, path) in [
        (Method::Get, "/pods".to_owned()),
        (Method::Get, one.clone()),
        (Method::Get, format!("{one}/logs")),
        (Method::Get, "/billing/pods".to_owned()),
        (Method::Get, "/pods/no-such-pod".to_owned()),
        (Method::Delete, one.clone()),
        (Method::Post, "/pods".to_owned()),
    ] {
        let (status, out) = none.json(method, &path, None).await;
        assert_eq!((status, &out), (403, &forbidden()), "{path}");
    }
    assert_eq!(emu.pod_status(&p), Some("PROVISIONING"));
    let (status, text) = none.runpodctl(&["pod", "stop", &p]).await;
    assert_eq!(status, 400);
    assert!(text.contains("lacks permission"), "{text}");
}

#[tokio::test]
async fn a_revoked_key_is_401_and_the_accounts_other_keys_still_work() {
    let emu = Emulator::start().await.unwrap();
    let default = Api::new(&emu);
    emu.add_key("alice", "rpa_alice_1", Permission::All)
        .unwrap();
    emu.add_key("alice", "rpa_alice_2", Permission::All)
        .unwrap();
    let (one, two) = (
        default.with_key("rpa_alice_1"),
        default.with_key("rpa_alice_2"),
    );
    let p = id(&one.create(&pod("trainpod-revoked", CU128_IMAGE)).await);
    let (status, out) = default
        .control(Method::Delete, "keys/rpa_alice_1", None)
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out, json!({"revoked": "rpa_alice_1", "account": "alice"}));
    let resp = one.send(Method::Get, "/pods", None).await;
    assert_eq!(resp.status, 401);
    let out: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(
        out,
        json!({"title": "Unauthorized", "status": 401, "detail": "invalid api key"})
    );
    assert_eq!(header(&resp, "ratelimit"), None);
    let (status, list) = two.get("/pods").await;
    assert_eq!((status, ids(&list)), (200, vec![p.as_str()]));
    let (status, _) = default
        .control(Method::Delete, "keys/rpa_alice_1", None)
        .await;
    assert_eq!(status, 404, "already revoked");
    // A pod key and the default account's key are revoked alike.
    let scoped = default.with_key(&emu.pod_key(&p));
    assert_eq!(scoped.get(&format!("/pods/{p}")).await.0, 200);
    assert!(emu.revoke_key(&emu.pod_key(&p)));
    assert_eq!(scoped.get(&format!("/pods/{p}")).await.0, 401);
    assert!(emu.revoke_key(ACCOUNT_KEY));
    assert!(!emu.revoke_key(ACCOUNT_KEY));
    assert_eq!(default.get("/pods").await.0, 401);
    let record = emu.requests();
    assert_eq!(record.last().unwrap().account, None);
}

#[tokio::test]
async fn the_control_endpoint_adds_accounts_keys_and_permissions() {
    let emu = Emulator::start().await.unwrap();
    let api = Api::new(&emu);
    let add = |body: Value| {
        let api = &api;
        async move { api.control(Method::Post, "accounts", Some(&body)).await }
    };
    let (status, out) = add(json!({"account": "alice"})).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out,
        json!({"account": "alice", "key": "rpa_emulator_alice_key", "permission": "all"})
    );
    let (status, out) = add(json!({"account": "alice"})).await;
    assert_eq!(
        (status, &out["key"]),
        (200, &json!("rpa_emulator_alice_key2"))
    );
    let (status, out) =
        add(json!({"account": "alice", "key": "rpa_alice_ro", "permission": "read_only"})).await;
    assert_eq!(status, 200, "{out}");
    let (status, out) =
        add(json!({"account": "carol", "key": "rpa_carol", "permission": "none"})).await;
    assert_eq!(status, 200, "{out}");
    let refused = [
        (json!({"account": "bob", "key": ACCOUNT_KEY}), 409),
        (json!({"account": "bob", "key": "rpa_alice_ro"}), 409),
        (json!({"account": "bob", "permission": "write"}), 400),
        (json!({"account": "bob", "scope": "pods"}), 400),
        (json!({"key": "rpa_nobody"}), 400),
        (json!({"account": "b o b"}), 400),
        (json!({"account": "bob", "key": "has space"}), 400),
        (json!({"account": 7}), 400),
    ];
    for (body, want) in refused {
        let (status, out) = add(body.clone()).await;
        assert_eq!(status, want, "{body}: {out}");
        assert!(out["error"].is_string(), "{out}");
    }
    let (status, out) = api.control(Method::Get, "accounts", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        out,
        json!({"accounts": [
            {"account": "alice", "keys": [
                {"key": "rpa_emulator_alice_key", "permission": "all"},
                {"key": "rpa_emulator_alice_key2", "permission": "all"},
                {"key": "rpa_alice_ro", "permission": "read_only"}]},
            {"account": "carol", "keys": [{"key": "rpa_carol", "permission": "none"}]},
            {"account": "default", "keys": [{"key": ACCOUNT_KEY, "permission": "all"}]},
        ]}),
        "nothing refused was added"
    );
    assert_eq!(emu.accounts().len(), 5);
    // The permission of a key the account holds can change.
    let ro = api.with_key("rpa_alice_ro");
    assert_eq!(ro.json(Method::Post, "/pods", None).await.0, 403);
    let (status, _) = add(json!({"account": "alice", "key": "rpa_alice_ro"})).await;
    assert_eq!(status, 200);
    let p = id(&ro.create(&pod("trainpod-promoted", CU128_IMAGE)).await);
    let (_, record) = api.control(Method::Get, &format!("pods/{p}"), None).await;
    assert_eq!(record["account"], "alice");
}

#[tokio::test]
async fn accounts_in_the_options_and_one_key_for_two_accounts_fails_the_start() {
    let key = |account: &str, key: &str, permission| AccountKey {
        account: account.into(),
        key: key.into(),
        permission,
    };
    let emu = Emulator::start_with(Options {
        accounts: vec![
            key("alice", "rpa_alice", Permission::All),
            key("alice", "rpa_alice_ro", Permission::ReadOnly),
        ],
        ..Options::default()
    })
    .await
    .unwrap();
    let alice = Api::new(&emu).with_key("rpa_alice");
    alice.create(&pod("trainpod-opt", CU128_IMAGE)).await;
    let (_, list) = alice.with_key("rpa_alice_ro").get("/pods").await;
    assert_eq!(ids(&list).len(), 1);
    let (_, list) = Api::new(&emu).get("/pods").await;
    assert_eq!(ids(&list).len(), 0);
    let clash = Emulator::start_with(Options {
        accounts: vec![key("bob", ACCOUNT_KEY, Permission::All)],
        ..Options::default()
    })
    .await;
    assert!(clash.is_err());
}

#[tokio::test]
async fn the_binary_takes_accounts_on_its_command_line() {
    use tokio::io::AsyncBufReadExt;
    let mut bin = tokio::process::Command::new(env!("CARGO_BIN_EXE_trainpod-emulator"))
        .args(["--account", "alice:rpa_alice"])
        .args(["--account", "alice:rpa_alice_ro:read_only"])
        .args(["--account", "bob:rpa_bob:none"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(bin.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(WAIT, out.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let alice = Api::at(&base, "rpa_alice");
    let p = id(&alice.create(&pod("trainpod-cli", CU128_IMAGE)).await);
    let ro = alice.with_key("rpa_alice_ro");
    let (_, list) = ro.get("/pods").await;
    assert_eq!(ids(&list), [p.as_str()]);
    let (status, _) = ro.json(Method::Delete, &format!("/pods/{p}"), None).await;
    assert_eq!(status, 403);
    assert_eq!(alice.with_key("rpa_bob").get("/pods").await.0, 403);
    let (status, list) = alice.with_key(ACCOUNT_KEY).get("/pods").await;
    assert_eq!((status, ids(&list).len()), (200, 0));
    drop(bin.stdin.take());
    let status = tokio::time::timeout(WAIT, bin.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    for bad in ["alice", "alice:rpa:write", "a b:rpa"] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_trainpod-emulator"))
            .args(["--account", bad])
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--account"), "{bad}: {err}");
    }
}
