//! `plan(spec)`: everything that can be checked before money is spent, and what the job will
//! cost. Nothing is created on RunPod: the plan is stored with its job, queued, so that `deploy`
//! runs exactly what was checked here; it can be shown to the user, then deployed or dropped
//! (a queued job costs nothing, and `cancel` ends it).

use std::borrow::Borrow;

use serde::{Deserialize, Serialize};

use super::Trainpod;
use super::dataset_summary::DatasetSummary;
use super::estimate::{
    self, CostEstimate, Gpus, MemoryEstimate, RunShape, memory_needed, method_name,
};
use super::sizing::{self, Sized};
use super::spec::{DatasetRef, JobSpec, new_job_id};
use crate::dataset::DatasetFormat;
use crate::error::{Error, ErrorKind, Result};
use crate::runpod::{Availability, Client, GpuCatalogQuery, GpuType, Product};
use crate::script::{Hyperparameters, ImageNeeds, check_image};

/// One GPU placement: a GPU type, and how many of it each pod (each node) has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GpuChoice {
    /// Catalog id.
    pub gpu_id: String,
    /// GPUs per pod: the spec's `gpu_count`, or more when the model's share needs more GPUs of
    /// this type to fit.
    pub count: u32,
    /// Memory per GPU, GB.
    pub memory_gb: u32,
    /// The job's price, USD per hour: every GPU of every node.
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
    /// The evaluation dataset (`spec.eval_dataset`), as inspected. Absent in older plans.
    #[serde(default)]
    pub eval_dataset: Option<DatasetSummary>,
    /// GPU memory needed per GPU of the chosen placement, with the rule.
    pub memory: MemoryEstimate,
    /// The chosen GPU: the cheapest that fits by estimate, or the first of `spec.gpus` that does.
    pub gpu: GpuChoice,
    /// Others to try, in order, when the chosen one has no capacity, each with its own count,
    /// price and estimate.
    pub fallbacks: Vec<GpuChoice>,
    /// The chosen GPU's estimate (the same as `gpu.estimate`).
    pub estimate: CostEstimate,
    /// The hard deadline after creation, seconds: what the budget buys at the chosen price,
    /// every node's (or `max_hours`, when shorter).
    pub deadline_secs: u64,
    /// The container image.
    pub image: String,
    /// How it trains beyond its hyperparameters: padding-free batches, fused kernels,
    /// precision, where checkpoints are kept, the held-out split. Absent in older plans.
    #[serde(default)]
    pub training: super::TrainingPlan,
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
        let eval_dataset = match &spec.eval_dataset {
            Some(eval) => Some(self.dataset_summary(eval, hp.max_length).await?),
            None => None,
        };
        let spec = &self.placed_spec(spec)?;
        let runpod = self
            .runpod_for(spec.account.as_deref().unwrap_or(""))
            .await?;
        // The cheap authenticated call: a bad or revoked key fails here, not at deploy.
        runpod
            .find_pods_by_name(&super::pod_name(&job_id, 1)?)
            .await?;
        let mut warnings: Vec<String> = model_warning.into_iter().collect();
        let options = self
            .gpu_options(&runpod, spec, params_b, &image, &mut warnings)
            .await?;
        let run = RunShape {
            params_b,
            method: spec.method,
            checkpointing: hp.gradient_checkpointing,
            train_tokens: train_tokens(&hp, &dataset),
            dataset_bytes: dataset.bytes,
            // Each option fills in its own GPUs and throughput.
            gpus: Gpus::ONE,
            tflops: (0.0, estimate::ThroughputSource::Measured { samples: 0 }),
            downloads_model: !spec.model.starts_with('/'),
        };
        let mut choices = Vec::new();
        for option in options {
            let choice = self.priced(spec, &run, &option.gpu, option.count, &mut warnings);
            choices.push((choice.await?, option.memory));
        }
        if spec.gpus.is_empty() {
            choices.sort_by(|(a, _), (b, _)| a.estimate.usd_high.total_cmp(&b.estimate.usd_high));
        }
        let (gpu, memory) = choices.remove(0);
        let mut fallbacks: Vec<GpuChoice> = choices.into_iter().map(|(c, _)| c).collect();
        fallbacks.truncate(4);
        let deadline_secs =
            super::budget::deadline_secs(spec.budget_usd, gpu.price_per_hour, spec.max_hours);
        warnings.extend(more_gpus_warning(spec, params_b, &gpu, &memory));
        warnings.extend(plan_warnings(&hp, &dataset, &gpu, deadline_secs));
        let rows = (dataset.rows, eval_dataset.as_ref().map(|d| d.rows));
        let training = self.training_plan(spec, &hp, rows, &gpu.gpu_id, &mut warnings)?;
        let plan = Plan {
            job_id,
            spec: spec.clone(),
            hyperparameters: hp,
            params_b,
            dataset,
            eval_dataset,
            memory,
            estimate: gpu.estimate.clone(),
            gpu,
            fallbacks,
            deadline_secs,
            image,
            training,
            warnings,
            created_at: self.clock.now_unix_secs(),
        };
        self.check_pod_script(&plan)?;
        self.record_plan(&plan).await?;
        Ok(plan)
    }

    /// The GPU types that can run the job, each at the GPUs per pod the model needs on it:
    /// those asked for (in order) or all, holding the model, priced in the cloud, in stock at
    /// that count, and with hosts for the image's CUDA.
    async fn gpu_options(
        &self,
        runpod: &Client,
        spec: &JobSpec,
        params_b: f64,
        image: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Sized>> {
        let catalog = runpod
            .gpu_catalog_with(&availability_query(spec, spec.gpu_count))
            .await?;
        let asked = asked_gpus(spec, &catalog)?;
        let mut options = sizing::size(spec, params_b, &asked, &catalog)?;
        // The catalog's availability is for the count asked: a type that needs more GPUs per
        // pod is looked up again at its own count (more GPUs on one host are scarcer).
        let mut counts: Vec<u32> = options.iter().map(|o| o.count).collect();
        counts.sort_unstable();
        counts.dedup();
        for count in counts.into_iter().filter(|c| *c != spec.gpu_count) {
            let at_count = runpod
                .gpu_catalog_with(&availability_query(spec, count))
                .await?;
            for option in options.iter_mut().filter(|o| o.count == count) {
                if let Some(entry) = at_count.iter().find(|g| g.id == option.gpu.id) {
                    option.gpu = entry.clone();
                }
            }
        }
        let priced = |o: &Sized| o.gpu.price_per_gpu_hour(spec.cloud) > 0.0;
        let in_stock = |o: &Sized| o.gpu.availability != Some(Availability::None);
        options.retain(|o| priced(o) && in_stock(o));
        if options.is_empty() {
            return Err(Error::new(
                ErrorKind::CapacityUnavailable,
                "no GPU that fits the model is priced and available in this cloud now: try the \
                 other cloud, more GPU types, or later",
            ));
        }
        let need_cuda = crate::script::cuda_of_image(image);
        cuda_capable(options, need_cuda.as_deref(), warnings)
    }

    /// One option with its price (every GPU of every node) and its estimate, from measured
    /// throughput when earlier jobs on the type were believable, calibrated by their bills.
    async fn priced(
        &self,
        spec: &JobSpec,
        run: &RunShape,
        gpu: &GpuType,
        count: u32,
        warnings: &mut Vec<String>,
    ) -> Result<GpuChoice> {
        let method = method_name(spec.method);
        let mut measured = self
            .store
            .throughput(&self.throughput_key(&gpu.id), method, 5)
            .await?;
        if let Some((median, rule)) = estimate::implausible(&gpu.id, spec.method, &measured) {
            warnings.push(format!(
                "earlier jobs on {} measured {median:.3} TFLOP/s, far from the {rule:.1} its \
                 rule of thumb gives: the estimate uses the rule",
                gpu.id
            ));
            measured.clear();
        }
        if estimate::peak_tflops(&gpu.id).is_none() && measured.is_empty() {
            warnings.push(format!(
                "no throughput figure for {}: its training time assumes {} TFLOP/s",
                gpu.id,
                estimate::UNKNOWN_GPU_TFLOPS
            ));
        }
        let gpus = Gpus::new(count, spec.nodes);
        let shape = RunShape {
            gpus,
            tflops: estimate::effective_tflops(&gpu.id, spec.method, &measured),
            ..run.clone()
        };
        let price = super::budget::price_per_hour(gpu.price_per_gpu_hour(spec.cloud), gpus);
        let mut cost = estimate::estimate_cost(&shape, price);
        if let Some(ratio) = self.bill_ratio(&gpu.id, method).await? {
            cost = cost.calibrated(ratio);
        }
        Ok(GpuChoice {
            gpu_id: gpu.id.clone(),
            count,
            memory_gb: gpu.memory,
            price_per_hour: price,
            availability: gpu.availability.map(availability_name),
            estimate: cost,
        })
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
}

/// The catalog with availability for pods of `count` GPUs (an Instant Cluster's, for a job of
/// several nodes).
fn availability_query(spec: &JobSpec, count: u32) -> GpuCatalogQuery {
    let product = if spec.nodes > 1 {
        Product::Cluster
    } else {
        Product::Pod
    };
    GpuCatalogQuery {
        products: vec![product],
        count: Some(count),
        cloud: Some(spec.cloud),
        ..GpuCatalogQuery::pods()
    }
}

/// The GPUs whose hosts can run an image built for CUDA `need` (the create asks for such a host;
/// a GPU type none of whose free hosts has it would be refused for capacity). A GPU whose
/// catalog entry names no CUDA versions is kept: the create's constraint still applies.
fn cuda_capable<T: Borrow<GpuType>>(
    gpus: Vec<T>,
    need: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Vec<T>> {
    let Some(need) = need.and_then(cuda_number) else {
        return Ok(gpus);
    };
    let fits = |g: &GpuType| {
        g.cuda_versions.is_empty()
            || g.cuda_versions
                .iter()
                .any(|c| c.available && cuda_number(&c.version).is_some_and(|v| v >= need))
    };
    let (capable, short): (Vec<T>, Vec<T>) = gpus.into_iter().partition(|g| fits(g.borrow()));
    let need_text = format!("{}.{}", need.0, need.1);
    for g in short.iter().map(Borrow::borrow) {
        warnings.push(format!(
            "{} has no free host with CUDA {need_text} or newer, which the image needs: it is \
             left out",
            g.id
        ));
    }
    if capable.is_empty() {
        return Err(Error::new(
            ErrorKind::CapacityUnavailable,
            format!(
                "no GPU that fits the model has a free host with CUDA {need_text} or newer, which \
                 the image needs: retry later, add GPU types, or use an image built for an older \
                 CUDA"
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

/// The GPU types asked for, in order, or the whole catalog when none was named.
fn asked_gpus<'a>(spec: &JobSpec, catalog: &'a [GpuType]) -> Result<Vec<&'a GpuType>> {
    if spec.gpus.is_empty() {
        return Ok(catalog.iter().collect());
    }
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
        .collect()
}

/// Says why the plan runs on more GPUs than `gpu_count` asked: the model's share did not fit
/// one GPU of the chosen type at that count.
fn more_gpus_warning(
    spec: &JobSpec,
    params_b: f64,
    gpu: &GpuChoice,
    memory: &MemoryEstimate,
) -> Option<String> {
    if gpu.count <= spec.gpu_count {
        return None;
    }
    let asked = memory_needed(params_b, spec.method, Gpus::new(spec.gpu_count, spec.nodes));
    let nodes = match spec.nodes {
        1 => String::new(),
        n => format!(" on each of {n} nodes"),
    };
    Some(format!(
        "the plan uses {count} x {id}{nodes}, more than the {asked_count} GPU(s) per pod asked: \
         there the model would need about {asked_gb:.1} GB per GPU, more than the {memory_gb} GB \
         of one; sharded over {world} GPUs it needs {needed_gb:.1} GB ({rule}). The price and \
         the estimate count every GPU",
        count = gpu.count,
        id = gpu.gpu_id,
        asked_count = spec.gpu_count,
        asked_gb = asked.needed_gb,
        memory_gb = gpu.memory_gb,
        world = Gpus::new(gpu.count, spec.nodes).world(),
        needed_gb = memory.needed_gb,
        rule = memory.rule
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
    fn a_plan_on_more_gpus_than_asked_says_why() {
        let spec = JobSpec {
            method: crate::script::Method::Full,
            nodes: 2,
            ..JobSpec::new("u", "org/m", DatasetRef::App { id: "d".into() }, 10.0)
        };
        let run = RunShape {
            params_b: 8.0,
            method: spec.method,
            checkpointing: true,
            train_tokens: 1e6,
            dataset_bytes: 1_000_000,
            gpus: Gpus::new(2, 2),
            tflops: (50.0, estimate::ThroughputSource::Measured { samples: 1 }),
            downloads_model: true,
        };
        let choice = |count: u32| GpuChoice {
            gpu_id: "A40".into(),
            count,
            memory_gb: 48,
            price_per_hour: 0.4 * f64::from(count * 2),
            availability: None,
            estimate: estimate::estimate_cost(&run, 0.4 * f64::from(count * 2)),
        };
        let memory = memory_needed(8.0, spec.method, Gpus::new(2, 2));
        let warning = more_gpus_warning(&spec, 8.0, &choice(2), &memory)
            .unwrap_or_else(|| panic!("no warning"));
        // One GPU per pod on two nodes shards the 8B model over 2: 80.4 GB each; 2 per pod,
        // over 4: 42.8 GB each.
        assert!(warning.contains("2 x A40 on each of 2 nodes"), "{warning}");
        assert!(
            warning.contains("more than the 1 GPU(s) per pod asked"),
            "{warning}"
        );
        assert!(warning.contains("about 80.4 GB"), "{warning}");
        assert!(
            warning.contains("over 4 GPUs it needs 42.8 GB"),
            "{warning}"
        );
        assert_eq!(more_gpus_warning(&spec, 8.0, &choice(1), &memory), None);
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
        assert!(
            !warnings[0].contains("  "),
            "one line of prose: {warnings:?}"
        );
        let err = cuda_capable(vec![&old], Some("12.8"), &mut warnings).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CapacityUnavailable);
        assert!(err.to_string().contains("CUDA 12.8"), "{err}");
        let any = cuda_capable(vec![&old], None, &mut warnings).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(any.len(), 1);
    }
}
