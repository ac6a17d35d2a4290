//! Pod creation: never blindly retried. After an ambiguous failure the pod is looked up by its
//! name and adopted; capacity and pool refusals move on to the next GPU candidate.

use std::time::Duration;

use super::client::Client;
use super::requests::{CreatePodRequest, GpuRequest};
use super::types::Pod;
use super::validate::{validate_create, validate_pod_name};
use crate::{Error, ErrorKind, Result};

/// The pod name for a job: `trainpod-<job id>`, so an ambiguous create can be found again.
pub fn job_pod_name(job_id: &str) -> Result<String> {
    let name = format!("trainpod-{job_id}");
    validate_pod_name(&name)?;
    Ok(name)
}

/// One GPU placement to try, in order of preference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuCandidate {
    /// GPU type id from the catalog.
    pub gpu_id: String,
    /// Number of GPUs.
    pub count: u32,
    /// Data centers to allow; empty lets RunPod choose.
    pub data_center_ids: Vec<String>,
}

impl GpuCandidate {
    /// One candidate per (GPU type, data center) pair, in order: each GPU type is tried in every
    /// data center before the next type. With no data centers, one candidate per GPU type lets
    /// RunPod choose where.
    ///
    /// RunPod places a pod in the first listed data center that has capacity, so one candidate
    /// with many data centers already falls back among them server-side; pairs are for when the
    /// order must be ours, or when the refusal per data center should be reported.
    pub fn pairs(gpu_ids: &[&str], count: u32, data_center_ids: &[&str]) -> Vec<GpuCandidate> {
        gpu_ids
            .iter()
            .flat_map(|gpu| {
                let one = |dcs: Vec<String>| GpuCandidate {
                    gpu_id: (*gpu).to_owned(),
                    count,
                    data_center_ids: dcs,
                };
                if data_center_ids.is_empty() {
                    vec![one(vec![])]
                } else {
                    data_center_ids
                        .iter()
                        .map(|dc| one(vec![(*dc).to_owned()]))
                        .collect()
                }
            })
            .collect()
    }

    pub(super) fn describe(&self) -> String {
        let where_ = if self.data_center_ids.is_empty() {
            "any data center".to_owned()
        } else {
            self.data_center_ids.join(", ")
        };
        format!("{} x{} in {where_}", self.gpu_id, self.count)
    }
}

/// The pod a create ended with.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateOutcome {
    /// The pod.
    pub pod: Pod,
    /// Whether the pod was found by name after an ambiguous failure rather than returned by create.
    pub adopted: bool,
    /// Index of the candidate that placed the pod.
    pub candidate: usize,
}

impl Client {
    /// Create a pod from `template`, trying each candidate's GPU type in order (when
    /// `candidates` is empty, the template's own `gpu` and `dataCenterIds` are the only candidate).
    /// The template's CUDA floor (`gpu.min_cuda_version`) applies to every candidate.
    ///
    /// See [`Client::create_pod_from`] for what happens on each refusal.
    pub async fn create_pod(
        &self,
        template: &CreatePodRequest,
        candidates: &[GpuCandidate],
    ) -> Result<CreateOutcome> {
        let min_cuda = template
            .gpu
            .as_ref()
            .and_then(|g| g.min_cuda_version.clone());
        let own;
        let candidates = if candidates.is_empty() {
            let gpu = template.gpu.as_ref().ok_or_else(|| {
                Error::invalid_input(
                    "gpu is required: give GPU candidates or set the request's gpu",
                )
            })?;
            own = [GpuCandidate {
                gpu_id: gpu.id.clone(),
                count: gpu.count,
                data_center_ids: template.data_center_ids.clone(),
            }];
            &own[..]
        } else {
            candidates
        };
        let requests: Vec<CreatePodRequest> = candidates
            .iter()
            .map(|c| {
                let mut req = template.clone();
                req.gpu = Some(GpuRequest {
                    id: c.gpu_id.clone(),
                    count: c.count,
                    min_cuda_version: min_cuda.clone(),
                });
                req.data_center_ids = c.data_center_ids.clone();
                req
            })
            .collect();
        self.create_pod_from(&requests).await
    }

    /// Create one pod from the first of `requests` that RunPod places: each is a whole request
    /// (its own GPU, data centers, and whatever else differs per placement, such as a deadline
    /// bought at that GPU's price), all with one pod name.
    ///
    /// Every request is validated before the first round trip. A 5xx, timeout or cut connection
    /// is ambiguous: the pod named in the request is looked up and adopted if it exists, and the
    /// same request is tried again only when it does not. Capacity refusals (a 400, or a 5xx
    /// worded as one, after the same lookup) and pool refusals (403) move on to the next
    /// request; when every request is refused, the error lists each one and why.
    pub async fn create_pod_from(&self, requests: &[CreatePodRequest]) -> Result<CreateOutcome> {
        let Some(first) = requests.first() else {
            return Err(Error::invalid_input(
                "no pod request to create: give at least one GPU candidate",
            ));
        };
        let mut candidates = Vec::with_capacity(requests.len());
        for req in requests {
            validate_create(req)?;
            if req.name != first.name {
                return Err(Error::invalid_input(format!(
                    "every placement of one pod must carry its name: {:?} and {:?} differ",
                    first.name, req.name
                )));
            }
            let gpu = req
                .gpu
                .as_ref()
                .ok_or_else(|| Error::invalid_input("gpu is required on every pod request"))?;
            candidates.push(GpuCandidate {
                gpu_id: gpu.id.clone(),
                count: gpu.count,
                data_center_ids: req.data_center_ids.clone(),
            });
        }
        let mut refusals: Vec<(usize, Error)> = Vec::new();
        for (index, req) in requests.iter().enumerate() {
            match self.create_one(req, index, &candidates[index]).await? {
                Attempt::Placed(outcome) => return Ok(*outcome),
                Attempt::Refused(err) => refusals.push((index, err)),
            }
        }
        Err(all_refused(
            &format!("pod {}", first.name),
            &candidates,
            refusals,
        ))
    }

    async fn create_one(
        &self,
        req: &CreatePodRequest,
        index: usize,
        candidate: &GpuCandidate,
    ) -> Result<Attempt> {
        let op = format!("create pod {} ({})", req.name, candidate.describe());
        let body = serde_json::to_vec(req)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("{op}: {e}")))?;
        let lookup = || async { Ok(self.find_pods_by_name(&req.name).await?.into_iter().next()) };
        let placed = self
            .post_adopting(&op, "/pods", &body, Created::pod(&req.name), lookup)
            .await?;
        Ok(match placed {
            Placed::Made { value, adopted } => Attempt::Placed(Box::new(CreateOutcome {
                pod: value,
                adopted,
                candidate: index,
            })),
            Placed::Refused(err) => Attempt::Refused(err),
        })
    }

    /// `POST path` for a resource that bills from the moment it exists, never blindly retried.
    /// A 5xx, timeout or cut connection is ambiguous: `lookup` (by the resource's unique name)
    /// runs, and what it finds is adopted; only when it finds nothing is the same body sent
    /// again. Capacity (400) and pool (403) refusals come back as [`Placed::Refused`].
    pub(super) async fn post_adopting<T, F, Fut>(
        &self,
        op: &str,
        path: &str,
        body: &[u8],
        created: Created<'_>,
        lookup: F,
    ) -> Result<Placed<T>>
    where
        T: serde::de::DeserializeOwned,
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>>>,
    {
        let policy = self.retry_policy().clone();
        let started = self.now();
        let mut waited = Duration::ZERO;
        let mut failures = 0u32;
        loop {
            let err = match self
                .send_once(
                    op,
                    super::transport::Method::Post,
                    path,
                    Some(body.to_vec()),
                )
                .await
            {
                Ok(resp) => {
                    let value: T = serde_json::from_slice(&resp.body).map_err(|e| {
                        Error::new(
                            ErrorKind::ServerError,
                            format!(
                                "{op}: RunPod created the {} but its answer could not be read \
                                 ({e}); it will be found by name {}",
                                created.what, created.name
                            ),
                        )
                    })?;
                    return Ok(Placed::Made {
                        value,
                        adopted: false,
                    });
                }
                Err(e) => e,
            };
            failures += 1;
            let refused = matches!(
                err.kind(),
                ErrorKind::CapacityUnavailable | ErrorKind::Forbidden
            );
            // A refusal that came as a 5xx is as ambiguous as any other 5xx about the resource.
            let ambiguous = matches!(
                err.kind(),
                ErrorKind::ServerError | ErrorKind::Timeout | ErrorKind::Transport
            ) || (refused && err.status().is_some_and(|s| s >= 500));
            if refused && !ambiguous {
                return Ok(Placed::Refused(err));
            }
            match err.kind() {
                _ if ambiguous => {
                    // It may exist although the answer says otherwise: look before retrying.
                    let found = lookup()
                        .await
                        .map_err(|lookup| created.lookup_failed(&err, lookup))?;
                    if let Some(value) = found {
                        return Ok(Placed::Made {
                            value,
                            adopted: true,
                        });
                    }
                    if refused {
                        return Ok(Placed::Refused(err));
                    }
                }
                ErrorKind::RateLimited => {}
                _ => return Err(err),
            }
            if failures >= policy.max_attempts {
                return Err(err);
            }
            let delay = policy.delay(failures, &err, self.random());
            let elapsed = waited.max(Duration::from_secs(self.now().saturating_sub(started)));
            if elapsed.saturating_add(delay) > policy.max_total {
                return Err(err);
            }
            self.sleep(delay).await;
            waited += delay;
        }
    }
}

/// What a create makes, for its messages: a pod or a cluster, by name.
pub(super) struct Created<'a> {
    what: &'static str,
    name: &'a str,
    console: &'static str,
}

impl<'a> Created<'a> {
    pub(super) fn pod(name: &'a str) -> Self {
        Created {
            what: "pod",
            name,
            console: "https://www.runpod.io/console/pods",
        }
    }

    pub(super) fn cluster(name: &'a str) -> Self {
        Created {
            what: "cluster",
            name,
            console: "https://www.runpod.io/console/clusters",
        }
    }

    fn lookup_failed(&self, err: &Error, lookup: Error) -> Error {
        Error::new(
            err.kind(),
            format!(
                "{}; then looking up {} {} by name failed ({}): a {} may be running and \
                 billing: check {} and terminate it, or retry the job (it adopts the {} by name)",
                err.message(),
                self.what,
                self.name,
                lookup.message(),
                self.what,
                self.console,
                self.what,
            ),
        )
        .with_source(lookup)
    }
}

/// How a create ended: made (returned, or found by name after an ambiguous failure), or refused.
pub(super) enum Placed<T> {
    Made { value: T, adopted: bool },
    Refused(Error),
}

enum Attempt {
    Placed(Box<CreateOutcome>),
    Refused(Error),
}

pub(super) fn all_refused(
    name: &str,
    candidates: &[GpuCandidate],
    refusals: Vec<(usize, Error)>,
) -> Error {
    let any_capacity = refusals
        .iter()
        .any(|(_, e)| e.kind() == ErrorKind::CapacityUnavailable);
    let kind = if any_capacity {
        ErrorKind::CapacityUnavailable
    } else {
        ErrorKind::Forbidden
    };
    let lines: Vec<String> = refusals
        .iter()
        .map(|(i, e)| {
            let why = match e.kind() {
                ErrorKind::CapacityUnavailable => "no capacity",
                _ => "not allowed for this account (forbidden pool)",
            };
            // RunPod's own words, when it gave any (the mapped message ends with them).
            let said = e
                .message()
                .split_once(" RunPod said: ")
                .map(|(_, s)| format!(" ({})", s.trim_end_matches('.')))
                .unwrap_or_default();
            format!("{}. {}: {why}{said}", i + 1, candidates[*i].describe())
        })
        .collect();
    Error::new(
        kind,
        format!(
            "no GPU candidate could place {name}: {}. Add GPU types or data centers to the \
             candidate list, or retry later",
            lines.join("; ")
        ),
    )
}
