//! The network operator: http.request with timeouts, size limits, limited redirects and an SSRF guard.
