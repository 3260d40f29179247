//! Webhooks for integrators: which URLs an admin may register (and the server may
//! connect to), which changes an endpoint hears, and when a failed delivery is tried
//! again. No I/O here: resolving a host name and sending are the API's; the rules
//! they apply are these.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{
    change::{may_see, Audience, ChangeKind},
    identity::{text_enum, Principal, Role},
    policy::ClientRelation,
    Invalid,
};

/// The prefix of a signing secret as shown (Standard Webhooks: `whsec_` + base64).
pub const SECRET_PREFIX: &str = "whsec_";

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// Longest description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 500;

/// What the deployment allows beyond the safe defaults (tests allow both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlRules {
    /// Plain `http://` (`HEADWAY_WEBHOOKS_ALLOW_INSECURE`).
    pub allow_insecure: bool,
    /// Loopback, private, link-local... addresses (`HEADWAY_WEBHOOKS_ALLOW_PRIVATE`).
    pub allow_private: bool,
}

/// A URL a webhook may be delivered to: absolute, https (or http when allowed), no
/// credentials, and not naming an address the rules refuse. A host name is checked
/// again, after resolving it, each time it is delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    pub fn parse(raw: &str, rules: UrlRules) -> Result<WebhookUrl, Invalid> {
        let bad = |message: &str| Invalid::field("url", message);
        if raw.len() > MAX_URL_LEN {
            return Err(bad("must be at most 2000 characters"));
        }
        let url = url::Url::parse(raw.trim()).map_err(|_| bad("must be an absolute URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if rules.allow_insecure => {}
            "http" => return Err(bad("must use https")),
            _ => return Err(bad("must be an https URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry credentials"));
        }
        if url.fragment().is_some() {
            return Err(bad("must not have a fragment"));
        }
        let host = match url.host() {
            Some(host) => host,
            None => return Err(bad("must name a host")),
        };
        if !rules.allow_private {
            let refused = match host {
                url::Host::Ipv4(ip) => refused_address(IpAddr::V4(ip)),
                url::Host::Ipv6(ip) => refused_address(IpAddr::V6(ip)),
                url::Host::Domain(name) => refused_name(name),
            };
            if let Some(why) = refused {
                return Err(bad(&format!("must not point to {why}")));
            }
        }
        Ok(WebhookUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host name to resolve, when the URL names one rather than an address.
    pub fn domain(&self) -> Option<&str> {
        self.0.domain()
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }
}

/// Names that mean this machine whatever a resolver says.
fn refused_name(name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (name == "localhost" || name.ends_with(".localhost")).then_some("a loopback address")
}

/// Why the server must not connect to `ip` (None: it may), unless private addresses
/// are allowed: loopback, private (RFC 1918, ULA), shared (CGNAT), link-local (cloud
/// metadata at 169.254.169.254 included), unspecified, multicast, broadcast, reserved,
/// benchmarking and documentation ranges. IPv6 addresses that embed an IPv4 one
/// (mapped, compatible, NAT64, 6to4) are judged by it.
pub fn refused_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => "an unspecified address",
        (127, ..) => "a loopback address",
        (10, ..) | (192, 168, _) => "a private address",
        (172, b, _) if (16..32).contains(&b) => "a private address",
        (100, b, _) if (64..128).contains(&b) => "a shared (carrier-grade NAT) address",
        (169, 254, _) => "a link-local address",
        (192, 0, 0) => "a reserved address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, b, _) if b == 18 || b == 19 => "a benchmarking address",
        (224..=239, ..) => "a multicast address",
        (240..=255, ..) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refused_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "an unspecified address",
        [0, 0, 0, 0, 0, 0, 0, 1] => "a loopback address",
        // IPv4-compatible (deprecated) and NAT64: the IPv4 address inside decides.
        [0, 0, 0, 0, 0, 0, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            return refused_v4(embedded(hi, lo))
        }
        // 6to4 embeds the IPv4 address in its second and third segments.
        [0x2002, hi, lo, ..] => return refused_v4(embedded(hi, lo)),
        [first, ..] if first & 0xfe00 == 0xfc00 => "a private (unique local) address",
        [first, ..] if first & 0xffc0 == 0xfe80 => "a link-local address",
        [first, ..] if first & 0xffc0 == 0xfec0 => "a site-local address",
        [first, ..] if first & 0xff00 == 0xff00 => "a multicast address",
        [0x2001, 0x0db8, ..] => "a documentation address",
        [0x3fff, second, ..] if second < 0x1000 => "a documentation address",
        [0x0100, 0, 0, 0, ..] => "a discard-only address",
        _ => return None,
    })
}

/// The event types an endpoint asked for; empty means all.
pub fn parse_types(raw: &[String]) -> Result<Vec<ChangeKind>, Invalid> {
    let mut kinds = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        let kind = ChangeKind::parse(&format!("types[{i}]"), text)?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort();
    Ok(kinds)
}

/// An optional description: trimmed, at most [`MAX_DESCRIPTION_LEN`] characters.
pub fn parse_description(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    let text = raw.map(str::trim).filter(|d| !d.is_empty());
    match text {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_LEN => Err(Invalid::field(
            "description",
            "must be at most 500 characters",
        )),
        other => Ok(other.map(str::to_owned)),
    }
}

/// Whether an endpoint of `organization_id`, asking for `types`, is sent a change:
/// what an organization-wide reach (an admin of that clinic) may hear of, and only
/// the types asked for.
pub fn delivers(
    types: &[ChangeKind],
    organization_id: uuid::Uuid,
    kind: ChangeKind,
    audience: Audience,
) -> bool {
    let admin = Principal {
        user_id: uuid::Uuid::nil(),
        organization_id,
        role: Role::Admin,
        client_id: None,
        scopes: Default::default(),
    };
    let relation = ClientRelation {
        in_organization: true,
        ..Default::default()
    };
    (types.is_empty() || types.contains(&kind)) && may_see(&admin, relation, kind, audience)
}

text_enum!(
    /// Where a delivery stands.
    DeliveryStatus {
        /// Not tried yet (or paused, or asked to be redelivered).
        Pending => "pending",
        /// The receiver answered 2xx.
        Succeeded => "succeeded",
        /// The last attempt failed; another is scheduled.
        Retrying => "retrying",
        /// Every retry failed: dead-lettered, kept for inspection and redelivery.
        Dead => "dead",
    }
);

/// The gaps before each retry, seconds (`HEADWAY_WEBHOOKS_RETRY_SECS`): a delivery
/// is tried once, then once per entry, then it is dead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<u64>);

impl RetrySchedule {
    /// A comma-separated list of seconds, at least one.
    pub fn parse(raw: &str) -> Result<RetrySchedule, String> {
        let gaps: Result<Vec<u64>, _> = raw.split(',').map(|s| s.trim().parse::<u64>()).collect();
        match gaps {
            Ok(gaps) if !gaps.is_empty() => Ok(RetrySchedule(gaps)),
            _ => Err(format!(
                "`{raw}` must be comma-separated whole seconds, at least one"
            )),
        }
    }

    /// Attempts in all before a delivery is dead.
    pub fn attempts(&self) -> usize {
        self.0.len() + 1
    }

    /// After `attempts` failed attempts: the seconds to wait before the next, or None
    /// when that was the last (dead). Full jitter: a uniform draw (`draw` in [0, 1))
    /// between nothing and the schedule's gap, so many receivers failing at once do
    /// not retry in step; the gaps' bounds grow as the schedule does.
    pub fn next_gap(&self, attempts: u32, draw: f64) -> Option<f64> {
        let index = (attempts as usize).checked_sub(1)?;
        let bound = *self.0.get(index)? as f64;
        Some(bound * draw.clamp(0.0, 1.0))
    }

    /// The status after an attempt, and the gap before the next one if any.
    pub fn after_attempt(
        &self,
        attempts: u32,
        succeeded: bool,
        draw: f64,
    ) -> (DeliveryStatus, Option<f64>) {
        if succeeded {
            return (DeliveryStatus::Succeeded, None);
        }
        match self.next_gap(attempts, draw) {
            Some(gap) => (DeliveryStatus::Retrying, Some(gap)),
            None => (DeliveryStatus::Dead, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlRules = UrlRules {
        allow_insecure: false,
        allow_private: false,
    };

    fn refused(url: &str) -> String {
        match WebhookUrl::parse(url, STRICT) {
            Ok(_) => panic!("{url} was accepted"),
            Err(Invalid(errors)) => {
                assert_eq!(errors[0].field, "url");
                errors[0].message.clone()
            }
        }
    }

    #[test]
    fn public_https_urls_are_accepted() {
        for url in [
            "https://hooks.example.com/headway",
            "https://8.8.8.8/x",
            "https://[2606:4700::1111]:8443/x?y=1",
        ] {
            assert!(WebhookUrl::parse(url, STRICT).is_ok(), "{url}");
        }
    }

    #[test]
    fn plain_http_credentials_and_odd_schemes_are_refused() {
        assert_eq!(refused("http://hooks.example.com/"), "must use https");
        assert_eq!(
            refused("https://user:pw@hooks.example.com/"),
            "must not carry credentials"
        );
        assert_eq!(
            refused("https://user@hooks.example.com/"),
            "must not carry credentials"
        );
        assert_eq!(refused("ftp://hooks.example.com/"), "must be an https URL");
        assert_eq!(refused("/relative"), "must be an absolute URL");
        let insecure = UrlRules {
            allow_insecure: true,
            allow_private: false,
        };
        assert!(WebhookUrl::parse("http://hooks.example.com/", insecure).is_ok());
    }

    #[test]
    fn addresses_of_this_machine_its_network_and_the_cloud_metadata_are_refused() {
        for (url, why) in [
            ("https://127.0.0.1/", "loopback"),
            ("https://127.8.9.10/", "loopback"),
            ("https://localhost/", "loopback"),
            ("https://api.localhost./", "loopback"),
            ("https://[::1]/", "loopback"),
            ("https://10.1.2.3/", "private"),
            ("https://172.16.0.1/", "private"),
            ("https://172.31.255.255/", "private"),
            ("https://192.168.1.1/", "private"),
            ("https://[fd00::1]/", "unique local"),
            ("https://169.254.169.254/latest/meta-data/", "link-local"),
            ("https://[fe80::1]/", "link-local"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://[::]/", "unspecified"),
            ("https://224.0.0.1/", "multicast"),
            ("https://[ff02::1]/", "multicast"),
            ("https://192.0.2.1/", "documentation"),
            ("https://198.51.100.7/", "documentation"),
            ("https://203.0.113.9/", "documentation"),
            ("https://[2001:db8::1]/", "documentation"),
            ("https://100.64.0.1/", "carrier-grade"),
            ("https://255.255.255.255/", "broadcast"),
            // IPv4 inside IPv6: judged by the IPv4 address.
            ("https://[::ffff:127.0.0.1]/", "loopback"),
            ("https://[::ffff:169.254.169.254]/", "link-local"),
            ("https://[64:ff9b::a00:1]/", "private"),
            ("https://[2002:a00:1::]/", "private"),
            // Spellings of 127.0.0.1 that URL parsers normalise.
            ("https://2130706433/", "loopback"),
            ("https://0x7f.1/", "loopback"),
        ] {
            let message = refused(url);
            assert!(message.contains(why), "{url}: {message}");
        }
        // Neighbours of the refused ranges are public.
        for ip in [
            "172.32.0.1",
            "100.128.0.1",
            "169.255.0.1",
            "11.0.0.1",
            "2607:f8b0::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert_eq!(refused_address(ip), None, "{ip}");
        }
    }

    #[test]
    fn allowing_private_addresses_lets_a_test_receiver_on_loopback_through() {
        let tests = UrlRules {
            allow_insecure: true,
            allow_private: true,
        };
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", tests).is_ok());
        // Credentials stay refused whatever is allowed.
        assert!(WebhookUrl::parse("http://a:b@127.0.0.1:9000/hook", tests).is_err());
    }

    #[test]
    fn types_name_the_change_kinds_and_empty_means_all() {
        let org = uuid::Uuid::nil();
        let types = parse_types(&["goal.agreed".into(), "goal.agreed".into()]).unwrap_or_default();
        assert_eq!(types, vec![ChangeKind::GoalAgreed]);
        let wrong = parse_types(&["goal.agreed".into(), "goal.eaten".into()]);
        assert_eq!(
            wrong.map_err(|e| e.0[0].field.clone()),
            Err("types[1]".into())
        );
        let (agreed, recorded) = (ChangeKind::GoalAgreed, ChangeKind::MeasurementRecorded);
        assert!(delivers(&types, org, agreed, Audience::Everyone));
        assert!(!delivers(&types, org, recorded, Audience::Everyone));
        assert!(delivers(&[], org, recorded, Audience::Everyone));
        // What an admin hears, team notes included.
        assert!(delivers(&[], org, ChangeKind::CommentAdded, Audience::Team));
    }

    #[test]
    fn retries_follow_the_schedule_with_full_jitter_then_the_delivery_is_dead() {
        let schedule = RetrySchedule::parse("5, 300,1800").unwrap_or(RetrySchedule(vec![]));
        assert_eq!(schedule.attempts(), 4);
        // After the first failure: uniform in [0, 5) s; a draw of 0.5 is 2.5 s.
        assert_eq!(schedule.next_gap(1, 0.5), Some(2.5));
        // After the second: [0, 300); 0.1 of 300 is 30 s. After the third: [0, 1800).
        assert_eq!(schedule.next_gap(2, 0.1), Some(30.0));
        assert_eq!(schedule.next_gap(3, 0.999), Some(1798.2));
        // The fourth failure was the last attempt.
        assert_eq!(schedule.next_gap(4, 0.5), None);
        assert_eq!(
            schedule.after_attempt(4, false, 0.5),
            (DeliveryStatus::Dead, None)
        );
        assert_eq!(
            schedule.after_attempt(1, true, 0.5),
            (DeliveryStatus::Succeeded, None)
        );
        // The bounds grow: no draw makes a later gap's bound smaller.
        let bounds: Vec<_> = (1..4).filter_map(|n| schedule.next_gap(n, 1.0)).collect();
        assert_eq!(bounds, vec![5.0, 300.0, 1800.0]);
        assert!(RetrySchedule::parse("").is_err());
        assert!(RetrySchedule::parse("5,x").is_err());
    }
}
