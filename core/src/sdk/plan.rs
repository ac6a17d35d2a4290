//! `plan(spec)`: everything that can be checked before money is spent, and what the job will
//! cost. Nothing is created on RunPod: the plan is stored with its job, queued, so that `deploy`
//! runs exactly what was checked here; it can be shown to the user, then deployed or dropped
//! (a queued job costs nothing, and `cancel` ends it).

use serde::{Deserialize, Serialize};

use super::Trainpod;
use super::estimate::{
    self, CostEstimate, DatasetTokens, MemoryEstimate, RunShape, dataset_tokens, memory_needed,
    method_name,
};
use super::spec::{DatasetRef, JobSpec, new_job_id};
use crate::dataset::{DatasetFormat, InspectOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::runpod::{Availability, GpuCatalogQuery, GpuType};
use crate::script::{Hyperparameters, ImageNeeds, check_image};

/// What the dataset holds, as inspected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DatasetSummary {
    /// The rows' format, when the app's copy was inspected.
    pub format: Option<DatasetFormat>,
    /// Rows (0 when not inspected: a public URL).
    pub rows: u64,
    /// Bytes the pod downloads.
    pub bytes: u64,
    /// sha256 the pod checks, lowercase hex.
    pub sha256: String,
    /// Estimated tokens.
    pub tokens: DatasetTokens,
}

/// One GPU placement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GpuChoice {
    /// Catalog id.
    pub gpu_id: String,
    /// GPUs in the pod.
    pub count: u32,
    /// Memory per GPU, GB.
    pub memory_gb: u32,
    /// The pod's price, USD per hour (all GPUs).
    pub price_per_hour: f64,
    /// Availability, when the catalog said.
    pub availability: Option<String>,
    /// What the whole job is estimated to cost on it.
    pub estimate: CostEstimate,
}

/// A checked job, ready to deploy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Plan {
    /// The job id.
    pub job_id: String,
    /// What was asked for.
    pub spec: JobSpec,
    /// The hyperparameters it runs with.
    pub hyperparameters: Hyperparameters,
    /// Model size used for the estimates, billions of parameters.
    pub params_b: f64,
    /// The dataset.
    pub dataset: DatasetSummary,
    /// GPU memory needed, with the rule.
    pub memory: MemoryEstimate,
    /// The chosen GPU.
    pub gpu: GpuChoice,
    /// Others to try, in order, when the chosen one has no capacity.
    pub fallbacks: Vec<GpuChoice>,
    /// The chosen GPU's estimate (the same as `gpu.estimate`).
    pub estimate: CostEstimate,
    /// The pod's hard deadline after creation, seconds: what the budget buys at the chosen
    /// price (or `max_hours`, when shorter).
    pub deadline_secs: u64,
    /// The container image.
    pub image: String,
    /// What the user should know before deploying.
    pub warnings: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
}

impl Trainpod {
    /// Checks `spec` against everything checkable before spending: the RunPod key (one cheap
    /// authenticated call), the image, the dataset (inspected), the URLs a pod needs (reachable
    /// from a pod), the GPUs (price, availability, memory) and the budget; returns the plan with
    /// its cost estimate, or the first problem as an actionable error.
    ///
    /// The plan is recorded with its job (state `queued`), and `deploy` deploys that stored
    /// plan. Planning a job id again replaces the plan while the job is queued and was never
    /// deployed; once it was, or for another user's job id, it is `INVALID_STATE`.
    pub async fn plan(&self, spec: &JobSpec) -> Result<Plan> {
        spec.check()?;
        self.accounts.check(spec.account.as_deref().unwrap_or(""))?;
        let job_id = match &spec.job_id {
            Some(id) => {
                // Before the checks that wait on the network: a job id taken is told at once.
                self.check_plannable(id, &spec.user).await?;
                id.clone()
            }
            None => new_job_id()?,
        };
        let image = spec.image.clone().unwrap_or_else(|| self.image.clone());
        check_image(&image, ImageNeeds::PythonAndTorch, spec.image_vouched)?;
        let hp = spec.resolved_hyperparameters();
        let params_b = spec
            .params_b
            .or_else(|| estimate::params_from_name(&spec.model))
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "cannot tell the size of model {} from its name: set params_b (billions of parameters)",
                    crate::error::quote(&spec.model)
                ))
            })?;
        self.check_routes_reachable(&job_id)?;
        // The model is checked while the dataset is inspected: both may wait on the network.
        let (dataset, model_warning) = tokio::join!(
            self.dataset_summary(&spec.dataset, hp.max_length),
            self.check_model(spec)
        );
        let (dataset, model_warning) = (dataset?, model_warning?);
        let spec = &self.placed_spec(spec)?;
        let runpod = self
            .runpod_for(spec.account.as_deref().unwrap_or(""))
            .await?;
        // The cheap authenticated call: a bad or revoked key fails here, not at deploy.
        runpod
            .find_pods_by_name(&super::pod_name(&job_id, 1)?)
            .await?;
        let memory = memory_needed(params_b, spec.method, spec.gpu_count);
        let catalog = runpod.gpu_catalog_with(&availability_query(spec)).await?;
        let train_tokens = train_tokens(&hp, &dataset);
        let mut warnings: Vec<String> = model_warning.into_iter().collect();
        let mut choices = Vec::new();
        let need_cuda = crate::script::cuda_of_image(&image);
        let usable = candidates(spec, &catalog, &memory)?;
        for gpu in cuda_capable(usable, need_cuda.as_deref(), &mut warnings)? {
            let mut measured = self
                .store
                .throughput(&self.throughput_key(&gpu.id), method_name(spec.method), 5)
                .await?;
            if let Some((median, rule)) = estimate::implausible(&gpu.id, spec.method, &measured) {
                warnings.push(format!(
                    "earlier jobs on {} measured {median:.3} TFLOP/s, far from the {rule:.1} its \
                     rule of thumb gives: the estimate uses the rule",
                    gpu.id
                ));
                measured.clear();
            }
            let shape = RunShape {
                params_b,
                method: spec.method,
                checkpointing: hp.gradient_checkpointing,
                train_tokens,
                dataset_bytes: dataset.bytes,
                gpus: spec.gpu_count,
                tflops: estimate::effective_tflops(&gpu.id, spec.method, &measured),
                downloads_model: !spec.model.starts_with('/'),
            };
            let price = gpu.price_per_gpu_hour(spec.cloud) * f64::from(spec.gpu_count);
            let mut cost = estimate::estimate_cost(&shape, price);
            if let Some(ratio) = self.bill_ratio(&gpu.id, method_name(spec.method)).await? {
                cost = cost.calibrated(ratio);
            }
            choices.push(GpuChoice {
                gpu_id: gpu.id.clone(),
                count: spec.gpu_count,
                memory_gb: gpu.memory,
                price_per_hour: price,
                availability: gpu.availability.map(availability_name),
                estimate: cost,
            });
            if estimate::peak_tflops(&gpu.id).is_none() && measured.is_empty() {
                warnings.push(format!(
                    "no throughput figure for {}: its training time assumes {} TFLOP/s",
                    gpu.id,
                    estimate::UNKNOWN_GPU_TFLOPS
                ));
            }
        }
        if spec.gpus.is_empty() {
            choices.sort_by(|a, b| a.estimate.usd_high.total_cmp(&b.estimate.usd_high));
        }
        let gpu = choices.remove(0);
        choices.truncate(4);
        let deadline_secs =
            super::budget::deadline_secs(spec.budget_usd, gpu.price_per_hour, spec.max_hours);
        warnings.extend(plan_warnings(&hp, &dataset, &gpu, deadline_secs));
        let plan = Plan {
            job_id,
            spec: spec.clone(),
            hyperparameters: hp,
            params_b,
            dataset,
            memory,
            estimate: gpu.estimate.clone(),
            gpu,
            fallbacks: choices,
            deadline_secs,
            image,
            warnings,
            created_at: self.clock.now_unix_secs(),
        };
        self.check_pod_script(&plan)?;
        self.record_plan(&plan).await?;
        Ok(plan)
    }

    /// Every app URL a pod will call must be reachable from a pod.
    fn check_routes_reachable(&self, job_id: &str) -> Result<()> {
        let Some(app) = &self.app_url else {
            return Ok(());
        };
        self.routes.check()?;
        for template in [
            &self.routes.metrics,
            &self.routes.artifacts,
            &self.routes.dataset,
        ] {
            let url = super::Routes::url(app, template, job_id, "dataset");
            crate::reach::check_reachable(&url, self.reach, self.resolver.as_ref())?;
        }
        Ok(())
    }

    /// The spec with its data centers narrowed to the network volume's, for a volume dataset.
    fn placed_spec(&self, spec: &JobSpec) -> Result<JobSpec> {
        let (DatasetRef::Volume { .. }, Some(volume)) = (&spec.dataset, &self.volume) else {
            return Ok(spec.clone());
        };
        let dc = volume.config().data_center_id().to_owned();
        if !spec.data_centers.is_empty() && !spec.data_centers.contains(&dc) {
            return Err(Error::invalid_input(format!(
                "the dataset is on a network volume in {dc}, which data_centers leaves out: \
                 a pod mounts only a volume of its own data center"
            )));
        }
        Ok(JobSpec {
            data_centers: vec![dc],
            ..spec.clone()
        })
    }

    async fn dataset_summary(
        &self,
        dataset: &DatasetRef,
        max_length: u32,
    ) -> Result<DatasetSummary> {
        let (key, bytes, sha256, found) = match dataset {
            DatasetRef::Bucket { key, bytes, sha256 } => {
                let bucket = self.bucket.as_ref().ok_or_else(|| {
                    Error::invalid_input("a bucket dataset needs bucket(...) on the builder")
                })?;
                (key, *bytes, sha256, bucket.head(key).await?)
            }
            DatasetRef::Volume { key, bytes, sha256 } => {
                let volume = self.volume.as_ref().ok_or_else(|| {
                    Error::invalid_input(
                        "a network-volume dataset needs volume(...) on the builder",
                    )
                })?;
                (key, *bytes, sha256, volume.head(key).await?)
            }
            other => return self.summarize_local(other, max_length).await,
        };
        check_sha256(sha256)?;
        match found {
            Some(object) if object.bytes == bytes => Ok(DatasetSummary {
                format: None,
                rows: 0,
                bytes,
                sha256: sha256.clone(),
                tokens: dataset_tokens(bytes.div_ceil(1024), bytes, 1024, max_length),
            }),
            Some(object) => Err(Error::new(
                ErrorKind::DatasetInvalid,
                format!(
                    "{key} holds {} bytes, not the {bytes} given: stage the dataset again",
                    object.bytes
                ),
            )),
            None => Err(Error::new(
                ErrorKind::DatasetNotFound,
                format!("no object {key}: upload the dataset before planning"),
            )),
        }
    }

    async fn summarize_local(
        &self,
        dataset: &DatasetRef,
        max_length: u32,
    ) -> Result<DatasetSummary> {
        match dataset {
            DatasetRef::App { id } => {
                let staging = self.staging.as_ref().ok_or_else(|| {
                    Error::invalid_input(
                        "an app-served dataset needs datasets_dir(...) on the builder, and app_url(...) \
                         where pods reach the app",
                    )
                })?;
                if self.app_url.is_none() {
                    return Err(Error::invalid_input(
                        "an app-served dataset needs app_url(...): where pods reach the app; without \
                         a public app, stage the dataset in a bucket or on a network volume",
                    ));
                }
                let id = crate::staging::check_dataset_id(id)?.to_owned();
                // One open, the download's: its "not found" gets the wording of a plan. It reads
                // and hashes the whole file on a blocking thread.
                let report = staging
                    .inspect(&id, &InspectOptions::default())
                    .await
                    .map_err(|e| match e.kind() {
                        ErrorKind::DatasetNotFound => Error::new(
                            ErrorKind::DatasetNotFound,
                            format!(
                                "no dataset {} under the datasets directory; store it there first",
                                crate::error::quote(&id)
                            ),
                        ),
                        _ => e,
                    })?;
                Ok(DatasetSummary {
                    format: report.format,
                    rows: report.rows,
                    bytes: report.bytes,
                    sha256: report.sha256,
                    tokens: dataset_tokens(
                        report.rows,
                        report.bytes,
                        report.longest_row_bytes,
                        max_length,
                    ),
                })
            }
            DatasetRef::Url { url, bytes, sha256 } => {
                crate::reach::check_reachable(url, self.reach, self.resolver.as_ref())?;
                check_sha256(sha256)?;
                Ok(DatasetSummary {
                    format: None,
                    rows: 0,
                    bytes: *bytes,
                    sha256: sha256.clone(),
                    // Without the file, assume rows of typical chat size (1 KB) to estimate.
                    tokens: dataset_tokens(bytes.div_ceil(1024), *bytes, 1024, max_length),
                })
            }
            DatasetRef::Bucket { .. } | DatasetRef::Volume { .. } => Err(Error::new(
                ErrorKind::Internal,
                "staged datasets are summarized from their object",
            )),
        }
    }
}

fn check_sha256(sha256: &str) -> Result<()> {
    if crate::hex::is_sha256(sha256) {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "the dataset's sha256 must be 64 lowercase hex digits: the pod checks the download against it",
        ))
    }
}

fn availability_query(spec: &JobSpec) -> GpuCatalogQuery {
    GpuCatalogQuery {
        count: Some(spec.gpu_count),
        cloud: Some(spec.cloud),
        ..GpuCatalogQuery::pods()
    }
}

/// The GPUs whose hosts can run an image built for CUDA `need` (the create asks for such a host;
/// a GPU type none of whose free hosts has it would be refused for capacity). A GPU whose
/// catalog entry names no CUDA versions is kept: the create's constraint still applies.
fn cuda_capable<'a>(
    gpus: Vec<&'a GpuType>,
    need: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Vec<&'a GpuType>> {
    let Some(need) = need.and_then(cuda_number) else {
        return Ok(gpus);
    };
    let fits = |g: &GpuType| {
        g.cuda_versions.is_empty()
            || g.cuda_versions
                .iter()
                .any(|c| c.available && cuda_number(&c.version).is_some_and(|v| v >= need))
    };
    let (capable, short): (Vec<&GpuType>, Vec<&GpuType>) = gpus.into_iter().partition(|g| fits(g));
    let need_text = format!("{}.{}", need.0, need.1);
    for g in &short {
        warnings.push(format!(
            "{} has no free host with CUDA {need_text} or newer, which the image needs: it is              left out",
            g.id
        ));
    }
    if capable.is_empty() {
        return Err(Error::new(
            ErrorKind::CapacityUnavailable,
            format!(
                "no GPU that fits the model has a free host with CUDA {need_text} or newer, which                  the image needs: retry later, add GPU types, or use an image built for an older                  CUDA"
            ),
        ));
    }
    Ok(capable)
}

/// `12.8` as (12, 8), compared numerically (12.10 is above 12.9).
fn cuda_number(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn availability_name(a: Availability) -> String {
    match a {
        Availability::None => "none",
        Availability::Low => "low",
        Availability::Medium => "medium",
        Availability::High => "high",
    }
    .to_owned()
}

/// The GPU types that can run the job: asked for (in order) or all, priced in the cloud, with
/// room for the model, and not out of stock.
fn candidates<'a>(
    spec: &JobSpec,
    catalog: &'a [GpuType],
    memory: &MemoryEstimate,
) -> Result<Vec<&'a GpuType>> {
    let asked: Vec<&GpuType> = if spec.gpus.is_empty() {
        catalog.iter().collect()
    } else {
        spec.gpus
            .iter()
            .map(|id| {
                catalog.iter().find(|g| &g.id == id).ok_or_else(|| {
                    Error::invalid_input(format!(
                        "GPU {} is not in RunPod's catalog; use an id from GET /v2/catalog/gpus",
                        crate::error::quote(id)
                    ))
                })
            })
            .collect::<Result<_>>()?
    };
    let priced = |g: &&GpuType| g.price_per_gpu_hour(spec.cloud) > 0.0;
    let fits = |g: &&GpuType| f64::from(g.memory) >= memory.needed_gb;
    let in_stock = |g: &&GpuType| g.availability != Some(Availability::None);
    let usable: Vec<&GpuType> = asked
        .iter()
        .copied()
        .filter(priced)
        .filter(fits)
        .filter(in_stock)
        .collect();
    if !usable.is_empty() {
        return Ok(usable);
    }
    if !asked.iter().any(fits) {
        let largest = asked.iter().map(|g| g.memory).max().unwrap_or(0);
        return Err(Error::invalid_input(format!(
            "the model needs about {:.1} GB per GPU ({}), more than the {largest} GB of the GPUs \
             considered: choose a larger GPU, more GPUs, or QLoRA",
            memory.needed_gb, memory.rule
        )));
    }
    Err(Error::new(
        ErrorKind::CapacityUnavailable,
        "no GPU that fits the model is priced and available in this cloud now: try the other \
         cloud, more GPU types, or later",
    ))
}

/// Tokens trained on: `max_steps` batches when set, else the epochs over the dataset.
fn train_tokens(hp: &Hyperparameters, dataset: &DatasetSummary) -> f64 {
    if hp.max_steps > 0 {
        let rows = dataset.rows.max(1) as f64;
        let per_example = dataset.tokens.per_epoch / rows;
        let examples = f64::from(hp.batch_size) * f64::from(hp.gradient_accumulation_steps);
        return hp.max_steps as f64 * examples * per_example;
    }
    dataset.tokens.per_epoch * hp.epochs
}

fn plan_warnings(
    hp: &Hyperparameters,
    dataset: &DatasetSummary,
    gpu: &GpuChoice,
    deadline_secs: u64,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if dataset.format == Some(DatasetFormat::Alpaca) {
        // TRL reads prompt/completion, not Alpaca's fields: the trainer rewrites each row as
        // `convert_alpaca` does, and the user should know what the model will be taught.
        warnings.push(
            "the dataset is in the Alpaca format: the trainer turns each row into a prompt \
             (instruction, then input after a blank line) and a completion (output)"
                .to_owned(),
        );
    }
    if dataset.tokens.longest_example > f64::from(hp.max_length) {
        warnings.push(format!(
            "the longest example is about {:.0} tokens, over max_length {}: longer examples are \
             truncated; raise max_length or split them",
            dataset.tokens.longest_example, hp.max_length
        ));
    }
    let e = &gpu.estimate;
    let bought = span(deadline_secs as f64);
    if e.seconds_low > deadline_secs as f64 {
        warnings.push(format!(
            "the budget buys {bought} on {}, less than even the optimistic estimate of {}: the \
             job will be stopped at its deadline; raise the budget",
            gpu.gpu_id,
            span(e.seconds_low)
        ));
    } else if e.seconds_high > deadline_secs as f64 {
        warnings.push(format!(
            "the budget buys {bought} on {}, less than the pessimistic estimate of {}: the job \
             may be stopped at its deadline",
            gpu.gpu_id,
            span(e.seconds_high)
        ));
    }
    if gpu.availability.as_deref() == Some("low") {
        warnings.push(format!(
            "{} has low availability now: deploy tries the fallbacks in order",
            gpu.gpu_id
        ));
    }
    warnings
}

/// A duration as a person reads it: minutes under two hours (never "0.0 h"), then hours.
pub(crate) fn span(secs: f64) -> String {
    if secs < 7200.0 {
        format!("{:.0} min", (secs / 60.0).max(1.0))
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(id: &str, cudas: &[(&str, bool)]) -> GpuType {
        let versions: Vec<serde_json::Value> = cudas
            .iter()
            .map(|(v, a)| serde_json::json!({"version": v, "available": a}))
            .collect();
        serde_json::from_value(serde_json::json!({"id": id, "cudaVersions": versions}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn gpus_whose_free_hosts_lack_the_images_cuda_are_left_out_with_a_warning() {
        let old = gpu("OLD", &[("12.4", true), ("12.8", false)]);
        let new = gpu("NEW", &[("12.4", true), ("12.10", true)]);
        let unknown = gpu("UNKNOWN", &[]);
        let mut warnings = Vec::new();
        let kept = cuda_capable(vec![&old, &new, &unknown], Some("12.8"), &mut warnings)
            .unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = kept.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["NEW", "UNKNOWN"]);
        assert!(
            warnings[0].contains("OLD") && warnings[0].contains("12.8"),
            "{warnings:?}"
        );
        let err = cuda_capable(vec![&old], Some("12.8"), &mut warnings).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CapacityUnavailable);
        assert!(err.to_string().contains("CUDA 12.8"), "{err}");
        let any = cuda_capable(vec![&old], None, &mut warnings).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(any.len(), 1);
    }
}
