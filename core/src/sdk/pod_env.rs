//! What the operator may add to a pod's environment (`pod_env`), and how large the pod's whole
//! environment may grow (`docs/pod-protocol.md`, "The operator's variables").
//!
//! Every process on the pod inherits the environment, so a variable can change what they run:
//! the dynamic loader preloads `LD_PRELOAD`, bash sources `BASH_ENV`, Python imports from
//! `PYTHONPATH` and runs `PYTHONSTARTUP`, and `TRAINPOD_BUNDLE` is the pod's whole script. The
//! names that do are refused when the SDK is built; the rest are the operator's to set
//! (`HF_TOKEN`, `HF_ENDPOINT`, `HF_HOME`, `CUDA_VISIBLE_DEVICES`, proxies, ...).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::runpod::MAX_ENV_VARS;

/// The most bytes of names and values a pod's whole environment may hold: the bundle
/// ([`crate::script::MAX_BUNDLE_BYTES`] at most, about 17 KiB for most jobs), trainpod's other
/// variables and `pod_env` together. RunPod documents no bound, but returns every pod's
/// environment in each pod listing (the reconciler lists pods every minute), keeps it in the
/// pod's configuration, and passes it to every process the pod starts: this leaves room for
/// the largest bundle and as much again.
pub const MAX_POD_ENV_BYTES: usize = 128 * 1024;

/// The variables trainpod itself sets on a pod: the bundle, and the pod's home on a network
/// volume. `pod_env` leaves room for them under RunPod's count.
const OWN_VARS: usize = 2;

/// Names refused outright, with why.
const RESERVED: &[(&str, &str)] = &[
    ("ENV", SHELL_STARTUP),
    ("SHELLOPTS", SHELL_STARTUP),
    ("BASHOPTS", SHELL_STARTUP),
    ("PS4", SHELL_STARTUP),
    ("PROMPT_COMMAND", SHELL_STARTUP),
    ("IFS", SHELL_PARSING),
    ("CDPATH", SHELL_PARSING),
    ("GLOBIGNORE", SHELL_PARSING),
    ("TMOUT", SHELL_PARSING),
    ("POSIXLY_CORRECT", SHELL_PARSING),
    ("PATH", PROCESS_BASICS),
    ("HOME", PROCESS_BASICS),
    ("SHELL", PROCESS_BASICS),
    ("PWD", PROCESS_BASICS),
    ("OLDPWD", PROCESS_BASICS),
    ("GLIBC_TUNABLES", LOADER),
    ("GCONV_PATH", LOADER),
    ("LOCPATH", LOADER),
    ("NLSPATH", LOADER),
    ("HOSTALIASES", LOADER),
    ("PERL5LIB", INTERPRETER),
    ("PERL5OPT", INTERPRETER),
    ("PERLLIB", INTERPRETER),
    ("RUBYLIB", INTERPRETER),
    ("RUBYOPT", INTERPRETER),
    ("NODE_OPTIONS", INTERPRETER),
    ("CURL_HOME", TOOL_CONFIG),
    ("XDG_CONFIG_HOME", TOOL_CONFIG),
];

/// Prefixes refused, with why; checked after [`ALLOWED`].
const RESERVED_PREFIXES: &[(&str, &str)] = &[
    (
        "TRAINPOD_",
        "trainpod sets its own variables on the pod (TRAINPOD_BUNDLE is the pod's whole \
         script, TRAINPOD_HOME where its state lives): none may be replaced",
    ),
    (
        "RUNPOD_",
        "RunPod sets its variables on every pod (RUNPOD_POD_ID, and the pod-scoped \
         RUNPOD_API_KEY the pod terminates itself with)",
    ),
    ("LD_", LOADER),
    ("BASH_", SHELL_STARTUP),
    (
        "PYTHON",
        "it changes which code and settings Python loads, and the pod's trainer, reporter and \
         uploader are Python",
    ),
    (
        "PIP_",
        "it changes where or how the dependencies stage installs the pinned stack (only \
         PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST and PIP_CERT may be set, for a \
         package mirror)",
    ),
];

/// Names allowed although a prefix above covers them: a package mirror for pip.
const ALLOWED: &[&str] = &[
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_CERT",
];

const SHELL_STARTUP: &str = "bash runs the pod's bootstrap, and this makes it run other code";
const SHELL_PARSING: &str = "it changes how bash reads and runs the pod's bootstrap";
const PROCESS_BASICS: &str =
    "the image and the pod's bootstrap set it, and every program the pod runs depends on it";
const LOADER: &str =
    "it changes what the dynamic loader or the C library loads into every process on the pod";
const INTERPRETER: &str = "it makes an interpreter on the pod load or run other code";
const TOOL_CONFIG: &str = "curl and pip read their configuration under it, and they carry the job's tokens and install \
     its dependencies";

/// Why `name` may not be set through `pod_env`, or `None` when it may.
pub fn reserved_pod_env(name: &str) -> Option<&'static str> {
    if ALLOWED.contains(&name) {
        return None;
    }
    RESERVED
        .iter()
        .find(|(n, _)| *n == name)
        .or_else(|| RESERVED_PREFIXES.iter().find(|(p, _)| name.starts_with(p)))
        .map(|(_, why)| *why)
}

/// Bytes of names and values.
fn env_bytes(env: &BTreeMap<String, String>) -> usize {
    env.iter().map(|(n, v)| n.len() + v.len()).sum()
}

/// Checks `pod_env` when the SDK is built: each name and value as RunPod takes them, no name
/// that changes how the pod's processes load or that trainpod or RunPod set, room left for
/// trainpod's own variables, and a size that fits a pod's environment. Names are shown (they
/// are the operator's own and checked first); values never are.
pub(crate) fn check_pod_env(env: &BTreeMap<String, String>) -> Result<()> {
    crate::runpod::validate_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| Error::invalid_input(format!("pod_env: {}", e.message())))?;
    if let Some((name, why)) = env
        .keys()
        .find_map(|n| reserved_pod_env(n).map(|why| (n, why)))
    {
        return Err(Error::invalid_input(format!(
            "pod_env may not set {name}: {why}. Remove it; configure the training through the \
             job spec and the image instead"
        )));
    }
    let most = MAX_ENV_VARS - OWN_VARS;
    if env.len() > most {
        return Err(Error::invalid_input(format!(
            "pod_env sets {} variables; a pod takes at most {MAX_ENV_VARS} and trainpod sets \
             {OWN_VARS}, so pod_env may set {most}",
            env.len()
        )));
    }
    let bytes = env_bytes(env);
    if bytes > MAX_POD_ENV_BYTES {
        return Err(Error::invalid_input(format!(
            "pod_env holds {bytes} bytes of names and values, over the {MAX_POD_ENV_BYTES}-byte \
             bound on a pod's whole environment (which also carries the pod's script); pass \
             large settings with the dataset or in the image instead"
        )));
    }
    Ok(())
}

/// Checks a pod's whole environment (`env`, of which the bundle is `bundle_bytes` and
/// `pod_env` the operator's part) against [`MAX_POD_ENV_BYTES`], at plan and at deploy.
pub(crate) fn check_pod_environment(
    env: &BTreeMap<String, String>,
    bundle_bytes: usize,
    pod_env: &BTreeMap<String, String>,
) -> Result<()> {
    let total = env_bytes(env);
    if total <= MAX_POD_ENV_BYTES {
        return Ok(());
    }
    let operator = env_bytes(pod_env);
    let own = total.saturating_sub(operator);
    Err(Error::invalid_input(format!(
        "the pod's environment would hold {total} bytes of names and values, over the \
         {MAX_POD_ENV_BYTES}-byte bound: {own} are trainpod's (the pod's script is \
         {bundle_bytes}) and {operator} pod_env's; shorten pod_env's values, or pass large \
         settings with the dataset or in the image"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn names_that_change_how_the_pod_runs_are_refused_with_why() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "BASH_ENV",
            "ENV",
            "PATH",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PYTHONHOME",
            "RUNPOD_API_KEY",
            "RUNPOD_POD_ID",
            "TRAINPOD_BUNDLE",
            "TRAINPOD_HOME",
            "HOME",
            "SHELL",
            "IFS",
            "PIP_TARGET",
            "XDG_CONFIG_HOME",
        ] {
            let err = check_pod_env(&env(&[(name, "secret-value-xyz")])).unwrap_err();
            assert_eq!(err.code(), "INVALID_INPUT");
            assert!(
                err.message()
                    .contains(&format!("pod_env may not set {name}: ")),
                "{err}"
            );
            assert!(!format!("{err:?}").contains("secret-value-xyz"), "{err:?}");
        }
    }

    #[test]
    fn the_hub_token_mirror_and_other_settings_stay_allowed() {
        let allowed = env(&[
            ("HF_TOKEN", "hf_x"),
            ("HF_ENDPOINT", "https://hub.example.com"),
            ("HUGGING_FACE_HUB_TOKEN", "hf_x"),
            ("HF_HOME", "/workspace/hf"),
            ("CUDA_VISIBLE_DEVICES", "0"),
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("PIP_INDEX_URL", "https://pypi.example.com/simple"),
            ("WANDB_PROJECT", "p"),
        ]);
        check_pod_env(&allowed).unwrap();
    }

    #[test]
    fn the_size_and_count_are_bounded_with_the_numbers_shown() {
        // Forty values of 30 KiB: each is valid, together they are ten times the bound.
        let big: BTreeMap<String, String> = (0..40)
            .map(|i| (format!("BIG_{i}"), "v".repeat(30 * 1024)))
            .collect();
        let err = check_pod_env(&big).unwrap_err();
        assert!(err.message().contains("1229030 bytes"), "{err}");
        assert!(err.message().contains("131072-byte"), "{err}");
        let many: BTreeMap<String, String> = (0..=MAX_ENV_VARS - OWN_VARS)
            .map(|i| (format!("V_{i}"), String::new()))
            .collect();
        let err = check_pod_env(&many).unwrap_err();
        assert!(err.message().contains("may set 48"), "{err}");
        let mut whole = big.clone();
        whole.insert("TRAINPOD_BUNDLE".into(), "b".repeat(17_000));
        let err = check_pod_environment(&whole, 17_000, &big).unwrap_err();
        assert!(err.message().contains("1246045 bytes"), "{err}");
        assert!(err.message().contains("script is 17000"), "{err}");
    }
}
