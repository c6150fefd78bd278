//! Model instruments: the `instrument.chat` step type, which plays a step by calling a real
//! model over HTTP (reqwest), through an OpenAI-compatible server (OpenAI, Ollama, llama.cpp,
//! vLLM, LM Studio, OpenRouter) or Anthropic's Messages API.
//!
//! - [`chat`]: the step type (config, ports, capabilities, one attempt).
//! - [`providers`]: one file per wire format, and the bounded HTTP they share.
//! - [`limits`]: per-provider budgets shared by every run in the process.
//! - [`prices`]: USD per million tokens, built in and from the user's file.
//! - [`discovery`]: which models this machine can play.
//!
//! Hosts register the type with [`register`]; the conductor knows it only as a
//! `StepType`. See `docs/providers.md` for working configurations.
//!
//! **Architecture Invariant:** a credential's value is sent in one request header and
//! appears nowhere else: not in outputs, errors, progress, events or files.
//!
//! **Architecture Invariant:** every await on the network is bounded (connect, first byte,
//! idle between chunks), and dropping a step's future drops its connection.

pub mod chat;
pub mod discovery;
pub mod limits;
pub mod prices;
pub mod providers;
mod schema;
mod sse;

use std::sync::Arc;
use std::time::Duration;

use symphony_conductor::registry::DuplicateType;
use symphony_conductor::Registry;
use symphony_credentials::{Credentials, EnvCredentials};

pub use chat::Chat;
pub use limits::{Limits, LimitsError, ProviderLimits};
pub use prices::{Price, PriceTable};

/// How long network waits may last, unless a step's config says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting (TCP and TLS).
    pub connect: Duration,
    /// From sending the request to the response's headers (for a whole answer, that is
    /// until the model has finished).
    pub first_byte: Duration,
    /// Between two chunks of a body.
    pub idle: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect, 120 s to the first byte (a local server may load the model first),
    /// 60 s between chunks.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            idle: Duration::from_secs(60),
        }
    }
}

/// What the instruments are built with.
pub struct InstrumentsConfig {
    /// Where credentials come from.
    pub credentials: Arc<dyn Credentials>,
    /// Model prices.
    pub prices: PriceTable,
    /// Per-provider limits for the whole process.
    pub limits: ProviderLimits,
    /// Default network timeouts.
    pub timeouts: Timeouts,
}

impl InstrumentsConfig {
    /// Built-in prices, default limits and timeouts, and the given credentials.
    pub fn new(credentials: Arc<dyn Credentials>) -> Self {
        InstrumentsConfig {
            credentials,
            prices: PriceTable::builtin(),
            limits: ProviderLimits::default(),
            timeouts: Timeouts::default(),
        }
    }

    /// What a host on this machine uses: credentials from the environment, the built-in
    /// prices and limits with the user's price and limits files over them (a broken file is
    /// reported as a warning and ignored, so it never stops a melody from loading), default
    /// timeouts.
    pub fn from_env() -> Self {
        let prices = PriceTable::load().unwrap_or_else(|e| {
            tracing::warn!("{e}; using the built-in prices");
            PriceTable::builtin()
        });
        let limits = ProviderLimits::load().unwrap_or_else(|e| {
            tracing::warn!("{e}; using the built-in limits");
            ProviderLimits::default()
        });
        InstrumentsConfig {
            prices,
            limits,
            ..InstrumentsConfig::new(Arc::new(EnvCredentials))
        }
    }
}

/// Registers the model instruments (`instrument.chat`) in a registry.
pub fn register(registry: &mut Registry, config: InstrumentsConfig) -> Result<(), DuplicateType> {
    registry.register(Arc::new(Chat::new(config)))
}
