//! The step types the CLI plays: the same set as the app, assembled in `symphony-host`.

/// Every step type the CLI knows.
pub fn registry() -> symphony_conductor::Registry {
    symphony_host::registry()
}
