//! `runpodctl` as RunPod injects it into every pod, for the local provider: a POSIX `sh` stand-in
//! on the pod's `PATH` sends its arguments, with `RUNPOD_API_KEY`, to `POST /_emulator/runpodctl`,
//! and the emulator does what the real one does through RunPod's GraphQL API (so the
//! `podKeyRefused` fault, a REST v2 matter, does not touch it): `remove pod <id>` (legacy, with
//! its deprecation warning) and `pod delete|remove|rm <id>` terminate the pod, `stop pod <id>`
//! (legacy) and `pod stop <id>` stop it, on the key's account's pods only (an account key needs
//! permission all). Every call is recorded, and logged on the pod.
//!
//! A cluster's member pod is removed (or stopped) like any pod: REST v2 refuses that with 409
//! ("cannot be modified or deleted via the pod endpoints", `Pod.cluster`), but runpodctl goes
//! through GraphQL, which the v2 spec does not describe, and the docs give `runpodctl remove pod
//! $RUNPOD_POD_ID` as how a pod removes itself with no exception for clusters
//! (`pods/manage-pods.mdx`). So a node can end itself, and its cluster stays with one pod fewer
//! (inferred: whether RunPod's GraphQL refuses a member is not documented).

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::accounts::{DEFAULT_ACCOUNT, Permission};
use crate::shared::Shared;
use crate::state::{RunpodctlCall, State};
use crate::{LogSource, pods};

pub(crate) fn call_json(c: &RunpodctlCall) -> Value {
    json!({"args": c.args, "caller": c.caller, "exitCode": c.exit_code,
        "stdout": c.stdout, "stderr": c.stderr})
}

/// What a command does to a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Remove,
    Stop,
}

/// A command runpodctl understands: what it does, to which pod, and the legacy form's name.
struct Command<'a> {
    verb: Verb,
    pod_id: &'a str,
    legacy: Option<&'static str>,
}

fn parse(args: &[String]) -> Option<Command<'_>> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (verb, pod_id, legacy) = match words.as_slice() {
        ["remove", "pod", id] => (Verb::Remove, *id, Some("remove pod")),
        ["pod", "delete" | "remove" | "rm", id] => (Verb::Remove, *id, None),
        ["stop", "pod", id] => (Verb::Stop, *id, Some("stop pod")),
        ["pod", "stop", id] => (Verb::Stop, *id, None),
        _ => return None,
    };
    Some(Command {
        verb,
        pod_id,
        legacy,
    })
}

/// `POST /_emulator/runpodctl` `{"args": [...]}`: a text answer the stand-in prints, each line
/// `out:` (stdout) or `err:` (stderr); 200 when the command succeeded.
pub(crate) fn handle(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let args: Vec<String> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("args")?
                .as_array()?
                .iter()
                .map(|a| a.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let call = {
        let mut s = shared.lock();
        let call = run(&mut s, key, args);
        s.runpodctl.push(call.clone());
        call
    };
    let mut text = String::new();
    for (prefix, out) in [("out:", &call.stdout), ("err:", &call.stderr)] {
        for line in out.lines() {
            text.push_str(prefix);
            text.push_str(line);
            text.push('\n');
        }
    }
    let status = if call.exit_code == 0 {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    (status, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

fn run(s: &mut State, key: &str, args: Vec<String>) -> RunpodctlCall {
    let caller = s.pod_keys.get(key).cloned();
    // The account the key acts for: a pod key's pod's, or an account key's own.
    let account = match (&caller, s.accounts.get(key)) {
        (Some(pod), _) => Some(
            s.index(pod)
                .map_or(DEFAULT_ACCOUNT, |i| &s.pods[i].account)
                .to_owned(),
        ),
        (None, Some((account, Permission::All))) => Some(account.to_owned()),
        // RunPod's keys carry Read/Write or Read Only access to GraphQL, which runpodctl uses
        // (docs `get-started/api-keys`); that a mutation with a read-only key fails, and with
        // these words, is inferred.
        (None, Some(_)) => {
            return refusal(args, "Error: this key lacks permission for the request");
        }
        (None, None) => None,
    };
    let result = match account {
        Some(account) => match parse(&args) {
            Some(cmd) => apply(s, &account, caller.as_deref(), &cmd),
            None => Err(format!(
                "Error: unknown command {:?} (the emulator's runpodctl knows remove pod, \
                 pod delete|remove|rm, stop pod and pod stop)",
                args.join(" ")
            )),
        },
        None => Err("Error: invalid api key".to_owned()),
    };
    let (exit_code, stdout, stderr) = match result {
        Ok((out, err)) => (0, out, err),
        Err(err) => (1, String::new(), err),
    };
    RunpodctlCall {
        args,
        caller,
        exit_code,
        stdout,
        stderr,
    }
}

fn refusal(args: Vec<String>, stderr: &str) -> RunpodctlCall {
    RunpodctlCall {
        args,
        caller: None,
        exit_code: 1,
        stdout: String::new(),
        stderr: stderr.to_owned(),
    }
}

/// Do the command on one of `account`'s pods; (stdout, stderr) on success. Another account's
/// pod is not found, as on v2.
fn apply(
    s: &mut State,
    account: &str,
    caller: Option<&str>,
    cmd: &Command<'_>,
) -> Result<(String, String), String> {
    let id = cmd.pod_id;
    if caller.is_some_and(|own| own != id) {
        return Err(format!(
            "Error: access denied: this key may act only on pod {}",
            caller.unwrap_or_default()
        ));
    }
    let found = s.index(id).filter(|i| {
        let p = &s.pods[*i];
        p.status != "TERMINATED" && p.account == account
    });
    let Some(i) = found else {
        return Err(format!("Error: pod {id} not found"));
    };
    let status = s.pods[i].status;
    let (action, legacy_out, out) = match cmd.verb {
        Verb::Remove => (
            "terminate",
            format!("pod \"{id}\" removed"),
            json!({"deleted": true, "id": id}),
        ),
        Verb::Stop if matches!(status, "EXITED") => {
            return Err(format!("Error: failed to stop pod: pod {id} is {status}"));
        }
        Verb::Stop => (
            "stop",
            format!("pod \"{id}\" stopped"),
            json!({"desiredStatus": "EXITED", "id": id}),
        ),
    };
    let line = format!("runpodctl {}: {action}", cmd_words(cmd));
    s.push_log(i, LogSource::System, line);
    pods::apply_action(s, i, action);
    Ok(match cmd.legacy {
        // runpodctl `cmd/legacy/legacy.go`: the old form warns on stderr, then does the same.
        Some(old) => (
            legacy_out,
            format!(
                "warning: 'runpodctl {old}' is deprecated, use 'runpodctl pod {}' instead",
                if cmd.verb == Verb::Remove {
                    "delete <id>"
                } else {
                    "stop <id>"
                }
            ),
        ),
        None => (out.to_string(), String::new()),
    })
}

fn cmd_words(cmd: &Command<'_>) -> String {
    match (cmd.legacy, cmd.verb) {
        (Some(old), _) => format!("{old} {}", cmd.pod_id),
        (None, Verb::Remove) => format!("pod delete {}", cmd.pod_id),
        (None, Verb::Stop) => format!("pod stop {}", cmd.pod_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_forms_parse_and_others_do_not() {
        let words = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let remove = words("remove pod p1");
        let cmd = parse(&remove).unwrap_or_else(|| panic!("not parsed"));
        assert_eq!(
            (cmd.verb, cmd.pod_id, cmd.legacy),
            (Verb::Remove, "p1", Some("remove pod"))
        );
        for new in ["pod delete p1", "pod remove p1", "pod rm p1"] {
            let args = words(new);
            let cmd = parse(&args).unwrap_or_else(|| panic!("{new}"));
            assert_eq!((cmd.verb, cmd.legacy), (Verb::Remove, None));
        }
        assert!(parse(&words("stop pod p1")).is_some_and(|c| c.verb == Verb::Stop));
        assert!(parse(&words("pod stop p1")).is_some_and(|c| c.legacy.is_none()));
        assert!(parse(&words("pod delete")).is_none());
        assert!(parse(&words("get pod p1")).is_none());
    }
}
