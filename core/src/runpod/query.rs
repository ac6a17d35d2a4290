//! Query parameters: the pod list filter and the GPU catalog query, validated before any request
//! and encoded the way the v2 spec describes (`style: form, explode: false`: lists are one
//! parameter with comma-separated items).

use url::form_urlencoded::byte_serialize;

use super::types::{Cloud, Pod, PodStatus};
use super::validate::{validate_data_center_id, validate_gpu_count, validate_gpu_id};
use crate::{Error, Result};

/// Builds `?a=1&b=x,y`, percent-encoding each value (list items separately, so the commas
/// between them stay literal as the spec's form style expects).
#[derive(Default)]
pub(crate) struct QueryString(Vec<String>);

impl QueryString {
    pub fn push(&mut self, name: &str, value: &str) {
        self.0.push(format!(
            "{name}={}",
            byte_serialize(value.as_bytes()).collect::<String>()
        ));
    }

    pub fn push_list<S: AsRef<str>>(&mut self, name: &str, items: &[S]) {
        if items.is_empty() {
            return;
        }
        let joined: Vec<String> = items
            .iter()
            .map(|i| byte_serialize(i.as_ref().as_bytes()).collect())
            .collect();
        self.0.push(format!("{name}={}", joined.join(",")));
    }

    pub fn finish(self) -> String {
        if self.0.is_empty() {
            String::new()
        } else {
            format!("?{}", self.0.join("&"))
        }
    }
}

/// A path segment with everything but unreserved characters percent-encoded (GPU ids contain
/// spaces: `NVIDIA GeForce RTX 4090`).
pub(crate) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub(crate) fn validate_timestamp(what: &str, s: &str) -> Result<()> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let mut ok = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if ok {
        let mut rest = &s[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            ok = n > 0;
            rest = &frac[n..];
        }
        let rb = rest.as_bytes();
        ok = ok
            && (matches!(rest, "Z" | "z")
                || (rb.len() == 6
                    && matches!(rb[0], b'+' | b'-')
                    && rb[1..3].iter().all(u8::is_ascii_digit)
                    && rb[3] == b':'
                    && rb[4..6].iter().all(u8::is_ascii_digit)));
    }
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "{what} {} is not an RFC 3339 time: use a form such as 2026-06-01T12:00:00Z",
            crate::error::quote(s)
        )))
    }
}

/// Which pods [`super::Client::list_pods_filtered`] returns.
///
/// `GET /v2/pods` takes one query parameter in the v2 spec, `includeClusterPods`; every other
/// filter here is applied by the client to the listed pods, because RunPod offers no server-side
/// form of it (an undocumented parameter would be silently ignored, returning every pod).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodFilter {
    /// Include cluster member pods (server-side; RunPod's default leaves them out).
    pub include_cluster_pods: bool,
    /// Only the pod with exactly this name.
    pub name: Option<String>,
    /// Only pods whose name starts with this (`trainpod-` finds every trainpod pod).
    pub name_prefix: Option<String>,
    /// Only pods in one of these statuses; empty means every status.
    pub statuses: Vec<PodStatus>,
    /// Only pods with this GPU type id.
    pub gpu_id: Option<String>,
    /// Only pods in this data center.
    pub data_center_id: Option<String>,
}

impl PodFilter {
    /// Whether `pod` passes the client-side filters.
    pub fn matches(&self, pod: &Pod) -> bool {
        self.name.as_ref().is_none_or(|n| pod.name == *n)
            && self
                .name_prefix
                .as_ref()
                .is_none_or(|p| pod.name.starts_with(p.as_str()))
            && (self.statuses.is_empty() || self.statuses.contains(&pod.status))
            && self
                .gpu_id
                .as_ref()
                .is_none_or(|g| pod.gpu.as_ref().is_some_and(|pg| pg.id == *g))
            && self
                .data_center_id
                .as_ref()
                .is_none_or(|d| pod.data_center_id.as_deref() == Some(d.as_str()))
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(g) = &self.gpu_id {
            validate_gpu_id(g)?;
        }
        if let Some(d) = &self.data_center_id {
            validate_data_center_id(d)?;
        }
        if self.statuses.contains(&PodStatus::Unknown) {
            return Err(Error::invalid_input(
                "pod filter statuses must be known statuses such as RUNNING or EXITED",
            ));
        }
        Ok(())
    }

    pub(crate) fn to_query(&self) -> String {
        let mut q = QueryString::default();
        if self.include_cluster_pods {
            q.push("includeClusterPods", "true");
        }
        q.finish()
    }
}

/// The availability context of a catalog query (`product`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Product {
    /// On-demand pods.
    Pod,
    /// Instant clusters.
    Cluster,
    /// Serverless workers.
    Serverless,
}

impl Product {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Pod => "POD",
            Product::Cluster => "CLUSTER",
            Product::Serverless => "SERVERLESS",
        }
    }
}

/// Query of `GET /v2/catalog/gpus`. Without availability the catalog has prices only; every
/// other field scopes availability, so the spec allows it only with `availability: true`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuCatalogQuery {
    /// Add `availability`, `dataCenters` and `cudaVersions` (`include=AVAILABILITY`).
    pub availability: bool,
    /// The availability contexts; required with `availability` (RunPod has no default).
    pub products: Vec<Product>,
    /// GPUs per pod that availability is computed for (RunPod's default: 1).
    pub count: Option<u32>,
    /// Cloud that availability is computed for (RunPod's default: secure).
    pub cloud: Option<Cloud>,
    /// ISO 3166-1 alpha-2 country codes, upper case, to restrict data centers to.
    pub country_codes: Vec<String>,
    /// Exact CUDA versions (`12.8`); excludes `min_cuda_version`.
    pub cuda_versions: Vec<String>,
    /// Lowest CUDA version (`12` or `12.1`); excludes `cuda_versions`.
    pub min_cuda_version: Option<String>,
}

impl GpuCatalogQuery {
    /// Prices and availability for on-demand pods: what choosing a GPU needs.
    pub fn pods() -> Self {
        GpuCatalogQuery {
            availability: true,
            products: vec![Product::Pod],
            ..GpuCatalogQuery::default()
        }
    }

    /// Check the spec's rules, which RunPod enforces with 400 or 422, before any request.
    pub(crate) fn validate(&self) -> Result<()> {
        if !self.availability {
            let scoped = !self.products.is_empty()
                || self.count.is_some()
                || self.cloud.is_some()
                || !self.country_codes.is_empty()
                || !self.cuda_versions.is_empty()
                || self.min_cuda_version.is_some();
            if scoped {
                return Err(Error::invalid_input(
                    "products, count, cloud, country codes and CUDA filters scope availability: \
                     set availability to true, or leave them unset",
                ));
            }
            return Ok(());
        }
        if self.products.is_empty() {
            return Err(Error::invalid_input(
                "availability needs at least one product (POD for pods): RunPod has no default",
            ));
        }
        if let Some(c) = self.count {
            validate_gpu_count(c)?;
        }
        for cc in &self.country_codes {
            if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(Error::invalid_input(format!(
                    "country code {} is invalid: use two upper-case letters such as FR",
                    crate::error::quote(cc)
                )));
            }
        }
        if !self.cuda_versions.is_empty() && self.min_cuda_version.is_some() {
            return Err(Error::invalid_input(
                "give either exact CUDA versions or a minimum CUDA version, not both",
            ));
        }
        for v in &self.cuda_versions {
            if !is_version(v, true) {
                return Err(Error::invalid_input(format!(
                    "CUDA version {} is invalid: use major.minor such as 12.8",
                    crate::error::quote(v)
                )));
            }
        }
        if let Some(v) = &self.min_cuda_version
            && !is_version(v, false)
        {
            return Err(Error::invalid_input(format!(
                "minimum CUDA version {} is invalid: use 12 or 12.1",
                crate::error::quote(v)
            )));
        }
        Ok(())
    }

    pub(crate) fn to_query(&self) -> String {
        let mut q = QueryString::default();
        if self.availability {
            q.push("include", "AVAILABILITY");
            let products: Vec<&str> = self.products.iter().map(|p| p.as_str()).collect();
            q.push_list("product", &products);
        }
        if let Some(c) = self.count {
            q.push("count", &c.to_string());
        }
        if let Some(c) = self.cloud {
            q.push(
                "cloud",
                match c {
                    Cloud::Secure => "SECURE",
                    Cloud::Community => "COMMUNITY",
                },
            );
        }
        q.push_list("countryCodes", &self.country_codes);
        q.push_list("cudaVersions", &self.cuda_versions);
        if let Some(v) = &self.min_cuda_version {
            q.push("minCudaVersion", v);
        }
        q.finish()
    }
}

/// `12.8` (`need_minor`) or also `12`.
fn is_version(v: &str, need_minor: bool) -> bool {
    let num = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    match v.split_once('.') {
        Some((major, minor)) => num(major) && num(minor),
        None => !need_minor && num(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        for ok in [
            "2026-06-01T12:00:00Z",
            "2026-06-01T12:00:00.123Z",
            "2026-06-01t12:00:00-05:30",
        ] {
            assert!(validate_timestamp("t", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "2026-06-01",
            "2026-06-01T12:00:00",
            "2026-06-01T12:00:00.Z",
            "2026-06-01T12:00:00+0530",
            "2026-06-01T12:00:00Z&x=1",
        ] {
            assert!(validate_timestamp("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn catalog_queries_follow_the_spec_rules() {
        assert_eq!(
            GpuCatalogQuery::pods().to_query(),
            "?include=AVAILABILITY&product=POD"
        );
        let q = GpuCatalogQuery {
            products: vec![Product::Pod, Product::Serverless],
            count: Some(2),
            cloud: Some(Cloud::Community),
            country_codes: vec!["FR".into(), "DE".into()],
            min_cuda_version: Some("12".into()),
            ..GpuCatalogQuery::pods()
        };
        assert!(q.validate().is_ok());
        assert_eq!(
            q.to_query(),
            "?include=AVAILABILITY&product=POD,SERVERLESS&count=2&cloud=COMMUNITY\
             &countryCodes=FR,DE&minCudaVersion=12"
        );
        assert_eq!(GpuCatalogQuery::default().to_query(), "");
        let bad = [
            GpuCatalogQuery {
                count: Some(2),
                ..GpuCatalogQuery::default()
            },
            GpuCatalogQuery {
                availability: true,
                ..GpuCatalogQuery::default()
            },
            GpuCatalogQuery {
                country_codes: vec!["fr".into()],
                ..GpuCatalogQuery::pods()
            },
            GpuCatalogQuery {
                cuda_versions: vec!["12".into()],
                ..GpuCatalogQuery::pods()
            },
            GpuCatalogQuery {
                cuda_versions: vec!["12.8".into()],
                min_cuda_version: Some("12.1".into()),
                ..GpuCatalogQuery::pods()
            },
            GpuCatalogQuery {
                count: Some(0),
                ..GpuCatalogQuery::pods()
            },
        ];
        for q in bad {
            assert!(q.validate().is_err(), "{q:?}");
        }
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("NVIDIA A40"), "NVIDIA%20A40");
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
    }
}
