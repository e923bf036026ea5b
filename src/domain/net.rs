//! Which network addresses a server-side request (the push to fulfillment) may reach: public
//! unicast only, so that an endpoint URL cannot make tongdai call its own machine, the local
//! network or the cloud metadata service (SSRF). Pure: classification of addresses and of the
//! host part of a URL; resolving names is the caller's business.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` is not a public unicast address, or `None` when it is.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    non_public_reason(ip).is_none()
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: [([u8; 4], u32, &str); 17] = [
        ([0, 0, 0, 0], 8, "unspecified (0.0.0.0/8)"),
        ([127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private (10.0.0.0/8)"),
        ([172, 16, 0, 0], 12, "private (172.16.0.0/12)"),
        ([192, 168, 0, 0], 16, "private (192.168.0.0/16)"),
        ([169, 254, 0, 0], 16, "link-local (169.254.0.0/16)"),
        ([100, 64, 0, 0], 10, "carrier-grade NAT (100.64.0.0/10)"),
        (
            [192, 0, 0, 0],
            24,
            "IETF protocol assignments (192.0.0.0/24)",
        ),
        ([192, 0, 2, 0], 24, "documentation (192.0.2.0/24)"),
        ([198, 51, 100, 0], 24, "documentation (198.51.100.0/24)"),
        ([203, 0, 113, 0], 24, "documentation (203.0.113.0/24)"),
        ([198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast (192.88.99.0/24)"),
        ([224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"),
        ([255, 255, 255, 255], 32, "broadcast (255.255.255.255)"),
        ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
        ([233, 252, 0, 0], 24, "documentation (233.252.0.0/24)"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, why)| *why)
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified (::)");
    }
    if ip.is_loopback() {
        return Some("loopback (::1)");
    }
    // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d): the IPv4 address decides.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    if seg[..6] == [0, 0, 0, 0, 0, 0] {
        return Some("IPv4-compatible (::/96)");
    }
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        );
        return v4_reason(v4);
    }
    let first = seg[0];
    if first & 0xfe00 == 0xfc00 {
        return Some("unique local (fc00::/7)");
    }
    if first & 0xffc0 == 0xfe80 {
        return Some("link-local (fe80::/10)");
    }
    if first & 0xffc0 == 0xfec0 {
        return Some("site-local (fec0::/10)");
    }
    if first & 0xff00 == 0xff00 {
        return Some("multicast (ff00::/8)");
    }
    if first == 0x2001 && seg[1] == 0x0db8 {
        return Some("documentation (2001:db8::/32)");
    }
    if first == 0x3fff && seg[1] & 0xf000 == 0 {
        return Some("documentation (3fff::/20)");
    }
    if first == 0x0100 && seg[1..4] == [0, 0, 0] {
        return Some("discard-only (100::/64)");
    }
    // 6to4 (2002::/16) tunnels to the embedded IPv4 address.
    if first == 0x2002 {
        let v4 = Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        );
        return v4_reason(v4);
    }
    None
}

/// The host of an endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IP literal.
    Ip(IpAddr),
    /// A name to resolve (lowercase, without a trailing dot).
    Name(String),
}

/// A URL that cannot be an endpoint at all, or one that names a non-public host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlProblem {
    /// Not an absolute `http(s)` URL with a host.
    Invalid(String),
    /// Its host is not public (the reason).
    NotPublic(String),
}

/// Check the form of an endpoint URL (`http` or `https`, a host, no credentials) and return
/// its host and port. IP literals and `localhost` names are classified here; names are left
/// for the caller to resolve.
pub fn endpoint_host(url: &url::Url) -> Result<(Host, u16), UrlProblem> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlProblem::Invalid(format!(
            "the URL must be http or https, not {}",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlProblem::Invalid(
            "the URL must not carry credentials".into(),
        ));
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| UrlProblem::Invalid("the URL has no port".into()))?;
    let host = match url.host() {
        Some(url::Host::Ipv4(v4)) => Host::Ip(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Host::Ip(IpAddr::V6(v6)),
        Some(url::Host::Domain(d)) if !d.is_empty() => {
            Host::Name(d.trim_end_matches('.').to_ascii_lowercase())
        }
        _ => return Err(UrlProblem::Invalid("the URL has no host".into())),
    };
    Ok((host, port))
}

/// Why `host` is not public by itself (an IP literal outside public unicast, or a
/// `localhost` name), or `None` when only resolving it can tell.
pub fn host_reason(host: &Host) -> Option<String> {
    match host {
        Host::Ip(ip) => non_public_reason(*ip).map(|why| format!("{ip} is {why}")),
        Host::Name(n) => {
            if n == "localhost" || n.ends_with(".localhost") || n == "localhost.localdomain" {
                Some(format!("{n} is a loopback name"))
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn refuses_every_non_public_v4_range() {
        for a in [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.8",
        ] {
            assert!(!is_public(ip(a)), "{a} should not be public");
        }
    }

    #[test]
    fn accepts_public_v4_at_the_edges_of_the_ranges() {
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.255.255",
            "192.167.255.255",
            "11.0.0.1",
            "126.255.255.255",
            "223.255.255.255",
            "198.17.255.255",
            "198.20.0.0",
        ] {
            assert!(is_public(ip(a)), "{a} should be public");
        }
    }

    #[test]
    fn classifies_v6_including_embedded_v4() {
        for a in [
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "::7f00:1",
        ] {
            assert!(!is_public(ip(a)), "{a} should not be public");
        }
        for a in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip(a)), "{a} should be public");
        }
        assert_eq!(
            non_public_reason(ip("fd00::1")),
            Some("unique local (fc00::/7)")
        );
    }

    #[test]
    fn endpoint_urls_need_http_and_a_host() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            endpoint_host(&u("https://Fulfil.Example.com./hook")).unwrap(),
            (Host::Name("fulfil.example.com".into()), 443)
        );
        assert_eq!(
            endpoint_host(&u("http://[::1]:8080/")).unwrap(),
            (Host::Ip(ip("::1")), 8080)
        );
        assert!(matches!(
            endpoint_host(&u("ftp://example.com/")),
            Err(UrlProblem::Invalid(_))
        ));
        assert!(matches!(
            endpoint_host(&u("https://user:pw@example.com/")),
            Err(UrlProblem::Invalid(_))
        ));
        assert!(matches!(
            endpoint_host(&u("file:///etc/passwd")),
            Err(UrlProblem::Invalid(_))
        ));
    }

    #[test]
    fn localhost_names_and_literals_are_refused_without_resolving() {
        assert!(host_reason(&Host::Name("localhost".into())).is_some());
        assert!(host_reason(&Host::Name("api.localhost".into())).is_some());
        assert!(host_reason(&Host::Ip(ip("169.254.169.254"))).is_some());
        assert!(host_reason(&Host::Name("fulfil.example.com".into())).is_none());
        assert!(host_reason(&Host::Ip(ip("93.184.216.34"))).is_none());
    }
}
