//! `plan` for several GPUs and several nodes, against the emulator's catalog: a full fine-tune
//! too large for one GPU is sharded over the fewest GPUs each type needs and priced per option;
//! a LoRA job more GPUs cannot help is refused with what would fit; a job of two nodes pays and
//! budgets for both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use trainpod::clock::ManualClock;
use trainpod::runpod::{GpuCatalogQuery, GpuType};
use trainpod::script::Method;
use trainpod::sdk::estimate::{CROSS_NODE_SCALING, CostEstimate, Gpus, memory_needed};
use trainpod::sdk::{DatasetRef, GpuChoice, JobSpec, Trainpod};
use trainpod::token::{KeyRing, generate_secret};
use trainpod::{ErrorKind, runpod::Cloud};
use trainpod_e2e::{emulator_client, fresh_dir};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;

async fn setup(name: &str) -> (Emulator, Trainpod) {
    let emu = Emulator::start().await.unwrap();
    let dir = fresh_dir(&format!("plan-gpus-{name}"));
    let datasets = dir.join("datasets");
    std::fs::create_dir_all(&datasets).unwrap();
    let rows: Vec<&str> = std::iter::repeat_n(CHAT, 50).collect();
    std::fs::write(datasets.join("chat"), rows.join("\n") + "\n").unwrap();
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url("http://127.0.0.1:9")
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .datasets_dir(&datasets)
        .artifacts_dir(dir.join("artifacts"))
        .clock(Arc::new(ManualClock::new(1_900_000_000)))
        .build()
        .await
        .unwrap();
    (emu, tp)
}

fn spec(job: &str, method: Method, params_b: f64) -> JobSpec {
    JobSpec {
        job_id: Some(job.into()),
        method,
        params_b: Some(params_b),
        ..JobSpec::new(
            "user-1",
            "Qwen/Qwen2.5-0.5B",
            DatasetRef::App { id: "chat".into() },
            20.0,
        )
    }
}

/// The emulator's catalog, as RunPod lists it.
async fn catalog(emu: &Emulator) -> Vec<GpuType> {
    emulator_client(emu)
        .gpu_catalog_with(&GpuCatalogQuery::pods())
        .await
        .unwrap()
}

fn per_gpu_price(catalog: &[GpuType], id: &str) -> f64 {
    let gpu = catalog.iter().find(|g| g.id == id).unwrap();
    gpu.price_per_gpu_hour(Cloud::Secure)
}

fn training_secs(e: &CostEstimate) -> f64 {
    e.lines
        .iter()
        .find(|l| l.phase == "training")
        .unwrap()
        .seconds_high
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[tokio::test]
async fn a_full_fine_tune_too_large_for_one_gpu_is_sharded_over_the_cheapest_fitting_gpus() {
    let (emu, tp) = setup("full").await;
    let catalog = catalog(&emu).await;
    // 7B full: 7 x 16 x 1.2 + 2 = 136.4 GB on one GPU, more than any GPU of the catalog has.
    let params_b = 7.0;
    let one = memory_needed(params_b, Method::Full, Gpus::ONE).needed_gb;
    assert!(catalog.iter().all(|g| f64::from(g.memory) < one));
    let plan = tp
        .plan(&spec("full-7b", Method::Full, params_b))
        .await
        .unwrap();
    let options: Vec<&GpuChoice> = std::iter::once(&plan.gpu).chain(&plan.fallbacks).collect();
    // Every type of the catalog holds it, each at the fewest GPUs that shard it small enough.
    assert_eq!(options.len(), catalog.len(), "{options:#?}");
    for o in &options {
        let fits = |n: u32| {
            memory_needed(params_b, Method::Full, Gpus::new(n, 1)).needed_gb
                <= f64::from(o.memory_gb)
        };
        assert!(fits(o.count) && !fits(o.count - 1), "{o:#?}");
        assert!(o.count > 1);
        // Priced for every GPU of the pod, and estimated at that price.
        let price = per_gpu_price(&catalog, &o.gpu_id) * f64::from(o.count);
        assert!(close(o.price_per_hour, price), "{o:#?}");
        assert_eq!(o.estimate.price_per_hour, o.price_per_hour);
        // The cheapest by estimate is chosen.
        assert!(o.estimate.usd_high >= plan.gpu.estimate.usd_high);
    }
    // The chosen option's memory, shown with the rule that shards it.
    assert!(plan.memory.needed_gb <= f64::from(plan.gpu.memory_gb));
    let sharded = format!("FSDP over {} GPUs", plan.gpu.count);
    assert!(plan.memory.rule.contains(&sharded), "{}", plan.memory.rule);
    assert_eq!(plan.estimate, plan.gpu.estimate);
    assert_eq!(plan.spec.gpu_count, 1, "the spec stays as asked");
    let warning = plan
        .warnings
        .iter()
        .find(|w| w.contains("more than the 1 GPU(s) per pod asked"))
        .unwrap_or_else(|| panic!("{:?}", plan.warnings));
    assert!(warning.contains(&plan.gpu.gpu_id), "{warning}");
    assert!(warning.contains(&format!("{one:.1} GB")), "{warning}");
    // The budget buys time at the price of all of the pod's GPUs.
    let bought = 20.0 / plan.gpu.price_per_hour * 3600.0;
    assert_eq!(plan.deadline_secs, bought.floor() as u64);

    // A count asked for is a floor: the plan shards over at least that many GPUs.
    let more = JobSpec {
        gpu_count: 6,
        ..spec("full-7b-6", Method::Full, params_b)
    };
    let plan = tp.plan(&more).await.unwrap();
    assert!(plan.gpu.count >= 6);
    assert!(plan.fallbacks.iter().all(|f| f.count >= 6));
    assert!(plan.fallbacks.iter().any(|f| f.count == 6));
    assert_eq!(emu.pod_count(), 0);
}

#[tokio::test]
async fn a_lora_job_more_gpus_cannot_help_is_refused_with_what_would_fit() {
    let (emu, tp) = setup("lora").await;
    // 70B LoRA: 70 x 2 x 1.2 + 2 = 170 GB on every GPU, however many train it.
    for gpu_count in [1, 8] {
        let too_big = JobSpec {
            gpu_count,
            ..spec("lora-70b", Method::Lora, 70.0)
        };
        let err = tp.plan(&too_big).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let text = err.message();
        assert!(text.contains("170.0 GB per GPU"), "{text}");
        assert!(text.contains("more GPUs do not help"), "{text}");
        // QLoRA, 70 x 0.55 x 1.2 + 2 = 48.2 GB, fits the catalog's 80 GB GPUs.
        assert!(
            text.contains("QLoRA (method qlora: about 48.2 GB"),
            "{text}"
        );
        // A full fine-tune sharded over 4 nodes of 8 x 80 GB would hold it too.
        assert!(text.contains("4 nodes of 8 x"), "{text}");
    }
    assert_eq!(emu.pod_count(), 0);
}

#[tokio::test]
async fn a_two_node_job_is_priced_and_budgeted_for_both_nodes() {
    let (emu, tp) = setup("nodes").await;
    let catalog = catalog(&emu).await;
    let pinned = |job: &str, nodes: u32| JobSpec {
        nodes,
        gpu_count: 2,
        gpus: vec!["NVIDIA A40".into()],
        ..spec(job, Method::Lora, 0.5)
    };
    let single = tp.plan(&pinned("one-node", 1)).await.unwrap();
    let double = tp.plan(&pinned("two-nodes", 2)).await.unwrap();
    let per_gpu = per_gpu_price(&catalog, "NVIDIA A40");
    // Both nodes' GPUs are paid for: 2 GPUs x 2 nodes.
    assert_eq!(double.gpu.count, 2, "GPUs per pod");
    assert!(close(double.gpu.price_per_hour, per_gpu * 4.0));
    assert!(close(
        double.gpu.price_per_hour,
        2.0 * single.gpu.price_per_hour
    ));
    assert_eq!(double.estimate.price_per_hour, double.gpu.price_per_hour);
    // The deadline is what the budget buys at the price of both nodes: half as long.
    assert_eq!(
        double.deadline_secs,
        (20.0 / double.gpu.price_per_hour * 3600.0).floor() as u64
    );
    assert!(double.deadline_secs < single.deadline_secs);
    // Training divides over all four GPUs, at the lower scaling across nodes: 2 x 0.9 / (4 x 0.8).
    assert!(close(double.estimate.scaling, CROSS_NODE_SCALING));
    let ratio = training_secs(&single.estimate) / training_secs(&double.estimate);
    assert!(close(ratio, 4.0 * 0.8 / (2.0 * 0.9)), "{ratio}");
    // Every figure of the estimate is at the whole job's price.
    assert!(close(
        double.estimate.usd_high,
        double.estimate.seconds_high / 3600.0 * double.gpu.price_per_hour
    ));
    // LoRA's memory on each GPU is the same however many nodes train.
    assert_eq!(double.memory.needed_gb, single.memory.needed_gb);
    assert_eq!(emu.pod_count(), 0);
}
