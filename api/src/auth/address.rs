//! Which address a request comes from, for sign-in throttling and its audit events.
//!
//! The TCP peer, unless that peer is a trusted proxy (`HEADWAY_TRUSTED_PROXIES`): then
//! `X-Forwarded-For` is read from the right, skipping our own proxies, and the first
//! address not in the list is the client. Anything left of it was written by the client
//! and proves nothing, so it is never used.

use std::net::{IpAddr, Ipv6Addr};

use actix_web::{http::header::HeaderName, HttpRequest};
use ipnet::IpNet;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Parses `HEADWAY_TRUSTED_PROXIES`: comma-separated IP addresses or CIDR blocks.
pub fn parse_trusted(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("HEADWAY_TRUSTED_PROXIES: `{s}` is not an IP address or CIDR block")
                })
        })
        .collect()
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = canonical(ip);
    proxies.iter().any(|net| net.contains(&ip))
}

/// IPv4 written as IPv6 (`::ffff:a.b.c.d`, a dual-stack socket's view) is IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address as described above; `None` only without a peer address.
pub fn client_address(req: &HttpRequest, proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = canonical(req.peer_addr()?.ip());
    if !trusted(peer, proxies) {
        return Some(peer);
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // An unreadable entry ends the trustworthy part: keep the last proxy we trust.
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
            break;
        };
        client = ip;
        if !trusted(ip, proxies) {
            break;
        }
    }
    Some(client)
}

/// The key failures are counted under: the IPv4 address, or the IPv6 /64 (one host
/// usually holds a whole /64, so single IPv6 addresses would be free to rotate).
pub fn throttle_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn from(peer: &str, forwarded: &[&str], proxies: &str) -> Option<String> {
        let mut req = TestRequest::default().peer_addr(
            format!("{peer}:4000")
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
        );
        for f in forwarded {
            req = req.insert_header((X_FORWARDED_FOR, *f));
        }
        let proxies = parse_trusted(proxies).unwrap_or_else(|e| panic!("{e}"));
        client_address(&req.to_http_request(), &proxies).map(|ip| ip.to_string())
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_peer() {
        assert_eq!(
            from("10.0.0.9", &["203.0.113.5"], ""),
            Some("10.0.0.9".into())
        );
        assert_eq!(
            from("10.0.0.9", &["203.0.113.5"], "10.0.0.0/8"),
            Some("203.0.113.5".into())
        );
        // The rightmost address not ours; what the client wrote further left is ignored.
        assert_eq!(
            from(
                "10.0.0.9",
                &["1.2.3.4, 203.0.113.5, 10.0.0.2"],
                "10.0.0.0/8"
            ),
            Some("203.0.113.5".into())
        );
        assert_eq!(
            from("10.0.0.9", &["1.2.3.4", "203.0.113.5"], "10.0.0.0/8"),
            Some("203.0.113.5".into())
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            from(
                "10.0.0.9",
                &["203.0.113.5, nonsense, 10.0.0.3"],
                "10.0.0.0/8"
            ),
            Some("10.0.0.3".into())
        );
        assert_eq!(from("10.0.0.9", &[], "10.0.0.9"), Some("10.0.0.9".into()));
    }

    #[test]
    fn bad_proxy_lists_are_refused() {
        assert!(parse_trusted("10.0.0.1, 192.168.0.0/16, ::1").is_ok());
        assert!(parse_trusted("10.0.0.1, proxy.example").is_err());
    }

    #[test]
    fn ipv6_is_counted_by_its_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let b: IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(throttle_key(a), throttle_key(b));
        assert_eq!(throttle_key(a), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(throttle_key(mapped), "192.0.2.7");
    }
}
