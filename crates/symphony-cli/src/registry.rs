//! The one place the CLI assembles the step types it can play: the conductor's built-in types,
//! then each crate of real players registers its own.

use symphony_conductor::Registry;

/// Every step type the CLI knows.
pub fn registry() -> Registry {
    let mut r = Registry::standard();
    symphony_instruments::register(&mut r, symphony_instruments::InstrumentsConfig::from_env())
        .expect("instrument.chat is registered once");
    r
}
