//! Test scaffolding that no Symphony crate ships, used only as a dev-dependency: a scriptable
//! loopback HTTP/1.1 server ([`http`]) that the instruments', the network operator's, the
//! host's and the command line's tests speak to instead of the internet.
//!
//! It is a crate of its own, not a feature of one, because nothing it holds belongs to a
//! crate's API: the conductor, where the melody and run scaffolding lives
//! (`symphony_conductor::testing`), must know nothing of HTTP servers, and a feature of
//! `symphony-network` would make the CLI's and the host's tests compile the network operator
//! for a test server. It depends on no Symphony crate, so every crate can use it.
//!
//! Nothing here may be used outside tests: it panics on every error, which is how a test
//! reports one.

pub mod http;
