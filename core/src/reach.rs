//! Can a pod reach this URL? A pod runs in a RunPod data center: it cannot reach the app's
//! `localhost`, a private network, a link-local address or a `.local` name. Such a URL is refused
//! before anything is spent, with the fixes in the message.

use crate::error::{Error, ErrorKind, Result};
use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use url::{Host, Url};

/// Turns a host name into addresses.
pub trait Resolver: Send + Sync + Debug {
    /// The addresses `host` resolves to.
    fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (blocking).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok((host, 443).to_socket_addrs()?.map(|a| a.ip()).collect())
    }
}

/// Which URLs are acceptable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReachPolicy {
    /// Only public https URLs: what a RunPod pod can reach.
    #[default]
    Public,
    /// Also `http` and loopback addresses: for the local provider, whose pods run on this machine.
    AllowLoopback,
}

/// Parse `url` and check that a pod can reach it, resolving its host with `resolver`.
pub fn check_reachable(url: &str, policy: ReachPolicy, resolver: &dyn Resolver) -> Result<Url> {
    // The text is not shown: a URL that does not parse cannot have its user name, password or
    // query taken out, and those may be credentials.
    let parsed = Url::parse(url).map_err(|e| {
        Error::invalid_input(format!(
            "the URL is not valid ({e}); give an absolute URL such as https://app.example.com"
        ))
    })?;
    check_shape(&parsed, policy)?;
    let host = parsed
        .host()
        .ok_or_else(|| unreachable_err(&parsed, "it has no host"))?;
    let addresses = match host {
        Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        // `localhost` is the machine itself by definition (RFC 6761), whatever a resolver says.
        Host::Domain(name) if name.trim_end_matches('.').eq_ignore_ascii_case("localhost") => {
            check_name(&parsed, name, policy)?;
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
        }
        Host::Domain(name) => {
            check_name(&parsed, name, policy)?;
            resolver
                .resolve(name)
                .map_err(|_| unreachable_err(&parsed, &format!("{name} does not resolve")))?
        }
    };
    if addresses.is_empty() {
        return Err(unreachable_err(&parsed, "its host resolves to no address"));
    }
    for ip in addresses {
        let allowed = is_public(ip) || (policy == ReachPolicy::AllowLoopback && ip.is_loopback());
        if !allowed {
            return Err(unreachable_err(
                &parsed,
                &format!("its host resolves to {ip}, {}", describe(ip)),
            ));
        }
    }
    Ok(parsed)
}

fn check_shape(url: &Url, policy: ReachPolicy) -> Result<()> {
    let scheme_ok =
        url.scheme() == "https" || (policy == ReachPolicy::AllowLoopback && url.scheme() == "http");
    if !scheme_ok {
        return Err(unreachable_err(url, "it is not https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_input(
            "the URL carries a user name or password; remove them (trainpod sends tokens in headers)",
        ));
    }
    if url.fragment().is_some() {
        return Err(Error::invalid_input("the URL has a #fragment; remove it"));
    }
    Ok(())
}

const PRIVATE_SUFFIXES: [&str; 7] = [
    ".local",
    ".internal",
    ".localhost",
    ".lan",
    ".home.arpa",
    ".intranet",
    ".localdomain",
];

fn check_name(url: &Url, name: &str, policy: ReachPolicy) -> Result<()> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" {
        return if policy == ReachPolicy::AllowLoopback {
            Ok(())
        } else {
            Err(unreachable_err(url, "localhost is the pod itself"))
        };
    }
    if !name.contains('.') {
        return Err(unreachable_err(
            url,
            &format!("{name} is a single-label name that only a local network resolves"),
        ));
    }
    if let Some(suffix) = PRIVATE_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        return Err(unreachable_err(
            url,
            &format!("{suffix} names resolve only inside a local network"),
        ));
    }
    Ok(())
}

fn unreachable_err(url: &Url, why: &str) -> Error {
    let shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    Error::new(
        ErrorKind::UrlUnreachableFromPod,
        format!(
            "a RunPod pod cannot reach {shown}: {why}. Fix it with one of: a public https URL for the app \
             (set app_url); a tunnel such as cloudflared or ngrok in front of the app; or staging the \
             dataset in an S3-compatible bucket or a RunPod network volume, which the pod reaches without the app"
        ),
    )
}

/// Whether a pod on the public internet can reach `ip`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)) // NAT64, which may embed private v4
}

fn describe(ip: IpAddr) -> &'static str {
    if ip.is_loopback() {
        "the pod itself (loopback)"
    } else if matches!(ip, IpAddr::V4(v4) if v4.is_link_local())
        || matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
    {
        "a link-local address"
    } else {
        "an address that is not reachable from the internet"
    }
}
