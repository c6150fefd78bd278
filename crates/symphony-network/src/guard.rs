//! The SSRF guard: which addresses a melody's network steps may connect to.
//!
//! A melody may come from someone else, and a request step that can reach `localhost`, the
//! office network or the cloud's metadata endpoint turns the user's machine into a proxy into
//! all of them (server-side request forgery). So by default only public addresses are allowed;
//! [`classify`] names what an address is when it is not public, and a [`Policy`] (built from
//! the melody's `settings.network`) decides.
//!
//! Every address is checked, never a host name: names are resolved by the operator itself and
//! only vetted addresses are connected to (see `resolve.rs`), so a name that answers with a
//! public address once and a private one next (DNS rebinding) gains nothing. IPv6 forms that
//! carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64, 6to4,
//! Teredo) are judged by the IPv4 address they carry.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use symphony_melody::model::NetworkSettings;

/// What a non-public address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    /// `0.0.0.0/8` or `::`: "this host"; connecting to it reaches the machine itself.
    Unspecified,
    /// `127.0.0.0/8` or `::1`: this machine.
    Loopback,
    /// RFC 1918 private networks: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// `100.64.0.0/10`: carrier-grade NAT, shared address space.
    SharedCgnat,
    /// `169.254/16` or `fe80::/10`: the local link.
    LinkLocal,
    /// A cloud metadata service, which hands out the machine's cloud credentials.
    Metadata,
    /// `fc00::/7`: IPv6 unique local addresses (private networks).
    UniqueLocal,
    /// `fec0::/10`: deprecated IPv6 site-local addresses.
    SiteLocal,
    /// `255.255.255.255`.
    Broadcast,
    /// `224.0.0.0/4` or `ff00::/8`.
    Multicast,
    /// Documentation ranges (`192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`).
    Documentation,
    /// `198.18.0.0/15` or `2001:2::/48`: benchmarking networks.
    Benchmarking,
    /// Reserved or special-purpose ranges (`240/4`, `192.0.0/24`, `100::/64`, …).
    Reserved,
}

impl Restriction {
    /// What the address is, for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Restriction::Unspecified => "the unspecified address, which reaches this machine",
            Restriction::Loopback => "a loopback address (this machine)",
            Restriction::Private => "a private network address (RFC 1918)",
            Restriction::SharedCgnat => "a carrier-grade NAT address (100.64.0.0/10)",
            Restriction::LinkLocal => "a link-local address",
            Restriction::Metadata => {
                "a cloud metadata endpoint, which hands out this machine's cloud credentials"
            }
            Restriction::UniqueLocal => "an IPv6 unique local address (a private network)",
            Restriction::SiteLocal => "an IPv6 site-local address (a private network)",
            Restriction::Broadcast => "the broadcast address",
            Restriction::Multicast => "a multicast address",
            Restriction::Documentation => "an address reserved for documentation",
            Restriction::Benchmarking => "an address reserved for benchmarking networks",
            Restriction::Reserved => "a reserved, special-purpose address",
        }
    }

    /// Whether `allowPrivate` lifts it. Metadata endpoints must be listed by name or address;
    /// addresses no server can be reached at (unspecified, broadcast, multicast) too.
    pub fn allowed_by_private(self) -> bool {
        !matches!(
            self,
            Restriction::Metadata
                | Restriction::Unspecified
                | Restriction::Broadcast
                | Restriction::Multicast
        )
    }
}

/// Known cloud metadata addresses, refused even with `allowPrivate`.
const METADATA: &[IpAddr] = &[
    // AWS, GCP, Azure, OpenStack, DigitalOcean, …
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    // AWS ECS task metadata and credentials.
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    // AWS Route 53 resolver and time service.
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 253)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 123)),
    // Alibaba Cloud.
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    // Oracle Cloud.
    IpAddr::V4(Ipv4Addr::new(192, 0, 0, 192)),
    // Azure's wire server (a public-range address that only means something inside Azure).
    IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),
    // AWS over IPv6.
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
];

/// What `ip` is, or `None` for a public address.
pub fn classify(ip: IpAddr) -> Option<Restriction> {
    let ip = canonical(ip);
    if METADATA.contains(&ip) {
        return Some(Restriction::Metadata);
    }
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Restriction> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => Restriction::Unspecified,
        (127, _, _) => Restriction::Loopback,
        (10, _, _) | (192, 168, _) => Restriction::Private,
        (172, 16..=31, _) => Restriction::Private,
        (100, 64..=127, _) => Restriction::SharedCgnat,
        (169, 254, _) => Restriction::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Restriction::Documentation,
        (198, 18..=19, _) => Restriction::Benchmarking,
        // IETF protocol assignments, and the deprecated 6to4 relay anycast.
        (192, 0, 0) | (192, 88, 99) => Restriction::Reserved,
        (224..=239, _, _) => Restriction::Multicast,
        _ if ip.is_broadcast() => Restriction::Broadcast,
        (240..=255, _, _) => Restriction::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Restriction> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_unspecified() {
        return Some(Restriction::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Restriction::Loopback);
    }
    // IPv4-compatible `::a.b.c.d` (deprecated): judged by the IPv4 address, else reserved.
    if s[..6] == [0; 6] {
        return Some(classify(IpAddr::V4(embedded(s[6], s[7]))).unwrap_or(Restriction::Reserved));
    }
    // NAT64 (`64:ff9b::/96`): a gateway translates to the embedded IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify(IpAddr::V4(embedded(s[6], s[7])));
    }
    // Local-use NAT64 (`64:ff9b:1::/48`) translates inside a private network.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return Some(Restriction::Private);
    }
    // 6to4 (`2002:aabb:ccdd::/48`) carries its IPv4 address in the prefix.
    if s[0] == 0x2002 {
        return classify(IpAddr::V4(embedded(s[1], s[2])));
    }
    // Teredo (`2001:0::/32`) carries its client's IPv4 address, inverted, at the end.
    if s[0] == 0x2001 && s[1] == 0 {
        return classify(IpAddr::V4(embedded(!s[6], !s[7])));
    }
    match s[0] {
        x if x & 0xfe00 == 0xfc00 => return Some(Restriction::UniqueLocal),
        x if x & 0xffc0 == 0xfe80 => return Some(Restriction::LinkLocal),
        x if x & 0xffc0 == 0xfec0 => return Some(Restriction::SiteLocal),
        x if x & 0xff00 == 0xff00 => return Some(Restriction::Multicast),
        _ => {}
    }
    if s[0] == 0x2001 && s[1] == 0xdb8 {
        return Some(Restriction::Documentation);
    }
    if s[0] == 0x2001 && s[1] == 2 && s[2] == 0 {
        return Some(Restriction::Benchmarking);
    }
    // Discard-only (`100::/64`).
    if s[..4] == [0x100, 0, 0, 0] {
        return Some(Restriction::Reserved);
    }
    None
}

/// An address or range listed in `allowHosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Which non-public addresses a melody allows: from `settings.network`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    allow_private: bool,
    /// Lower-case names, without a trailing dot; `*.lan` allows every name under `lan`.
    hosts: Vec<String>,
    nets: Vec<Net>,
}

impl Policy {
    /// The policy of a melody's `settings.network`, or what is wrong with an `allowHosts` entry.
    pub fn from_settings(settings: &NetworkSettings) -> Result<Policy, String> {
        let mut policy = Policy {
            allow_private: settings.allow_private,
            ..Policy::default()
        };
        for (i, entry) in settings.allow_hosts.iter().enumerate() {
            let bad = |why: &str| {
                format!("settings.network.allowHosts[{i}] `{entry}`: {why}; write a host name (`ollama.lan`, `*.lan`), an address (`10.0.0.5`) or a range (`10.0.0.0/8`)")
            };
            let text = entry.trim();
            let unbracketed = text.trim_start_matches('[').trim_end_matches(']');
            if text.contains("://") {
                return Err(bad("write the host alone, without a scheme or a path"));
            }
            if let Some((addr, prefix)) = text.split_once('/') {
                let addr: IpAddr = addr
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| bad("the part before `/` is not an IP address"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let prefix: u8 = prefix
                    .parse()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| bad(&format!("the prefix length must be 0 to {max}")))?;
                policy.nets.push(Net {
                    addr: canonical(addr),
                    prefix,
                });
            } else if let Ok(addr) = unbracketed.parse::<IpAddr>() {
                let addr = canonical(addr);
                policy.nets.push(Net {
                    prefix: if addr.is_ipv4() { 32 } else { 128 },
                    addr,
                });
            } else {
                let name = text.trim_end_matches('.').to_ascii_lowercase();
                let label = name.strip_prefix("*.").unwrap_or(&name);
                let valid = !label.is_empty()
                    && label.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && l.chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    });
                if !valid {
                    return Err(bad("it is not a host name"));
                }
                policy.hosts.push(name);
            }
        }
        Ok(policy)
    }

    /// A policy that allows every address (for hosts that vet requests some other way).
    pub fn allow_all() -> Policy {
        Policy {
            nets: vec![
                Net {
                    addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    prefix: 0,
                },
                Net {
                    addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    prefix: 0,
                },
            ],
            ..Policy::default()
        }
    }

    /// Whether `host` (a name) is listed in `allowHosts`.
    fn host_listed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().any(|h| match h.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.')),
            None => *h == host,
        })
    }

    /// Whether a connection to `ip`, the address of `host` (a name, or the address itself),
    /// is allowed.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), Refusal> {
        let Some(restriction) = classify(ip) else {
            return Ok(());
        };
        if self.nets.iter().any(|n| n.contains(ip)) || self.host_listed(host) {
            return Ok(());
        }
        if self.allow_private && restriction.allowed_by_private() {
            return Ok(());
        }
        Err(Refusal {
            host: host.to_owned(),
            ip: canonical(ip),
            restriction,
        })
    }
}

/// A connection the guard refused: which address, of which host, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The host as the URL names it.
    pub host: String,
    /// The address refused.
    pub ip: IpAddr,
    /// What the address is.
    pub restriction: Restriction,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let is_literal = host.parse::<IpAddr>().is_ok();
        if is_literal {
            write!(f, "refused to connect to {}", self.ip)?;
        } else {
            write!(
                f,
                "refused to connect to {} (an address of `{host}`)",
                self.ip
            )?;
        }
        write!(
            f,
            ": it is {}. Network steps reach only public addresses unless the melody allows more",
            self.restriction.describe()
        )?;
        let listed = if is_literal {
            self.ip.to_string()
        } else {
            host.to_owned()
        };
        if self.restriction.allowed_by_private() {
            write!(
                f,
                "; to allow it, add \"{listed}\" to settings.network.allowHosts, or set settings.network.allowPrivate to true"
            )
        } else {
            write!(
                f,
                "; settings.network.allowPrivate does not cover it: add \"{listed}\" to settings.network.allowHosts only if the melody must reach it"
            )
        }
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("a test address parses")
    }

    /// One table: address, what it is (`None` for public).
    #[test]
    fn addresses_are_classified() {
        use Restriction::*;
        let table: &[(&str, Option<Restriction>)] = &[
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.216.34", None),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("172.15.255.255", None),
            ("192.168.1.1", Some(Private)),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("100.128.0.1", None),
            ("169.254.1.1", Some(LinkLocal)),
            ("169.254.169.254", Some(Metadata)),
            ("169.254.170.2", Some(Metadata)),
            ("100.100.100.200", Some(Metadata)),
            ("255.255.255.255", Some(Broadcast)),
            ("224.0.0.1", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.2.1", Some(Documentation)),
            ("198.18.0.1", Some(Benchmarking)),
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("2606:4700:4700::1111", None),
            ("fc00::1", Some(UniqueLocal)),
            ("fd12:3456::1", Some(UniqueLocal)),
            ("fd00:ec2::254", Some(Metadata)),
            ("fe80::1", Some(LinkLocal)),
            ("fec0::1", Some(SiteLocal)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", Some(Documentation)),
            // IPv4-mapped forms are judged as the IPv4 address.
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:169.254.169.254", Some(Metadata)),
            ("::ffff:100.64.0.1", Some(SharedCgnat)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::ffff:8.8.8.8", None),
            // IPv4-compatible, NAT64, 6to4 and Teredo carry an IPv4 address.
            ("::127.0.0.1", Some(Loopback)),
            ("::8.8.8.8", Some(Reserved)),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(Metadata)),
            ("64:ff9b::808:808", None),
            ("64:ff9b:1::1", Some(Private)),
            ("2002:c0a8:0101::1", Some(Private)),
            ("2002:0808:0808::1", None),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", Some(Loopback)),
        ];
        for (addr, expected) in table {
            assert_eq!(classify(ip(addr)), *expected, "{addr}");
        }
    }

    fn policy(allow_private: bool, hosts: &[&str]) -> Policy {
        Policy::from_settings(&NetworkSettings {
            allow_private,
            allow_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        })
        .expect("the test policy is valid")
    }

    #[test]
    fn the_default_policy_allows_only_public_addresses() {
        let p = Policy::default();
        assert!(p.check("example.com", ip("93.184.216.34")).is_ok());
        let e = p.check("localhost", ip("127.0.0.1")).unwrap_err();
        assert_eq!(e.restriction, Restriction::Loopback);
        let text = e.to_string();
        assert!(
            text.contains("127.0.0.1 (an address of `localhost`)"),
            "{text}"
        );
        assert!(text.contains("a loopback address"), "{text}");
        assert!(
            text.contains("add \"localhost\" to settings.network.allowHosts"),
            "{text}"
        );
        assert!(text.contains("allowPrivate to true"), "{text}");
    }

    #[test]
    fn allow_private_lifts_all_but_metadata_and_unreachable_addresses() {
        let p = policy(true, &[]);
        for a in [
            "127.0.0.1",
            "10.0.0.1",
            "fd00::1",
            "169.254.1.1",
            "100.64.1.1",
            "::ffff:192.168.0.1",
        ] {
            assert!(p.check(a, ip(a)).is_ok(), "{a}");
        }
        for a in [
            "169.254.169.254",
            "0.0.0.0",
            "255.255.255.255",
            "::ffff:169.254.169.254",
        ] {
            assert!(p.check(a, ip(a)).is_err(), "{a}");
        }
        let text = p
            .check("169.254.169.254", ip("169.254.169.254"))
            .unwrap_err()
            .to_string();
        assert!(text.contains("cloud metadata endpoint"), "{text}");
        assert!(text.contains("allowPrivate does not cover it"), "{text}");
        assert!(
            text.contains("add \"169.254.169.254\" to settings.network.allowHosts"),
            "{text}"
        );
    }

    #[test]
    fn allow_hosts_lists_names_addresses_and_ranges() {
        let p = policy(
            false,
            &[
                "ollama.LAN.",
                "*.corp",
                "10.0.0.0/8",
                "::1",
                "[fd00::5]",
                "169.254.169.254",
            ],
        );
        assert!(
            p.check("ollama.lan", ip("192.168.1.7")).is_ok(),
            "a listed name"
        );
        assert!(
            p.check("git.corp", ip("192.168.1.8")).is_ok(),
            "a wildcard name"
        );
        assert!(
            p.check("corp", ip("192.168.1.8")).is_err(),
            "the wildcard needs a label"
        );
        assert!(
            p.check("evilcorp", ip("192.168.1.8")).is_err(),
            "not under .corp"
        );
        assert!(p.check("x", ip("10.200.0.1")).is_ok(), "inside the range");
        assert!(
            p.check("x", ip("::ffff:10.200.0.1")).is_ok(),
            "mapped, inside the range"
        );
        assert!(p.check("x", ip("11.0.0.1")).is_ok(), "public anyway");
        assert!(p.check("x", ip("127.0.0.1")).is_err(), "not listed");
        assert!(p.check("x", ip("::1")).is_ok(), "a listed address");
        assert!(p.check("x", ip("fd00::5")).is_ok(), "a bracketed address");
        assert!(
            p.check("x", ip("169.254.169.254")).is_ok(),
            "metadata, listed by address"
        );
    }

    #[test]
    fn bad_allow_hosts_entries_say_which_and_why() {
        for (entry, why) in [
            ("10.0.0.0/33", "prefix length must be 0 to 32"),
            ("nonsense/8", "not an IP address"),
            ("http://x", "without a scheme"),
            ("bad host!", "not a host name"),
            ("", "not a host name"),
        ] {
            let e = Policy::from_settings(&NetworkSettings {
                allow_private: false,
                allow_hosts: vec![entry.into()],
            })
            .unwrap_err();
            assert!(
                e.contains("allowHosts[0]") && e.contains(why),
                "{entry}: {e}"
            );
        }
    }
}
