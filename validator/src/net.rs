//! Source-address allowlist: CIDR blocks and the check against them.
//!
//! TradingView sends webhooks from four published addresses
//! ([`TRADINGVIEW`]); accepting nothing else stops anyone who merely learned
//! the URL. The allowlist is the cheapest check the gate makes, so it runs
//! first.
//!
//! Both families are compared in one 128-bit space: an IPv4 address is taken
//! as its IPv4-mapped IPv6 form `::ffff:a.b.c.d` and an IPv4 prefix `/n` as
//! `/96+n`. A dual-stack listener that reports `::ffff:52.89.214.238` is
//! therefore matched by `52.89.214.238/32`, and `::ffff:0:0/96` matches every
//! IPv4 source. Consequently `::/0` also matches IPv4 sources.
//!
//! An entry with host bits set (`1.2.3.4/24`) is refused by [`Cidr::parse`]
//! rather than masked: it is almost always a typo for `/32` or `1.2.3.0/24`,
//! and guessing which would silently widen or narrow the allowlist.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr};

use crate::error::Rejection;

/// An address block: a network address and a prefix length.
///
/// Invariant: prefix at most 32 (IPv4) or 128 (IPv6) and no host bits set.
///
/// ```
/// use alertgate_validator::net::Cidr;
/// let block = Cidr::parse("10.1.0.0/16").unwrap();
/// assert!(block.contains("10.1.200.3".parse().unwrap()));
/// assert!(block.contains("::ffff:10.1.0.9".parse().unwrap()));
/// assert!(!block.contains("10.2.0.1".parse().unwrap()));
/// assert_eq!(block.to_string(), "10.1.0.0/16");
/// assert_eq!(Cidr::parse("10.1.2.3/16"), None); // host bits set
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// The four addresses TradingView sends webhooks from, each a `/32`.
///
/// As published in TradingView's webhook documentation; check it if alerts
/// start being refused with `ip_not_allowed`.
pub const TRADINGVIEW: [Cidr; 4] = [
    Cidr::host(IpAddr::V4(Ipv4Addr::new(52, 89, 214, 238))),
    Cidr::host(IpAddr::V4(Ipv4Addr::new(34, 212, 75, 30))),
    Cidr::host(IpAddr::V4(Ipv4Addr::new(54, 218, 53, 128))),
    Cidr::host(IpAddr::V4(Ipv4Addr::new(52, 32, 178, 7))),
];

/// The address as 128 bits, IPv4 mapped into `::ffff:0:0/96`.
const fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => 0xffff_0000_0000 | u32::from_be_bytes(a.octets()) as u128,
        IpAddr::V6(a) => u128::from_be_bytes(a.octets()),
    }
}

/// Longest prefix for the address family.
const fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Network mask of a prefix in the 128-bit space (`prefix` <= 128).
const fn mask(prefix: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    }
}

impl Cidr {
    /// A block from its network address and prefix length; `None` if the
    /// prefix is longer than the family allows or the address has host bits
    /// set.
    ///
    /// ```
    /// use alertgate_validator::net::Cidr;
    /// use core::net::{IpAddr, Ipv4Addr};
    /// const LAN: Option<Cidr> = Cidr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0)), 16);
    /// assert!(LAN.is_some());
    /// assert!(Cidr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)), 16).is_none());
    /// assert!(Cidr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0)), 33).is_none());
    /// ```
    pub const fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let max = max_prefix(addr);
        if prefix > max {
            return None;
        }
        let prefix_128 = 128 - (max - prefix) as u32;
        if bits(addr) & !mask(prefix_128) != 0 {
            return None;
        }
        Some(Cidr { addr, prefix })
    }

    /// A single address (`/32` or `/128`).
    pub const fn host(addr: IpAddr) -> Cidr {
        Cidr {
            addr,
            prefix: max_prefix(addr),
        }
    }

    /// Parses `address/prefix` or a bare address (a host route).
    ///
    /// The prefix is 1 to 3 decimal digits without sign. `None` for anything
    /// else, including host bits set and IPv6 zone ids.
    ///
    /// ```
    /// use alertgate_validator::net::Cidr;
    /// assert_eq!(Cidr::parse("::1").unwrap().to_string(), "::1/128");
    /// assert_eq!(Cidr::parse("2001:db8::/32").unwrap().prefix(), 32);
    /// assert!(Cidr::parse("1.2.3.0/+24").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            None => return Some(Cidr::host(s.parse().ok()?)),
            Some((a, p)) => (a, p),
        };
        let addr: IpAddr = addr.parse().ok()?;
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Cidr::new(addr, prefix.parse().ok()?)
    }

    /// The network address.
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub const fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in the block. IPv4 and IPv4-mapped IPv6 forms of an
    /// address are treated as the same address.
    pub const fn contains(&self, ip: IpAddr) -> bool {
        let prefix_128 = 128 - (max_prefix(self.addr) - self.prefix) as u32;
        (bits(ip) ^ bits(self.addr)) & mask(prefix_128) == 0
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Checks a request's source address against the allowlist.
///
/// An empty allowlist allows every source (and a missing address). With a
/// non-empty allowlist the address must be in at least one block; an unknown
/// source (`None`, e.g. the transport could not tell) is refused with
/// [`Rejection::IpNotAllowed`] carrying the unspecified address `0.0.0.0`.
///
/// ```
/// use alertgate_validator::net::{is_allowed, TRADINGVIEW};
/// assert!(is_allowed(&TRADINGVIEW, Some("52.89.214.238".parse().unwrap())).is_ok());
/// assert_eq!(is_allowed(&TRADINGVIEW, Some("1.1.1.1".parse().unwrap())).unwrap_err().code(), "ip_not_allowed");
/// assert!(is_allowed(&TRADINGVIEW, None).is_err());
/// assert!(is_allowed(&[], None).is_ok());
/// ```
pub fn is_allowed(allowlist: &[Cidr], ip: Option<IpAddr>) -> Result<(), Rejection> {
    if allowlist.is_empty() {
        return Ok(());
    }
    match ip {
        Some(ip) if allowlist.iter().any(|c| c.contains(ip)) => Ok(()),
        Some(ip) => Err(Rejection::IpNotAllowed { ip }),
        None => Err(Rejection::IpNotAllowed {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv6Addr;
    use proptest::prelude::*;
    use std::string::ToString;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cidr(s: &str) -> Cidr {
        Cidr::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn parses_and_displays() {
        for (text, shown) in [
            ("1.2.3.0/24", "1.2.3.0/24"),
            ("1.2.3.4", "1.2.3.4/32"),
            ("1.2.3.4/32", "1.2.3.4/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::1/128", "::1/128"),
            ("::1", "::1/128"),
            ("::/0", "::/0"),
            ("2001:DB8::/32", "2001:db8::/32"),
            ("::ffff:1.2.3.0/120", "::ffff:1.2.3.0/120"),
            ("1.2.3.0/024", "1.2.3.0/24"),
        ] {
            assert_eq!(cidr(text).to_string(), shown, "{text}");
        }
        for bad in [
            "",
            "/",
            "1.2.3.4/",
            "/24",
            "1.2.3.4/33",
            "::1/129",
            "1.2.3.4/24",
            "::1/64",
            "1.2.3.0/+24",
            "1.2.3.0/-1",
            "1.2.3.0/0024",
            "1.2.3.0/24/1",
            " 1.2.3.4",
            "1.2.3.4 ",
            "1.2.3.0/ 24",
            "fe80::1%eth0",
            "1.2.3",
            "1.2.3.256",
            "example.com",
            "1.2.3.0/256",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tradingview_list() {
        let shown: std::vec::Vec<_> = TRADINGVIEW.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "52.89.214.238/32",
                "34.212.75.30/32",
                "54.218.53.128/32",
                "52.32.178.7/32"
            ]
        );
        for c in TRADINGVIEW {
            assert!(is_allowed(&TRADINGVIEW, Some(c.addr())).is_ok());
            let mapped = match c.addr() {
                IpAddr::V4(a) => IpAddr::V6(a.to_ipv6_mapped()),
                IpAddr::V6(_) => unreachable!(),
            };
            assert!(is_allowed(&TRADINGVIEW, Some(mapped)).is_ok());
        }
        assert_eq!(
            is_allowed(&TRADINGVIEW, Some(ip("52.89.214.239"))),
            Err(Rejection::IpNotAllowed {
                ip: ip("52.89.214.239")
            })
        );
        assert_eq!(
            is_allowed(&TRADINGVIEW, None),
            Err(Rejection::IpNotAllowed { ip: ip("0.0.0.0") })
        );
    }

    #[test]
    fn containment() {
        let c = cidr("1.2.3.0/24");
        assert!(c.contains(ip("1.2.3.0")) && c.contains(ip("1.2.3.255")));
        assert!(!c.contains(ip("1.2.4.0")) && !c.contains(ip("1.2.2.255")));
        assert!(c.contains(ip("::ffff:1.2.3.77")));
        assert!(!c.contains(ip("::1.2.3.77"))); // IPv4-compatible is not mapped
        assert!(!c.contains(ip("::1")));
        let all4 = cidr("0.0.0.0/0");
        assert!(all4.contains(ip("255.255.255.255")) && all4.contains(ip("::ffff:8.8.8.8")));
        assert!(!all4.contains(ip("::1")) && !all4.contains(ip("2001:db8::1")));
        let mapped = cidr("::ffff:1.2.3.0/120");
        assert!(mapped.contains(ip("1.2.3.9")) && !mapped.contains(ip("1.2.4.9")));
        let all6 = cidr("::/0");
        assert!(all6.contains(ip("2001:db8::1")) && all6.contains(ip("9.9.9.9")));
        let v6 = cidr("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::")));
        assert!(cidr("::1").contains(ip("::1")) && !cidr("::1").contains(ip("::2")));
        assert!(is_allowed(&[], Some(ip("9.9.9.9"))).is_ok());
        assert!(is_allowed(&[c, v6], Some(ip("2001:db8::5"))).is_ok());
    }

    proptest! {
        #[test]
        fn v4_matches_reference(net in any::<u32>(), prefix in 0u8..=32, probe in any::<u32>()) {
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
            let c = Cidr::new(IpAddr::V4(Ipv4Addr::from(net & m)), prefix).unwrap();
            if prefix < 32 {
                // Host bits set: refused.
                prop_assert!(Cidr::new(IpAddr::V4(Ipv4Addr::from(net | !m)), prefix).is_none());
            }
            let inside = probe & m == net & m;
            prop_assert_eq!(c.contains(IpAddr::V4(Ipv4Addr::from(probe))), inside);
            prop_assert_eq!(c.contains(IpAddr::V6(Ipv4Addr::from(probe).to_ipv6_mapped())), inside);
            prop_assert_eq!(Cidr::parse(&c.to_string()), Some(c));
        }

        #[test]
        fn v6_matches_reference(net in any::<u128>(), prefix in 0u8..=128, probe in any::<u128>()) {
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
            let c = Cidr::new(IpAddr::V6(Ipv6Addr::from(net & m)), prefix).unwrap();
            prop_assert_eq!(c.contains(IpAddr::V6(Ipv6Addr::from(probe))), probe & m == net & m);
            prop_assert_eq!(Cidr::parse(&c.to_string()), Some(c));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,50}") {
            let _ = Cidr::parse(&s);
        }
    }
}
