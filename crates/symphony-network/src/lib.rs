//! The network operator: `operator.http.request`, with timeouts, a response size limit,
//! limited redirects, credentials sent as a header and never shown, and an SSRF guard.
//!
//! - `request.rs`: the step type (config, ports, status handling, redirects, scrubbing).
//! - `guard.rs`: which addresses may be reached ([`classify`], [`Policy`] from the melody's
//!   `settings.network`).
//! - `resolve.rs`: name resolution that hands the HTTP client only vetted addresses.
//!
//! **Architecture Invariant:** no connection is made to an address the guard has not passed:
//! names are resolved here and filtered before the client sees them, address hosts are checked
//! before each request, redirects are followed here (each hop checked again), and proxies from
//! the environment are not used.
//!
//! **Architecture Invariant:** a credential's value appears only in the request header sent
//! to the step's own origin; outputs, errors and events are scrubbed of it.

pub mod guard;
pub mod request;
pub mod resolve;

use std::sync::Arc;

pub use guard::{classify, Policy, Refusal, Restriction};
pub use request::HttpRequest;
pub use resolve::{GuardedResolver, Lookup, StaticLookup, SystemLookup};
use symphony_conductor::registry::DuplicateType;
use symphony_credentials::Credentials;

/// Registers `operator.http.request`, reading credentials from `credentials`.
pub fn register(
    registry: &mut symphony_conductor::Registry,
    credentials: Arc<dyn Credentials>,
) -> Result<(), DuplicateType> {
    registry.register(Arc::new(HttpRequest::new(credentials)))
}
