//! Does the job's model exist, and can its pod get it? Checked by `plan`, before money is spent:
//! a model id with no repository on the Hugging Face Hub, a gated or private repository the
//! pod has no token for, or a directory missing from the job's network volume would otherwise
//! start a pod that fails seconds in, with its GPU already billed.
//!
//! A Hub id is asked of the Hub's model API (`GET {hub}/api/models/{id}`) with the token the pod
//! downloads with (`HF_TOKEN` in `pod_env`), so that the answer is the pod's own. A check that
//! cannot be made (no network, a timeout, the Hub failing) refuses nothing: the plan carries a
//! warning saying the model was not checked, and why.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Trainpod;
use super::spec::{DatasetRef, JobSpec};
use crate::error::{Error, Result};
// A Hub id is what the pod script takes as one; anything else is left to its check.
use crate::script::is_hub_id;

/// The Hugging Face Hub that model ids are checked against when nothing else is set.
pub const DEFAULT_HUB_URL: &str = "https://huggingface.co";
/// The variable the Hub's own clients read for another Hub (a mirror); read from the app's
/// environment when `hub_url` is not given (unless `ignore_env`).
pub const HUB_URL_ENV: &str = "HF_ENDPOINT";
/// The pod's Hub token, as the Hub's clients in the pod read it: `HF_TOKEN`, then the older
/// `HUGGING_FACE_HUB_TOKEN`.
const TOKEN_VARS: [&str; 2] = ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"];
/// An example the messages give of a well-formed model id.
const EXAMPLE_ID: &str = "Qwen/Qwen2.5-0.5B";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// After the Hub could not be reached, plans skip it this long with the same warning: a machine
/// without internet would otherwise wait out the timeout on every plan.
const UNREACHABLE_MEMO: Duration = Duration::from_secs(30);

/// The Hugging Face Hub as `plan` asks it about models.
#[derive(Debug)]
pub(crate) struct Hub {
    base: String,
    http: reqwest::Client,
    unreachable: Mutex<Option<(Instant, String)>>,
}

/// What the Hub said about a model, before it is put in words.
#[derive(Debug, PartialEq)]
enum Answer {
    /// The pod can download it.
    Fine,
    /// No repository by that id (or a private one the token, if any, cannot see).
    Missing,
    /// The token was refused as a token (revoked, mistyped).
    TokenRefused,
    /// Gated, and the pod's token (if any) has not been granted access.
    Gated,
    /// The repository refuses this token (a fine-grained token without read access to it, or a
    /// repository its owners disabled).
    Forbidden,
    /// The repository holds no `config.json`: not a model the trainer can load.
    NoConfig,
    /// The check could not be made, for this reason.
    Unchecked(String),
}

impl Hub {
    /// The Hub to check against: `given` (the builder's `hub_url`), else `HF_ENDPOINT` in the
    /// pods' environment (where the pod downloads from), else `env` (the app's `HF_ENDPOINT`),
    /// else [`DEFAULT_HUB_URL`].
    pub(crate) fn new(
        given: Option<&str>,
        pod_env: &BTreeMap<String, String>,
        env: Option<String>,
    ) -> Result<Hub> {
        let (url, source) = match (given, pod_env.get(HUB_URL_ENV), env) {
            (Some(url), _, _) => (url.to_owned(), "hub_url"),
            (None, Some(url), _) => (url.clone(), "HF_ENDPOINT in pod_env"),
            (None, None, Some(url)) => (url, "the HF_ENDPOINT environment variable"),
            (None, None, None) => (DEFAULT_HUB_URL.to_owned(), "hub_url"),
        };
        let base = check_hub_url(&url, source)?;
        let http = crate::runpod::tls_client(
            reqwest::Client::builder().timeout(REQUEST_TIMEOUT),
            CONNECT_TIMEOUT,
        )?;
        Ok(Hub {
            base,
            http,
            unreachable: Mutex::new(None),
        })
    }

    /// The Hub's base URL, without a trailing `/`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Asks the model API about `id`, then, for a gated model and a token, whether the token
    /// has been granted access (the model API answers a gated model's metadata to anyone).
    async fn ask(&self, id: &str, token: Option<&str>) -> Answer {
        if let Some(why) = self.recently_unreachable() {
            return Answer::Unchecked(why);
        }
        let info = match self
            .get(&format!("{}/api/models/{id}", self.base), token)
            .await
        {
            Ok(resp) => resp,
            Err(why) => return Answer::Unchecked(why),
        };
        if !info.status.is_success() {
            return refusal(&info, token.is_some());
        }
        let body: serde_json::Value = serde_json::from_slice(&info.body).unwrap_or_default();
        if lacks_config(&body) {
            return Answer::NoConfig;
        }
        // `gated` is false, or how access is granted: "auto" or "manual".
        let gated = !matches!(
            body.get("gated"),
            None | Some(serde_json::Value::Bool(false))
        );
        if !gated {
            return Answer::Fine;
        }
        if token.is_none() {
            return Answer::Gated;
        }
        let url = format!("{}/api/models/{id}/auth-check", self.base);
        match self.get(&url, token).await {
            Ok(resp) if resp.status.is_success() => Answer::Fine,
            // A 404 with no error code is a Hub (a mirror) without the access check, not an
            // answer about the model.
            Ok(resp)
                if matches!(resp.status.as_u16(), 401 | 403)
                    || (resp.status.as_u16() == 404 && resp.code.is_some()) =>
            {
                match refusal(&resp, true) {
                    Answer::TokenRefused => Answer::TokenRefused,
                    _ => Answer::Gated,
                }
            }
            Ok(resp) => Answer::Unchecked(format!(
                "the Hub answered HTTP {} when asked whether the token may download this gated \
                 model",
                resp.status.as_u16()
            )),
            Err(why) => Answer::Unchecked(why),
        }
    }

    /// One GET with the token as a bearer credential; a failure to get any answer is the
    /// reason, in words (never the token: it is not in the URL, and reqwest's errors carry no
    /// headers).
    async fn get(&self, url: &str, token: Option<&str>) -> std::result::Result<Reply, String> {
        let mut request = self
            .http
            .get(url)
            .header("user-agent", format!("trainpod/{}", crate::VERSION));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let sent = match request.send().await {
            Ok(resp) => {
                let status = resp.status();
                let code = header(&resp, "x-error-code");
                let message = header(&resp, "x-error-message");
                resp.bytes().await.map(|body| Reply {
                    status,
                    code,
                    message,
                    body: body.to_vec(),
                })
            }
            Err(e) => Err(e),
        };
        sent.map_err(|e| {
            let why = unreached(&e);
            if e.is_connect() || e.is_timeout() {
                self.remember_unreachable(&why);
            }
            why
        })
    }

    fn recently_unreachable(&self) -> Option<String> {
        let memo = self.unreachable.lock().unwrap_or_else(|p| p.into_inner());
        memo.as_ref()
            .filter(|(at, _)| at.elapsed() < UNREACHABLE_MEMO)
            .map(|(_, why)| why.clone())
    }

    fn remember_unreachable(&self, why: &str) {
        let mut memo = self.unreachable.lock().unwrap_or_else(|p| p.into_inner());
        *memo = Some((Instant::now(), why.to_owned()));
    }
}

/// One answer of the Hub.
struct Reply {
    status: reqwest::StatusCode,
    /// `X-Error-Code`: `RepoNotFound`, `GatedRepo`, ...
    code: Option<String>,
    /// `X-Error-Message`, such as "Invalid credentials in Authorization header".
    message: Option<String>,
    body: Vec<u8>,
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// What a 4xx or 5xx of the Hub means. Anonymous, the Hub answers 401 for a repository that
/// does not exist and for a private one alike (it does not tell which exist); with a token, 404
/// for both, and 401 for a token it does not accept.
fn refusal(reply: &Reply, with_token: bool) -> Answer {
    let status = reply.status.as_u16();
    let invalid_token = reply
        .message
        .as_deref()
        .is_some_and(|m| m.contains("Invalid credentials"))
        || String::from_utf8_lossy(&reply.body).contains("Invalid credentials");
    match (reply.code.as_deref(), status) {
        (Some("GatedRepo"), _) => Answer::Gated,
        (_, 401) if with_token && invalid_token => Answer::TokenRefused,
        (Some("RepoNotFound"), _) | (_, 404) => Answer::Missing,
        (_, 401) if with_token => Answer::TokenRefused,
        (_, 401) => Answer::Missing,
        (_, 403) => Answer::Forbidden,
        (_, 429) => Answer::Unchecked("the Hub is rate limiting this app (HTTP 429)".to_owned()),
        _ => Answer::Unchecked(format!("the Hub answered HTTP {status}")),
    }
}

/// Whether the model's files, when the Hub listed them, lack what the trainer loads first: a
/// `config.json` (or, for an adapter repository, `adapter_config.json`) at the top.
fn lacks_config(info: &serde_json::Value) -> bool {
    let Some(files) = info.get("siblings").and_then(|s| s.as_array()) else {
        return false;
    };
    let names: Vec<&str> = files
        .iter()
        .filter_map(|f| f.get("rfilename").and_then(|n| n.as_str()))
        .collect();
    !names.is_empty()
        && !names
            .iter()
            .any(|n| *n == "config.json" || *n == "adapter_config.json")
}

/// Why no answer came, as its deepest cause ("Connection refused", a DNS failure): reqwest's own
/// message only repeats the URL. No header is in it, so no token.
fn unreached(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!(
            "the Hub did not answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        );
    }
    let mut cause = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if e.is_connect() {
        format!("the Hub could not be reached: {cause}")
    } else {
        format!("the Hub's answer could not be read: {cause}")
    }
}

/// A Hub base URL: https, or http on loopback (a stand-in in tests); no credentials, query or
/// fragment. The value is not echoed: a mistyped one may hold a password.
fn check_hub_url(url: &str, source: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::invalid_input(format!(
            "{source} is invalid: {why}; give the Hub's base URL, such as {DEFAULT_HUB_URL} or \
             a mirror's https:// URL (http:// only on loopback, for a local stand-in)"
        ))
    };
    let parsed = url::Url::parse(url.trim()).map_err(|_| bad("it is not a URL"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("it has no host")),
    };
    if !(parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback)) {
        return Err(bad("it is neither https:// nor http:// on loopback"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "it carries a user name or password (the token goes in HF_TOKEN in pod_env)",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("it has a query or a #fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

impl Trainpod {
    /// Checks the spec's model; `Ok(Some(warning))` when it could not be checked, an
    /// `INVALID_INPUT` naming `model` and the fix when the pod could not get it.
    pub(super) async fn check_model(&self, spec: &JobSpec) -> Result<Option<String>> {
        let model = spec.model.as_str();
        if model.starts_with('/') {
            return self.check_model_path(spec, model).await;
        }
        if !is_hub_id(model) {
            return Ok(None);
        }
        let token = TOKEN_VARS
            .iter()
            .find_map(|name| self.pod_env.get(*name))
            .map(String::as_str)
            .filter(|t| !t.trim().is_empty());
        if token.is_some_and(|t| reqwest::header::HeaderValue::from_str(t).is_err()) {
            return Err(Error::invalid_input(
                "HF_TOKEN in pod_env is not a Hugging Face token: it holds characters no HTTP \
                 header can carry; copy the token again from https://huggingface.co/settings/tokens",
            ));
        }
        let hub = &self.hub;
        let page = format!("{}/{model}", hub.base());
        let answer = hub.ask(model, token).await;
        let with_token = token.is_some();
        let shown = crate::error::quote(model);
        let refuse = |fix: String| Err(Error::invalid_input(format!("model {shown}: {fix}")));
        match answer {
            Answer::Fine => Ok(None),
            Answer::Unchecked(why) => Ok(Some(format!(
                "model {shown} was not checked on the Hugging Face Hub ({why}): if the id is \
                 wrong, or the model gated or private, the pod fails as it starts downloading it"
            ))),
            Answer::Missing if with_token => refuse(format!(
                "no such model on the Hugging Face Hub, or a private one the token in HF_TOKEN \
                 (pod_env) cannot read: check the id, e.g. {EXAMPLE_ID}, and that the token's \
                 account can open {page}"
            )),
            Answer::Missing => refuse(format!(
                "no such model on the Hugging Face Hub: check the id, e.g. {EXAMPLE_ID}; a \
                 private model also needs a token with read access, set as HF_TOKEN in pod_env"
            )),
            Answer::TokenRefused => refuse(
                "the Hugging Face Hub refused the token in HF_TOKEN (pod_env) as invalid: \
                 create a token with read access at https://huggingface.co/settings/tokens and \
                 set it as HF_TOKEN in pod_env"
                    .to_owned(),
            ),
            Answer::Gated if with_token => refuse(format!(
                "the model is gated and the token in HF_TOKEN (pod_env) has not been granted \
                 access: accept the model's terms at {page} while signed in as the token's \
                 owner (a model gated manually waits for its authors' approval), then plan again"
            )),
            Answer::Gated => refuse(format!(
                "the model is gated: accept its terms at {page}, then give the pod a token with \
                 read access as HF_TOKEN in pod_env (create one at \
                 https://huggingface.co/settings/tokens)"
            )),
            Answer::Forbidden => refuse(format!(
                "the Hugging Face Hub refuses {} this repository (HTTP 403): give HF_TOKEN in \
                 pod_env read access to {page} (a fine-grained token lists the repositories it \
                 may read), or choose another model",
                if with_token {
                    "the token in HF_TOKEN (pod_env)"
                } else {
                    "anonymous access to"
                }
            )),
            Answer::NoConfig => refuse(format!(
                "the repository at {page} holds no config.json, so the trainer cannot load it \
                 (a GGUF or other non-transformers repository?): choose a transformers model, \
                 e.g. {EXAMPLE_ID}"
            )),
        }
    }

    /// A path in the pod: on the job's network volume it is looked up there; where the pods
    /// run on this machine (the local provider) it is looked up here; in an image it cannot be.
    async fn check_model_path(&self, spec: &JobSpec, path: &str) -> Result<Option<String>> {
        let shown = crate::error::quote(path);
        if let (DatasetRef::Volume { .. }, Some(volume)) = (&spec.dataset, &self.volume) {
            let mount = volume.config().mount_path();
            let rest = path
                .strip_prefix(mount)
                .filter(|r| r.is_empty() || r.starts_with('/'));
            if let Some(rest) = rest {
                let dir = rest.trim_matches('/');
                let key = if dir.is_empty() {
                    "config.json".to_owned()
                } else {
                    format!("{dir}/config.json")
                };
                return match volume.head(&key).await {
                    Ok(Some(_)) => Ok(None),
                    Ok(None) => Err(Error::invalid_input(format!(
                        "model {shown} is on the job's network volume {}, which holds no {key}: \
                         upload the model's directory (config.json, weights, tokenizer) there, \
                         or fix the path",
                        volume.config().volume_id()
                    ))),
                    Err(e) => Ok(Some(format!(
                        "model {shown} was not checked on the network volume ({}): if it is not \
                         there, the pod fails as it loads it",
                        e.message()
                    ))),
                };
            }
        }
        if self.local_pods {
            // The local provider's pods are processes of this machine: the path is one here.
            let config = Path::new(path).join("config.json");
            return match tokio::fs::try_exists(&config).await {
                Ok(true) => Ok(None),
                Ok(false) => Err(Error::invalid_input(format!(
                    "model {shown} is not a saved model on this machine, where the local \
                     provider runs its pods (there is no {}): give the directory of a saved \
                     transformers model, or a Hugging Face id such as {EXAMPLE_ID}",
                    config.display()
                ))),
                Err(e) => Ok(Some(format!(
                    "model {shown} was not checked on this machine ({e}): if it is not a model \
                     directory, the pod fails as it loads it"
                ))),
            };
        }
        Ok(Some(format!(
            "model {shown} is a path in the pod, which cannot be checked before the pod runs: \
             make sure the image holds the model's directory there (config.json, weights, \
             tokenizer), or give a Hugging Face id such as {EXAMPLE_ID}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, code: Option<&str>, body: &str) -> Reply {
        Reply {
            status: reqwest::StatusCode::from_u16(status).unwrap_or_else(|e| panic!("{e}")),
            code: code.map(str::to_owned),
            message: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_hubs_refusals_are_read_as_it_means_them() {
        // Anonymous, a missing and a private repository are the same 401.
        let anonymous = reply(
            401,
            Some("RepoNotFound"),
            r#"{"error":"Repository not found"}"#,
        );
        assert_eq!(refusal(&anonymous, false), Answer::Missing);
        assert_eq!(refusal(&reply(401, None, ""), false), Answer::Missing);
        // With a token, a missing repository is 404 and a 401 is the token itself.
        assert_eq!(
            refusal(&reply(404, Some("RepoNotFound"), ""), true),
            Answer::Missing
        );
        let bad = reply(
            401,
            None,
            r#"{"error":"Invalid credentials in Authorization header"}"#,
        );
        assert_eq!(refusal(&bad, true), Answer::TokenRefused);
        assert_eq!(
            refusal(&reply(403, Some("GatedRepo"), ""), true),
            Answer::Gated
        );
        assert_eq!(refusal(&reply(403, None, ""), true), Answer::Forbidden);
        assert!(matches!(
            refusal(&reply(503, None, ""), false),
            Answer::Unchecked(why) if why.contains("503")
        ));
        assert!(matches!(
            refusal(&reply(429, None, ""), true),
            Answer::Unchecked(why) if why.contains("429")
        ));
    }

    #[test]
    fn a_listing_without_config_json_is_not_a_loadable_model() {
        let files = |names: &[&str]| {
            let list: Vec<serde_json::Value> = names
                .iter()
                .map(|n| serde_json::json!({ "rfilename": n }))
                .collect();
            serde_json::json!({ "siblings": list })
        };
        assert!(lacks_config(&files(&["model.gguf", "README.md"])));
        assert!(!lacks_config(&files(&["config.json", "model.safetensors"])));
        assert!(!lacks_config(&files(&["adapter_config.json"])));
        // No listing, or an empty one, says nothing.
        assert!(!lacks_config(&serde_json::json!({})));
        assert!(!lacks_config(&files(&[])));
    }

    #[test]
    fn hub_urls_are_https_or_loopback_and_never_echoed() {
        let ok = |u: &str| check_hub_url(u, "hub_url").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok("https://huggingface.co/"), "https://huggingface.co");
        assert_eq!(
            ok("https://mirror.example.com/hf"),
            "https://mirror.example.com/hf"
        );
        assert_eq!(ok("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(ok("http://localhost:1"), "http://localhost:1");
        for bad in [
            "http://mirror.example.com",
            "ftp://huggingface.co",
            "huggingface.co",
            "https://huggingface.co/?x=1",
        ] {
            let err = check_hub_url(bad, "hub_url").unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{bad}");
            assert!(err.message().starts_with("hub_url is invalid"), "{err}");
        }
        let err = check_hub_url("https://user:hunter2@mirror.example.com", "hub_url").unwrap_err();
        assert!(!err.message().contains("hunter2"), "{err}");
    }

    #[test]
    fn the_hub_url_comes_from_the_builder_then_the_pods_then_the_apps_environment() {
        let mut pod_env = BTreeMap::new();
        let base = |given: Option<&str>, pod_env: &BTreeMap<String, String>, env: Option<&str>| {
            Hub::new(given, pod_env, env.map(str::to_owned))
                .unwrap_or_else(|e| panic!("{e}"))
                .base()
                .to_owned()
        };
        assert_eq!(base(None, &pod_env, None), DEFAULT_HUB_URL);
        assert_eq!(
            base(None, &pod_env, Some("https://env.example.com")),
            "https://env.example.com"
        );
        pod_env.insert(HUB_URL_ENV.to_owned(), "https://pod.example.com".to_owned());
        assert_eq!(
            base(None, &pod_env, Some("https://env.example.com")),
            "https://pod.example.com"
        );
        assert_eq!(
            base(Some("https://given.example.com"), &pod_env, None),
            "https://given.example.com"
        );
        let err = Hub::new(None, &BTreeMap::new(), Some("http://example.com".into())).unwrap_err();
        assert!(err.message().contains("HF_ENDPOINT"), "{err}");
    }

    #[test]
    fn model_ids_are_checked_only_when_well_formed() {
        for id in ["Qwen/Qwen2.5-0.5B", "gpt2", "org/name_v1.2"] {
            assert!(is_hub_id(id), "{id}");
        }
        for id in ["a/b/c", "../x", "org/", "org name/x", "-org/x", ""] {
            assert!(!is_hub_id(id), "{id}");
        }
    }
}
