//! The one place the hosts (the app, `symphony serve` and the CLI) assemble the step types they
//! can play: the conductor's built-in types, then each crate of real players registers its own,
//! all reading credentials from the same place (the environment first, then the user's
//! credential store, opened on first use).

use std::sync::Arc;

use symphony_conductor::Registry;
use symphony_credentials::{Credentials, UserCredentials};

/// Every step type a host on this machine knows, with the user's credentials.
pub fn registry() -> Registry {
    registry_with(Arc::new(UserCredentials::new()))
}

/// Every step type, reading credentials from `credentials` (tests pass an empty source).
pub fn registry_with(credentials: Arc<dyn Credentials>) -> Registry {
    let mut r = Registry::standard();
    let instruments = symphony_instruments::InstrumentsConfig {
        credentials: credentials.clone(),
        ..symphony_instruments::InstrumentsConfig::from_env()
    };
    symphony_instruments::register(&mut r, instruments)
        .expect("instrument.chat is registered once");
    symphony_agents::register(&mut r, credentials.clone())
        .expect("instrument.agent is registered once");
    symphony_network::register(&mut r, credentials)
        .expect("operator.http.request is registered once");
    r
}
