//! How many GPUs of each type a job needs: the fewest per pod, from the spec's `gpu_count` up to
//! 8 (and the type's own maximum), on which each GPU holds its share of the model
//! (`estimate::memory_needed`). `gpu_count` is a floor: a full fine-tune too large for it is
//! sharded over more GPUs; LoRA and QLoRA, which hold the whole model on every GPU, are not
//! helped by more. When no type holds the model, the refusal says what would.

use super::estimate::{Gpus, MemoryEstimate, memory_needed};
use super::spec::{JobSpec, MAX_NODES};
use crate::error::{Error, Result};
use crate::runpod::{Cloud, GpuType};
use crate::script::Method;

/// The most GPUs a job's pod may have (`JobSpec::gpu_count`'s bound).
pub(crate) const MAX_GPUS_PER_POD: u32 = 8;

/// A GPU type at the count the model needs on it.
#[derive(Clone, Debug)]
pub(crate) struct Sized {
    /// The catalog's entry.
    pub gpu: GpuType,
    /// GPUs per pod.
    pub count: u32,
    /// What each of them holds.
    pub memory: MemoryEstimate,
}

impl std::borrow::Borrow<GpuType> for Sized {
    fn borrow(&self) -> &GpuType {
        &self.gpu
    }
}

/// The most GPUs of `gpu` one pod may have in `cloud`: the catalog's `maxCount` (0 when it does
/// not say), at most 8.
fn max_per_pod(gpu: &GpuType, cloud: Cloud) -> u32 {
    let said = match cloud {
        Cloud::Secure => gpu.max_count.secure,
        Cloud::Community => gpu.max_count.community,
    };
    if said == 0 {
        MAX_GPUS_PER_POD
    } else {
        said.min(MAX_GPUS_PER_POD)
    }
}

/// The fewest GPUs per pod, `from` or more, on which the model's share fits one `gpu`, with
/// that share.
fn fewest_gpus(
    spec: &JobSpec,
    params_b: f64,
    method: Method,
    gpu: &GpuType,
) -> Option<(u32, MemoryEstimate)> {
    (spec.gpu_count..=max_per_pod(gpu, spec.cloud))
        .map(|n| (n, memory_needed(params_b, method, Gpus::new(n, spec.nodes))))
        .find(|(_, m)| m.needed_gb <= f64::from(gpu.memory))
}

/// Every GPU type of `asked` that can hold the model, at the fewest GPUs per pod it needs, in
/// `asked`'s order; an `INVALID_INPUT` naming what would fit when none can. `catalog` is all
/// RunPod offers, for the refusal's larger GPU.
pub(crate) fn size(
    spec: &JobSpec,
    params_b: f64,
    asked: &[&GpuType],
    catalog: &[GpuType],
) -> Result<Vec<Sized>> {
    let offered = asked
        .iter()
        .filter(|g| max_per_pod(g, spec.cloud) >= spec.gpu_count)
        .count();
    if offered == 0 {
        return Err(Error::invalid_input(format!(
            "no GPU type considered offers {} GPUs on one pod in this cloud: ask for fewer GPUs \
             (gpu_count) and more nodes, or other GPU types",
            spec.gpu_count
        )));
    }
    let sized: Vec<Sized> = asked
        .iter()
        .filter_map(|g| {
            fewest_gpus(spec, params_b, spec.method, g).map(|(count, memory)| Sized {
                gpu: (*g).clone(),
                count,
                memory,
            })
        })
        .collect();
    if sized.is_empty() {
        return Err(nothing_fits(spec, params_b, asked, catalog));
    }
    Ok(sized)
}

/// The refusal when no GPU considered holds the model at any count: the rule with its figures,
/// why more GPUs do not help, and what would fit.
fn nothing_fits(spec: &JobSpec, params_b: f64, asked: &[&GpuType], catalog: &[GpuType]) -> Error {
    let memory = memory_needed(params_b, spec.method, Gpus::new(spec.gpu_count, spec.nodes));
    // The roomiest GPU considered, the cheapest of those alike.
    let price = |g: &GpuType| g.price_per_gpu_hour(spec.cloud);
    let roomiest = asked
        .iter()
        .copied()
        .max_by(|a, b| (a.memory.cmp(&b.memory)).then_with(|| price(b).total_cmp(&price(a))));
    let Some(largest) = roomiest else {
        return Error::invalid_input("no GPU type to consider: name one from GET /v2/catalog/gpus");
    };
    let mut why = format!(
        "the model needs about {:.1} GB per GPU ({}), more than the {} GB of the GPUs considered",
        memory.needed_gb, memory.rule, largest.memory
    );
    match spec.method {
        Method::Lora | Method::Qlora => why.push_str(
            ", and more GPUs do not help: LoRA and QLoRA train data parallel, every GPU holding \
             the whole model",
        ),
        Method::Full if max_per_pod(largest, spec.cloud) > spec.gpu_count => {
            let most = max_per_pod(largest, spec.cloud);
            let spread = memory_needed(params_b, Method::Full, Gpus::new(most, spec.nodes));
            why.push_str(&format!(
                ", even sharded over {most} GPUs per pod ({:.1} GB each)",
                spread.needed_gb
            ));
        }
        Method::Full => {}
    }
    let fits = what_would_fit(spec, params_b, largest, catalog);
    if fits.is_empty() {
        why.push_str(": no GPU type, count or method trainpod can run holds it");
    } else {
        why.push_str(": what would fit: ");
        why.push_str(&fits.join("; or "));
    }
    Error::invalid_input(why)
}

/// What would hold the model: QLoRA, a larger GPU of the catalog, or a full fine-tune sharded
/// over enough GPUs (more nodes when one pod is not enough).
fn what_would_fit(
    spec: &JobSpec,
    params_b: f64,
    largest: &GpuType,
    catalog: &[GpuType],
) -> Vec<String> {
    let mut fits = Vec::new();
    if spec.method != Method::Qlora {
        let qlora = memory_needed(params_b, Method::Qlora, Gpus::ONE);
        if qlora.needed_gb <= f64::from(largest.memory) {
            fits.push(format!(
                "QLoRA (method qlora: about {:.1} GB per GPU)",
                qlora.needed_gb
            ));
        }
    }
    let larger = catalog
        .iter()
        .filter(|g| g.memory > largest.memory && g.price_per_gpu_hour(spec.cloud) > 0.0)
        .filter_map(|g| fewest_gpus(spec, params_b, spec.method, g).map(|(n, _)| (g, n)))
        .min_by(|(a, n), (b, m)| {
            let price = |g: &GpuType, n: u32| g.price_per_gpu_hour(spec.cloud) * f64::from(n);
            price(a, *n).total_cmp(&price(b, *m))
        });
    if let Some((g, n)) = larger {
        fits.push(format!(
            "a larger GPU: {n} x {} ({} GB) per pod (name it in gpus)",
            g.id, g.memory
        ));
    }
    fits.extend(sharded(spec, params_b, largest));
    fits
}

/// A full fine-tune of the model sharded by FSDP over `largest`: on the nodes asked when they
/// are enough (for a LoRA or QLoRA job), else over as few more nodes of the most GPUs a pod has
/// as it takes (at most `MAX_NODES`).
fn sharded(spec: &JobSpec, params_b: f64, largest: &GpuType) -> Option<String> {
    let per_pod = max_per_pod(largest, spec.cloud);
    let fits = |gpus: Gpus| {
        memory_needed(params_b, Method::Full, gpus).needed_gb <= f64::from(largest.memory)
    };
    let switch = match spec.method {
        Method::Full => "",
        Method::Lora | Method::Qlora => "full fine-tuning (method full), which FSDP shards, on ",
    };
    if spec.method != Method::Full
        && let Some(n) = (1..=per_pod).find(|n| fits(Gpus::new(*n, spec.nodes)))
    {
        let pods = match spec.nodes {
            1 => "in one pod".to_owned(),
            k => format!("per pod on {k} nodes"),
        };
        return Some(format!("{switch}{n} x {} {pods}", largest.id));
    }
    // Fewer nodes would have held it on the GPUs per pod `size` tried.
    let nodes = (spec.nodes + 1..=MAX_NODES).find(|k| fits(Gpus::new(per_pod, *k)))?;
    Some(format!(
        "{switch}{nodes} nodes of {per_pod} x {} (nodes {nodes}, gpu_count {per_pod}: {} GPUs)",
        largest.id,
        nodes * per_pod
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::spec::DatasetRef;

    fn gpu(id: &str, memory: u32, price: f64) -> GpuType {
        serde_json::from_value(serde_json::json!({
            "id": id, "memory": memory,
            "price": {"secure": price, "community": price},
            "maxCount": {"secure": 8, "community": 8},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn spec(method: Method, gpu_count: u32, nodes: u32) -> JobSpec {
        JobSpec {
            method,
            gpu_count,
            nodes,
            ..JobSpec::new("u", "org/m", DatasetRef::App { id: "d".into() }, 10.0)
        }
    }

    fn sized(spec: &JobSpec, params_b: f64, catalog: &[GpuType]) -> Result<Vec<(String, u32)>> {
        let asked: Vec<&GpuType> = catalog.iter().collect();
        Ok(size(spec, params_b, &asked, catalog)?
            .into_iter()
            .map(|s| (s.gpu.id, s.count))
            .collect())
    }

    #[test]
    fn a_full_fine_tune_gets_the_fewest_gpus_each_type_needs_from_the_asked_count() {
        let catalog = [gpu("A40", 48, 0.4), gpu("A100", 80, 1.6)];
        // 8B full: 155.6 GB on one GPU; 80.4 GB each on two; 55.3 on three; 42.8 on four.
        let got = sized(&spec(Method::Full, 1, 1), 8.0, &catalog).unwrap_or_default();
        assert_eq!(got, [("A40".into(), 4), ("A100".into(), 3)]);
        // The asked count is a floor, never lowered.
        let got = sized(&spec(Method::Full, 5, 1), 8.0, &catalog).unwrap_or_default();
        assert_eq!(got, [("A40".into(), 5), ("A100".into(), 5)]);
        // Over two nodes each pod needs half as many.
        let got = sized(&spec(Method::Full, 1, 2), 8.0, &catalog).unwrap_or_default();
        assert_eq!(got, [("A40".into(), 2), ("A100".into(), 2)]);
    }

    #[test]
    fn lora_too_large_for_every_gpu_is_refused_with_what_would_fit() {
        let catalog = [gpu("RTX", 24, 0.7), gpu("A100", 80, 1.6)];
        let asked = [&catalog[0]];
        // 70B LoRA: 70 x 2 x 1.2 + 2 = 170 GB on every GPU, however many.
        let err = size(&spec(Method::Lora, 1, 1), 70.0, &asked, &catalog).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("170.0 GB per GPU"), "{text}");
        assert!(text.contains("more GPUs do not help"), "{text}");
        // Nothing of this catalog holds it as LoRA; QLoRA (48.2 GB) fits the A100, not the RTX.
        assert!(!text.contains("QLoRA (method qlora"), "{text}");
        assert!(!text.contains("a larger GPU"), "{text}");
        // Full: 1316 / n + 30 GB per GPU; 24 GB never holds it, however many nodes.
        assert!(!text.contains("full fine-tuning"), "{text}");
        assert!(text.contains("no GPU type, count or method"), "{text}");

        let asked = [&catalog[1]];
        let text = size(&spec(Method::Lora, 1, 1), 70.0, &asked, &catalog)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("QLoRA (method qlora: about 48.2 GB"),
            "{text}"
        );
        // 1316 / n + 30 <= 80 needs 27 GPUs: four nodes of eight.
        assert!(text.contains("on 4 nodes of 8 x A100"), "{text}");
    }

    #[test]
    fn a_full_fine_tune_beyond_one_pod_is_told_how_many_nodes_would_hold_it() {
        let catalog = [gpu("A100", 80, 1.6), gpu("BIG", 192, 6.0)];
        let asked = [&catalog[0]];
        let text = size(&spec(Method::Full, 1, 1), 70.0, &asked, &catalog)
            .unwrap_err()
            .to_string();
        assert!(text.contains("even sharded over 8 GPUs per pod"), "{text}");
        assert!(text.contains("; or 4 nodes of 8 x A100 (nodes 4"), "{text}");
        // 1316 / 8 + 30 = 194.5 GB: not even the larger GPU holds it on one pod.
        assert!(!text.contains("a larger GPU"), "{text}");
        // Asked for a cluster too small, it is told how many nodes would do.
        let text = size(&spec(Method::Full, 8, 2), 70.0, &asked, &catalog)
            .unwrap_err()
            .to_string();
        assert!(text.contains("4 nodes of 8 x A100"), "{text}");
        // Asked for enough nodes of too few GPUs, more nodes are not what it lacks: the types
        // considered hold it at 8 GPUs per pod, which the plan tries itself.
        assert!(size(&spec(Method::Full, 1, 4), 70.0, &asked, &catalog).is_ok());
        // Over two nodes the larger GPU holds it: 1316 / 16 + 30 = 112.3 GB.
        assert!(text.contains("a larger GPU: 8 x BIG (192 GB)"), "{text}");
        // The larger GPU is named when it would hold the model.
        let text = size(&spec(Method::Full, 1, 1), 40.0, &asked, &catalog)
            .unwrap_err()
            .to_string();
        assert!(text.contains("a larger GPU: 5 x BIG (192 GB)"), "{text}");
    }

    #[test]
    fn lora_that_a_sharded_full_fine_tune_would_fit_on_the_nodes_asked_is_told_so() {
        let catalog = [gpu("A100", 80, 1.6)];
        let asked = [&catalog[0]];
        // 40B LoRA: 98 GB on every GPU. Full: 752 / n + 18 GB, 80 GB from 13 GPUs.
        let text = size(&spec(Method::Lora, 1, 2), 40.0, &asked, &catalog)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("which FSDP shards, on 7 x A100 per pod on 2 nodes"),
            "{text}"
        );
        let text = size(&spec(Method::Lora, 1, 1), 40.0, &asked, &catalog)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("which FSDP shards, on 2 nodes of 8 x A100"),
            "{text}"
        );
    }

    #[test]
    fn a_count_no_type_offers_is_refused_as_such() {
        let mut small = gpu("SMALL", 80, 1.0);
        small.max_count.secure = 4;
        let err = size(&spec(Method::Lora, 8, 1), 1.0, &[&small], &[]).unwrap_err();
        assert!(err.to_string().contains("offers 8 GPUs"), "{err}");
    }
}
