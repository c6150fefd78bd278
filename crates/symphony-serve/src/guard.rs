//! What every request passes before anything else: the `Host` check (against DNS rebinding) and
//! the security headers on every answer.
//!
//! **Architecture Invariant:** a request whose `Host` is not one of this server's names is
//! refused with 421 before routing, so no page of another site can reach the API or the UI by
//! pointing its own name at 127.0.0.1. Accepted: `localhost`, `127.0.0.1` and `[::1]` on any port
//! (an SSH tunnel or proxy may forward another local port here; no page of another site can
//! send these names), the exact bound address, and, when bound to every address (`0.0.0.0`,
//! `[::]`), any IP literal on the bound port (an IP literal cannot be rebound; names can).
//!
//! **Architecture Invariant:** every answer carries `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer` (the page URL holds the token), `X-Frame-Options: DENY`,
//! `Cross-Origin-Opener-Policy: same-origin` and a Content-Security-Policy that lets the page run
//! only its own scripts and connect only to this server ([`csp`]); every answer but the UI's
//! hashed assets is `Cache-Control: no-store`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The names this server answers to.
#[derive(Clone, Copy)]
pub(crate) struct Names {
    bound: SocketAddr,
}

impl Names {
    pub(crate) fn new(bound: SocketAddr) -> Names {
        Names { bound }
    }

    /// Whether `host` (a `Host` header or URI authority: `name[:port]`) names this server.
    pub(crate) fn admits(&self, host: &str) -> bool {
        let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
            return false;
        };
        if authority.as_str().contains('@') {
            return false;
        }
        let name = authority.host().to_ascii_lowercase();
        if matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]") {
            return true;
        }
        let ip = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(&name)
            .parse::<IpAddr>();
        let Ok(ip) = ip else {
            return false;
        };
        let port = authority.port_u16().unwrap_or(80);
        port == self.bound.port() && (ip == self.bound.ip() || self.bound.ip().is_unspecified())
    }
}

/// The `Host` of a request: the header (HTTP/1.1), else the URI's authority (HTTP/2).
fn host_of(request: &Request) -> Option<String> {
    match request.headers().get(header::HOST) {
        Some(v) => v.to_str().ok().map(str::to_owned),
        None => request.uri().authority().map(|a| a.as_str().to_owned()),
    }
}

/// The Content-Security-Policy for a page served as `host`: its own scripts only (the built UI
/// has no inline script), inline styles (the canvas and React set `style`), images from itself
/// and `data:`/`blob:` URLs, connections to itself (the API and the event socket), no framing,
/// no `<base>`, no form posts, no plugins.
pub(crate) fn csp(host: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws://{host}; \
         object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// Refuses a request for another name, and adds the security headers to every answer.
pub(crate) async fn guard(State(names): State<Names>, request: Request, next: Next) -> Response {
    let host = host_of(&request);
    let Some(host) = host.filter(|h| names.admits(h)) else {
        let message = format!(
            "this Symphony server answers only to its own address (such as http://{}); the request named another host ({}), as a page of another site pointing its name at this machine would",
            names.bound,
            host_of(&request).as_deref().unwrap_or("none"),
        );
        let mut response = (
            StatusCode::MISDIRECTED_REQUEST,
            Json(serde_json::json!({ "message": message })),
        )
            .into_response();
        add_headers(&mut response, None, false);
        return response;
    };
    let asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    add_headers(&mut response, Some(&host), asset);
    response
}

fn add_headers(response: &mut Response, host: Option<&str>, cacheable: bool) {
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: HeaderValue| {
        headers.insert(name, value);
    };
    set(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    set(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    // The host was admitted, so it is a plain `name:port`; a value that still does not fit a
    // header gets the policy without the socket (the page then cannot open it, nothing worse).
    let policy = host
        .and_then(|h| HeaderValue::from_str(&csp(h)).ok())
        .unwrap_or_else(|| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    set(header::CONTENT_SECURITY_POLICY, policy);
    if !cacheable {
        set(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn only_this_servers_names_are_admitted() {
        let loopback = Names::new("127.0.0.1:8123".parse().unwrap());
        for ok in [
            "127.0.0.1:8123",
            "localhost:8123",
            "LOCALHOST:8123",
            "[::1]:8123",
            "localhost:9000",
            "localhost",
        ] {
            assert!(loopback.admits(ok), "{ok}");
        }
        for refused in [
            "evil.example:8123",
            "evil.example",
            "127.0.0.1.evil.example:8123",
            "localhost.:8123",
            "sub.localhost:8123",
            "10.0.0.5:8123",
            "user@localhost:8123",
            "",
            "local host",
        ] {
            assert!(!loopback.admits(refused), "{refused}");
        }
        let lan = Names::new("192.168.1.5:8123".parse().unwrap());
        assert!(lan.admits("192.168.1.5:8123"));
        assert!(!lan.admits("192.168.1.5:80"));
        assert!(!lan.admits("192.168.1.6:8123"));
        assert!(!lan.admits("myhost.lan:8123"));
        let every = Names::new("0.0.0.0:8123".parse().unwrap());
        assert!(every.admits("192.168.1.5:8123"));
        assert!(every.admits("[fe80::1]:8123"));
        assert!(!every.admits("192.168.1.5:8124"));
        assert!(!every.admits("myhost.lan:8123"));
    }
}
