//! Name resolution that only hands vetted addresses to the HTTP client.
//!
//! reqwest asks a [`GuardedResolver`] for the addresses of a host; it resolves the name through
//! a [`Lookup`] (the system's resolver, or a fixed table in tests), drops every address the
//! [`Policy`] refuses, and returns the rest. The client then connects only to those: the
//! address checked is the address used, so DNS rebinding (a name that resolves to a public
//! address when checked and a private one when connected) gains nothing. When every address
//! is refused, the error is the guard's [`Refusal`], which the operator finds in the error's
//! source chain and reports as it is.
//!
//! Hosts written as IP addresses never reach a resolver; the operator checks them itself.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use symphony_conductor::BoxFuture;

use crate::guard::Policy;

/// Resolves a host name to addresses.
pub trait Lookup: Send + Sync + 'static {
    /// Every address of `host`.
    fn lookup(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>>;
}

/// The system's resolver (`getaddrinfo`, on tokio's blocking pool).
#[derive(Debug, Clone, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// A fixed table of names, for tests and for hosts that pin names to addresses. Names not in
/// the table do not resolve.
#[derive(Debug, Clone, Default)]
pub struct StaticLookup {
    names: BTreeMap<String, Vec<IpAddr>>,
}

impl StaticLookup {
    /// Adds a name and its addresses.
    pub fn with(mut self, name: &str, addrs: &[IpAddr]) -> Self {
        self.names.insert(name.to_ascii_lowercase(), addrs.to_vec());
        self
    }
}

impl Lookup for StaticLookup {
    fn lookup(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let found = self.names.get(&host.to_ascii_lowercase()).cloned();
        let host = host.to_owned();
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no address for `{host}`"))
            })
        })
    }
}

/// A reqwest resolver that returns only the addresses the policy allows.
pub struct GuardedResolver {
    /// Where names are resolved.
    pub lookup: Arc<dyn Lookup>,
    /// What may be connected to.
    pub policy: Arc<Policy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let lookup = self.lookup.lookup(name.as_str());
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = lookup.await.map_err(|e| {
                Box::new(io::Error::new(
                    e.kind(),
                    format!("cannot resolve `{host}`: {e}"),
                )) as Box<dyn std::error::Error + Send + Sync>
            })?;
            let mut allowed = Vec::new();
            let mut refused = None;
            for ip in addrs {
                match policy.check(&host, ip) {
                    Ok(()) => allowed.push(SocketAddr::new(ip, 0)),
                    Err(r) => {
                        refused.get_or_insert(r);
                    }
                }
            }
            if allowed.is_empty() {
                return Err(match refused {
                    Some(r) => Box::new(r) as Box<dyn std::error::Error + Send + Sync>,
                    None => Box::new(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("`{host}` has no address"),
                    )),
                });
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}
