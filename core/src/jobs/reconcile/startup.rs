//! Why a pod that never reported has not started: read from the pod itself and its system log,
//! where RunPod writes what the host did (pulling the image, starting the container). A pod can
//! read RUNNING for minutes while no container runs, billing all the while.

use crate::runpod::{Client, LogSource, Pod, PodStatus};

/// What keeps a pod from starting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Startup {
    /// The host's driver is older than the image's CUDA: `nvidia-container-cli` refuses the
    /// container, and it never starts on this host. Final at once.
    Cuda(String),
    /// The image cannot be pulled at all (no such image or tag, no access). Final at once.
    ImageMissing(String),
    /// The image pull is refused by Docker Hub's rate limit and backing off. Final at once too:
    /// the limit is per host address and resets over hours, so waiting on this host only
    /// bills; another host (a retry) pulls from another address.
    PullBackoff(String),
    /// RUNNING, yet no container runs (a stuck host).
    NoContainer,
}

impl Startup {
    /// Whether waiting longer cannot help.
    pub(crate) fn is_final(&self) -> bool {
        !matches!(self, Startup::NoContainer)
    }

    /// The reason code a job ended this way carries.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Startup::Cuda(_) => "cuda_unsupported",
            Startup::ImageMissing(_) | Startup::PullBackoff(_) => "image_pull_failed",
            Startup::NoContainer => "no_container",
        }
    }

    /// What happened, in words, with what to do.
    pub(crate) fn cause(&self, waited_secs: u64) -> String {
        match self {
            Startup::Cuda(line) => format!(
                "the host's CUDA driver is older than the image needs, so its container never \
                 started (the pod's log: {line}); name an image whose tag carries its CUDA \
                 version (such as cu1281), which trainpod then asks hosts for, or an image \
                 built for an older CUDA"
            ),
            Startup::ImageMissing(line) => format!(
                "the image could not be pulled (the pod's log: {line}); check the image name and \
                 tag, and the registry credential for a private image"
            ),
            Startup::PullBackoff(line) => format!(
                "the image could not be pulled after {waited_secs} s: Docker Hub refused the \
                 host's anonymous pulls (the pod's log: {line}); retry the job (another host \
                 pulls from another address), or use an image RunPod caches (runpod/pytorch) or a \
                 registry credential"
            ),
            Startup::NoContainer => format!(
                "the pod read RUNNING but no container ran for {waited_secs} s (a stuck host); \
                 retry the job, which places it anew"
            ),
        }
    }
}

/// Lines of the system log read per diagnosis.
const TAIL: u32 = 200;

/// Reads what keeps `pod` from starting; `None` when nothing says so (yet). A log that cannot be
/// read is no diagnosis: the timeout still ends the pod.
pub(crate) async fn diagnose(client: &Client, pod: &Pod) -> Option<Startup> {
    let quiet = std::time::Duration::from_millis(300);
    let lines = client
        .recent_logs(&pod.id, Some(LogSource::System), TAIL, quiet)
        .await
        .map(|events| events.into_iter().map(|e| e.line).collect::<Vec<_>>())
        .unwrap_or_default();
    classify(pod, &lines)
}

/// The newest line that explains the pod's state, most decisive first; else a RUNNING pod with
/// no container.
pub(crate) fn classify(pod: &Pod, system_log: &[String]) -> Option<Startup> {
    let newest = |pred: &dyn Fn(&str) -> bool| -> Option<String> {
        system_log
            .iter()
            .rev()
            .find(|l| pred(&l.to_ascii_lowercase()))
            .map(|l| quote(l))
    };
    let cuda = system_log.iter().rev().find(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("nvidia-container-cli") && (l.contains("cuda>=") || l.contains("cuda >="))
    });
    if let Some(line) = cuda {
        // The runtime's long preamble says little; the requirement is what matters.
        return Some(Startup::Cuda(quote_from(line, "nvidia-container-cli")));
    }
    if let Some(line) = newest(&|l| {
        (l.contains("pull") || l.contains("image"))
            && (l.contains("manifest unknown")
                || l.contains("not found")
                || l.contains("unauthorized")
                || l.contains("access denied"))
    }) {
        return Some(Startup::ImageMissing(line));
    }
    if let Some(line) = newest(&|l| {
        l.contains("toomanyrequests") || l.contains("pull rate limit") || l.contains("back-off")
    }) {
        return Some(Startup::PullBackoff(line));
    }
    (pod.status == PodStatus::Running && !pod.container_runs()).then_some(Startup::NoContainer)
}

/// [`quote`] of `line` from where `needle` starts in it (with "…" for what is left out).
fn quote_from(line: &str, needle: &str) -> String {
    match line.find(needle) {
        Some(0) | None => quote(line),
        Some(at) => quote(&format!("…{}", &line[at..])),
    }
}

/// A log line as a cause quotes it: control characters replaced, at most 300 characters.
pub(crate) fn quote(line: &str) -> String {
    let cleaned: String = line
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    format!("\"{cleaned}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: &str, runtime: Option<serde_json::Value>) -> Pod {
        let mut v = serde_json::json!({"id": "p1", "name": "trainpod-j", "status": status});
        if let Some(r) = runtime {
            v["runtime"] = r;
        }
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_host_cuda_error_is_final_and_quoted() {
        let log = lines(&[
            "status RUNNING",
            "error starting container: nvidia-container-cli: requirement error: unsatisfied \
             condition: cuda>=12.8, please update your driver",
        ]);
        let got = classify(&pod("RUNNING", None), &log).unwrap_or_else(|| panic!("none"));
        assert!(matches!(&got, Startup::Cuda(l) if l.contains("cuda>=12.8")));
        // A long runtime preamble does not push the requirement out of the quote.
        let long = lines(&[&format!(
            "error starting container: {}: error running hook #0: nvidia-container-cli:              requirement error: unsatisfied condition: cuda>=12.8",
            "OCI runtime create failed ".repeat(20)
        )]);
        let got = classify(&pod("RUNNING", None), &long).unwrap_or_else(|| panic!("none"));
        assert!(
            matches!(&got, Startup::Cuda(l) if l.contains("cuda>=12.8")),
            "{got:?}"
        );
        assert!(got.is_final());
        assert_eq!(got.reason(), "cuda_unsupported");
        assert!(got.cause(30).contains("older than the image needs"));
    }

    #[test]
    fn a_refused_pull_and_a_missing_image_are_final_and_a_stuck_host_is_not() {
        let backoff =
            lines(&["error pulling image: toomanyrequests: You have reached your pull rate limit"]);
        let got = classify(&pod("RUNNING", None), &backoff).unwrap_or_else(|| panic!("none"));
        assert!(matches!(got, Startup::PullBackoff(_)));
        assert!(got.is_final());
        assert!(!Startup::NoContainer.is_final());
        let missing = lines(&["error pulling image: manifest unknown: tag not found"]);
        let got = classify(&pod("RUNNING", None), &missing).unwrap_or_else(|| panic!("none"));
        assert!(got.is_final());
    }

    #[test]
    fn running_without_a_runtime_is_no_container_and_with_one_is_nothing() {
        assert_eq!(
            classify(&pod("RUNNING", None), &[]),
            Some(Startup::NoContainer)
        );
        assert_eq!(
            classify(&pod("RUNNING", Some(serde_json::json!({}))), &[]),
            Some(Startup::NoContainer)
        );
        let live = pod("RUNNING", Some(serde_json::json!({"uptime": 3})));
        assert_eq!(classify(&live, &[]), None);
        assert_eq!(classify(&pod("STARTING", None), &[]), None);
    }

    #[test]
    fn quoted_lines_are_bounded_and_carry_no_control_characters() {
        let q = quote(&format!("a\u{1b}[31mb\n{}", "x".repeat(1000)));
        assert!(!q.chars().any(char::is_control));
        assert!(q.chars().count() <= 302);
    }
}
