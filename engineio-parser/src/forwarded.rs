//! The client's address behind reverse proxies: which peers are trusted to report it, and the
//! header they report it in (`X-Forwarded-For`, or `Forwarded` of RFC 7239 with its `for=`
//! parameter).
//!
//! A proxy appends the address it received the request from to the header, so the list reads
//! from the original client (left) to the last proxy before this server (right). Only the
//! right-most part can be believed: everything left of the first address a trusted proxy did not
//! add may have been written by the client itself. [`TrustProxy::client_ip`] therefore starts
//! from the direct peer and walks the list right to left while the address it reached is a
//! trusted proxy; the first untrusted address is the client's.
//!
//! Only one of the two headers is read, the one the proxies are configured to write
//! ([`ForwardedHeader`]): a proxy that writes one of them passes the other through unchanged, so
//! reading both would let a client choose its own address.
//!
//! ```
//! use std::net::IpAddr;
//! use engineio_parser::forwarded::{ForwardedHeader, TrustProxy};
//!
//! let trust = TrustProxy {
//!     proxies: vec!["10.0.0.0/8".parse().expect("a CIDR range")],
//!     header: ForwardedHeader::XForwardedFor,
//! };
//! let peer: IpAddr = "10.0.0.2".parse().expect("an address");
//! // The client wrote `1.1.1.1` itself; the trusted proxy appended `203.0.113.7`.
//! let client = trust.client_ip(peer, [&b"1.1.1.1, 203.0.113.7"[..]]);
//! assert_eq!(client, "203.0.113.7".parse::<IpAddr>().expect("an address"));
//! // An untrusted peer's header is ignored.
//! let stranger: IpAddr = "192.0.2.1".parse().expect("an address");
//! assert_eq!(trust.client_ip(stranger, [&b"203.0.113.7"[..]]), stranger);
//! ```
//!
//! # What it does not do
//!
//! No I/O: the driver hands in the peer's address and the header's values. Ports and the other
//! `Forwarded` parameters (`by`, `proto`, `host`) are not reported.

use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// A range of IP addresses: an address and the number of leading bits that must match
/// (`10.0.0.0/8`, `fd00::/8`; a single address is a range of full length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// A text that is neither an IP address nor a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IP address or CIDR range: {0:?}")]
pub struct InvalidIpNet(pub String);

impl IpNet {
    /// The range of the addresses whose first `prefix` bits are those of `addr`; `None` when
    /// `prefix` is longer than the address (32 bits for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        (u32::from(prefix) <= width(addr)).then_some(IpNet { addr, prefix })
    }

    /// The range's address, as given.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The number of leading bits that must match.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in the range. An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is
    /// compared as the IPv4 address it holds; the two families never match each other otherwise.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let shift = width(self.addr) - u32::from(self.prefix);
        let differing = match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => u128::from(u32::from(net) ^ u32::from(ip)),
            (IpAddr::V6(net), IpAddr::V6(ip)) => u128::from(net) ^ u128::from(ip),
            _ => return false,
        };
        differing.checked_shr(shift).unwrap_or(0) == 0
    }
}

/// The bits of an address of `addr`'s family.
fn width(addr: IpAddr) -> u32 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

impl FromStr for IpNet {
    type Err = InvalidIpNet;

    /// `10.0.0.0/8`, `fd00::/8`, or one address (`127.0.0.1`, `::1`).
    fn from_str(s: &str) -> Result<Self, InvalidIpNet> {
        let invalid = || InvalidIpNet(s.to_owned());
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
        let prefix = match prefix {
            // Digits only: `u8::from_str` would also take a `+`.
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => p.parse().map_err(|_| invalid())?,
            Some(_) => return Err(invalid()),
            None => width(addr) as u8,
        };
        IpNet::new(addr, prefix).ok_or_else(invalid)
    }
}

/// The header trusted proxies write the client's address in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: <client>, <proxy1>, <proxy2>` (the common one: nginx, HAProxy, cloud
    /// load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=<client>, for=<proxy1>;proto=https` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }

    /// The hops one value of the header lists, left to right.
    pub fn hops(self, value: &[u8]) -> Vec<Hop> {
        match self {
            ForwardedHeader::XForwardedFor => x_forwarded_for(value),
            ForwardedHeader::Forwarded => forwarded_for(value),
        }
    }
}

/// One hop of a forwarded list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// An IP address (its port, if any, dropped).
    Ip(IpAddr),
    /// Anything else: `unknown`, an obfuscated identifier (`_hidden`), a `Forwarded` element
    /// without `for=`, or text that is no address at all.
    Unknown,
}

/// The hops of one `X-Forwarded-For` value: comma-separated addresses, IPv4 with or without a
/// port (`192.0.2.1:4711`), IPv6 bare or in brackets (`2001:db8::1`, `[2001:db8::1]:4711`).
///
/// ```
/// use engineio_parser::forwarded::{x_forwarded_for, Hop};
/// assert_eq!(
///     x_forwarded_for(b"192.0.2.1, junk"),
///     [Hop::Ip("192.0.2.1".parse().expect("an address")), Hop::Unknown]
/// );
/// ```
pub fn x_forwarded_for(value: &[u8]) -> Vec<Hop> {
    let Ok(value) = std::str::from_utf8(value) else { return vec![Hop::Unknown] };
    value.split(',').map(node).collect()
}

/// The hops of one `Forwarded` value (RFC 7239): one per comma-separated element, from its
/// `for=` parameter (a token or a quoted string; parameter names in any case). Commas and
/// semicolons inside quotes do not separate.
///
/// ```
/// use engineio_parser::forwarded::{forwarded_for, Hop};
/// assert_eq!(
///     forwarded_for(br#"for=192.0.2.60;proto=http, For="[2001:db8:cafe::17]:4711""#),
///     [
///         Hop::Ip("192.0.2.60".parse().expect("an address")),
///         Hop::Ip("2001:db8:cafe::17".parse().expect("an address")),
///     ]
/// );
/// ```
pub fn forwarded_for(value: &[u8]) -> Vec<Hop> {
    let Ok(value) = std::str::from_utf8(value) else { return vec![Hop::Unknown] };
    split_unquoted(value, b',').into_iter().map(element_for).collect()
}

/// The hop of one `Forwarded` element: its first `for` parameter.
fn element_for(element: &str) -> Hop {
    let for_value = split_unquoted(element, b';').into_iter().find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then(|| unquote(value.trim()))
    });
    match for_value {
        Some(Some(value)) => node(&value),
        _ => Hop::Unknown,
    }
}

/// `s` split at every `separator` outside a quoted string (`\` escapes the next character
/// inside one).
fn split_unquoted(s: &str, separator: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in s.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == separator && !quoted {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A parameter value: a quoted string without its quotes and escapes, or a token as it is;
/// `None` for an unterminated quote.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else { return Some(value.to_owned()) };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(out)
}

/// A node: an address with an optional port (`192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:80`), surrounding blanks ignored.
fn node(node: &str) -> Hop {
    let node = node.trim_matches([' ', '\t']);
    if let Some(bracketed) = node.strip_prefix('[') {
        let Some((ip, rest)) = bracketed.split_once(']') else { return Hop::Unknown };
        let port_ok = rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port);
        return match ip.parse::<Ipv6Addr>() {
            Ok(ip) if port_ok => Hop::Ip(IpAddr::V6(ip)),
            _ => Hop::Unknown,
        };
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Hop::Ip(ip);
    }
    match node.rsplit_once(':') {
        Some((ip, port)) if is_port(port) => match ip.parse() {
            Ok(ip) => Hop::Ip(IpAddr::V4(ip)),
            Err(_) => Hop::Unknown,
        },
        _ => Hop::Unknown,
    }
}

/// A port of RFC 7239: one to five digits, or an obfuscated one (`_` and letters, digits,
/// `.`, `_`, `-`).
fn is_port(port: &str) -> bool {
    let digits = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
    let obfuscated = port.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    });
    digits || obfuscated
}

/// Which peers are trusted to report the client's address, and in which header: the
/// `trust_proxy` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustProxy {
    /// The proxies' addresses and ranges (`127.0.0.1`, `10.0.0.0/8`, `fd00::/8`).
    pub proxies: Vec<IpNet>,
    /// The header they write.
    pub header: ForwardedHeader,
}

impl TrustProxy {
    /// Records a trust list that trusts no proxy: the setting would change nothing.
    pub fn check(&self, checker: &mut crate::options::Checker) {
        if self.proxies.is_empty() {
            checker.refuse(
                "proxies",
                "is empty: no proxy would be trusted; use `trust_proxy: None` to mean that",
            );
        }
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|net| net.contains(ip))
    }

    /// The client's address for a request from `peer` (the connection's remote address) whose
    /// [`header`](Self::header) has the values `values` (every field of that name, in order).
    ///
    /// An untrusted `peer` is the client. Otherwise the hops are walked from the right while
    /// they are trusted proxies: the first untrusted address is the client's. A hop that is no
    /// address (`unknown`, an obfuscated identifier, garbage) ends the walk: the client is the
    /// last address reached, the trusted proxy that reported it. When every hop is trusted, the
    /// left-most one is the client. IPv4 addresses written as IPv6 are given as IPv4.
    pub fn client_ip<'a>(&self, peer: IpAddr, values: impl IntoIterator<Item = &'a [u8]>) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<Hop> = values.into_iter().flat_map(|value| self.header.hops(value)).collect();
        for hop in hops.into_iter().rev() {
            let Hop::Ip(ip) = hop else { break };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn net(s: &str) -> IpNet {
        s.parse().expect("a range")
    }

    fn hop(s: &str) -> Hop {
        Hop::Ip(ip(s))
    }

    #[test]
    fn ranges_parse_from_addresses_and_cidr() {
        assert_eq!(net("10.0.0.0/8"), IpNet::new(ip("10.0.0.0"), 8).expect("valid"));
        assert_eq!(net("127.0.0.1"), IpNet::new(ip("127.0.0.1"), 32).expect("valid"));
        assert_eq!(net("::1"), IpNet::new(ip("::1"), 128).expect("valid"));
        assert_eq!(net("fd00::/8"), IpNet::new(ip("fd00::"), 8).expect("valid"));
        assert_eq!(net("0.0.0.0/0").prefix(), 0);
        assert_eq!(net("10.1.2.3/32").addr(), ip("10.1.2.3"));
        assert_eq!(net("::/128").prefix(), 128);
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "x/8",
            "10.0.0/8",
            "10.0.0.0/-1",
        ] {
            assert_eq!(bad.parse::<IpNet>(), Err(InvalidIpNet(bad.to_owned())), "{bad:?}");
        }
        assert_eq!(InvalidIpNet("x".into()).to_string(), "not an IP address or CIDR range: \"x\"");
        assert_eq!(IpNet::new(ip("10.0.0.0"), 33), None);
        assert_eq!(IpNet::new(ip("::"), 129), None);
        assert!(IpNet::new(ip("::"), 128).is_some());
        assert!(IpNet::new(ip("10.0.0.0"), 32).is_some());
    }

    #[test]
    fn ranges_contain_the_addresses_of_their_prefix() {
        let ten = net("10.0.0.0/8");
        assert!(ten.contains(ip("10.0.0.0")));
        assert!(ten.contains(ip("10.255.255.255")));
        assert!(!ten.contains(ip("11.0.0.0")));
        assert!(!ten.contains(ip("9.255.255.255")));
        let narrow = net("192.168.1.128/25");
        assert!(narrow.contains(ip("192.168.1.200")));
        assert!(!narrow.contains(ip("192.168.1.127")));
        let one = net("127.0.0.1");
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(net("::/0").contains(ip("2001:db8::1")));
        assert!(!net("::/0").contains(ip("203.0.113.9")), "families never mix");
        assert!(!net("0.0.0.0/0").contains(ip("2001:db8::1")));
        let v6 = net("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let v6_one = net("::1");
        assert!(v6_one.contains(ip("::1")));
        assert!(!v6_one.contains(ip("::2")));
        // An IPv4 address written as IPv6 is the IPv4 address.
        assert!(ten.contains(ip("::ffff:10.1.2.3")));
    }

    #[test]
    fn x_forwarded_for_lists_addresses_with_or_without_ports() {
        assert_eq!(
            x_forwarded_for(b"203.0.113.195, 2001:db8:85a3::8a2e:370:7334,198.51.100.178"),
            [hop("203.0.113.195"), hop("2001:db8:85a3::8a2e:370:7334"), hop("198.51.100.178")]
        );
        assert_eq!(
            x_forwarded_for(b"192.0.2.1:4711,\t[2001:db8::1]:80 , [::1]"),
            [hop("192.0.2.1"), hop("2001:db8::1"), hop("::1")]
        );
        assert_eq!(x_forwarded_for(b"192.0.2.1"), [hop("192.0.2.1")]);
    }

    #[test]
    fn x_forwarded_for_garbage_is_unknown() {
        let unknown = |value: &[u8]| assert_eq!(x_forwarded_for(value), [Hop::Unknown], "{value:?}");
        for value in [
            &b""[..],
            b"unknown",
            b"_hidden",
            b"example.com",
            b"1.2.3",
            b"1.2.3.4.5",
            b"[1.2.3.4]",
            b"[::1",
            b"[::1]x",
            b"[::1]:",
            b"[::1]:123456",
            b"[::1]:8a",
            b"1.2.3.4:",
            b"1.2.3.4:123456",
            b"1.2.3.4:http",
            b"1.2.3.4:_",
            b"1.2.3.4:_a b",
            b"::1:_x:80",
            b"host:80",
            b"\xff\xfe",
        ] {
            unknown(value);
        }
        assert_eq!(x_forwarded_for(b"1.2.3.4,"), [hop("1.2.3.4"), Hop::Unknown]);
        assert_eq!(x_forwarded_for(b"1.2.3.4:_obf-1.x_"), [hop("1.2.3.4")]);
        assert_eq!(x_forwarded_for(b"1.2.3.4:65535"), [hop("1.2.3.4")]);
        assert_eq!(x_forwarded_for(b"[::1]:_p"), [hop("::1")]);
        assert_eq!(x_forwarded_for(b"1.2.3.4:1"), [hop("1.2.3.4")]);
    }

    #[test]
    fn forwarded_for_reads_the_for_parameter_of_each_element() {
        assert_eq!(
            forwarded_for(b"for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com"),
            [hop("192.0.2.43"), hop("198.51.100.17")]
        );
        assert_eq!(
            forwarded_for(br#"FOR="[2001:db8:cafe::17]:4711"; proto=https, for = "192.0.2.1:80""#),
            [hop("2001:db8:cafe::17"), hop("192.0.2.1")]
        );
        assert_eq!(forwarded_for(b"proto=http;for=192.0.2.1"), [hop("192.0.2.1")]);
        // Only the first `for` of an element counts.
        assert_eq!(forwarded_for(b"for=192.0.2.1;for=192.0.2.2"), [hop("192.0.2.1")]);
        // Separators inside quotes do not split; escapes are undone.
        assert_eq!(forwarded_for(br#"for="_a,b;c", for="\192.0.2.\9""#), [Hop::Unknown, hop("192.0.2.9")]);
        assert_eq!(forwarded_for(br#"host="a\"b,c";for=192.0.2.5"#), [hop("192.0.2.5")]);
        // Outside quotes a backslash escapes nothing.
        assert_eq!(forwarded_for(b"for=a\\, for=192.0.2.2"), [Hop::Unknown, hop("192.0.2.2")]);
    }

    #[test]
    fn forwarded_hops_that_are_no_address_are_unknown() {
        for value in [
            &b"for=unknown"[..],
            b"for=_hidden",
            b"for=\"_gazonk\"",
            b"for=",
            b"for",
            b"proto=http",
            b"",
            b"for=\"192.0.2.1",
            b"for=\"192.0.2.1\\\"",
            b"for=2001:db8::1:80x",
            b"by=192.0.2.1",
            b"\xff",
        ] {
            assert_eq!(forwarded_for(value), [Hop::Unknown], "{:?}", String::from_utf8_lossy(value));
        }
        // An unterminated quote runs to the end of the value.
        assert_eq!(forwarded_for(b"for=\"x, for=192.0.2.1"), [Hop::Unknown]);
        // A bare IPv6 address is read too (RFC 7239 wants it quoted in brackets).
        assert_eq!(forwarded_for(b"for=2001:db8::1"), [hop("2001:db8::1")]);
    }

    #[test]
    fn header_names_and_parsers() {
        assert_eq!(ForwardedHeader::XForwardedFor.name(), "x-forwarded-for");
        assert_eq!(ForwardedHeader::Forwarded.name(), "forwarded");
        assert_eq!(ForwardedHeader::default(), ForwardedHeader::XForwardedFor);
        assert_eq!(ForwardedHeader::XForwardedFor.hops(b"192.0.2.1"), [hop("192.0.2.1")]);
        assert_eq!(ForwardedHeader::XForwardedFor.hops(b"for=192.0.2.1"), [Hop::Unknown]);
        assert_eq!(ForwardedHeader::Forwarded.hops(b"for=192.0.2.1"), [hop("192.0.2.1")]);
        assert_eq!(ForwardedHeader::Forwarded.hops(b"192.0.2.1"), [Hop::Unknown]);
    }

    fn trust(header: ForwardedHeader) -> TrustProxy {
        TrustProxy { proxies: vec![net("10.0.0.0/8"), net("::1")], header }
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let xff = trust(ForwardedHeader::XForwardedFor);
        assert!(xff.trusts(ip("10.9.9.9")) && xff.trusts(ip("::1")));
        assert!(!xff.trusts(ip("192.0.2.1")));
        let value: &[u8] = b"203.0.113.7";
        assert_eq!(xff.client_ip(ip("10.0.0.1"), [value]), ip("203.0.113.7"));
        assert_eq!(xff.client_ip(ip("::1"), [value]), ip("203.0.113.7"));
        assert_eq!(xff.client_ip(ip("192.0.2.1"), [value]), ip("192.0.2.1"));
        // No header: the peer.
        assert_eq!(xff.client_ip(ip("10.0.0.1"), []), ip("10.0.0.1"));
        let nobody = TrustProxy { proxies: Vec::new(), header: ForwardedHeader::XForwardedFor };
        assert_eq!(nobody.client_ip(ip("10.0.0.1"), [value]), ip("10.0.0.1"));
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let xff = trust(ForwardedHeader::XForwardedFor);
        let peer = ip("10.0.0.1");
        // The client forged the first entry; the trusted proxies added the rest.
        assert_eq!(xff.client_ip(peer, [&b"6.6.6.6, 203.0.113.7, 10.0.0.5"[..]]), ip("203.0.113.7"));
        // Several fields of the header are one list, in order.
        assert_eq!(xff.client_ip(peer, [&b"6.6.6.6"[..], b"203.0.113.7", b"10.0.0.5"]), ip("203.0.113.7"));
        // Every hop trusted: the left-most.
        assert_eq!(xff.client_ip(peer, [&b"10.0.0.7, 10.0.0.5"[..]]), ip("10.0.0.7"));
        // A hop that is no address stops the walk at the proxy that reported it.
        assert_eq!(xff.client_ip(peer, [&b"203.0.113.7, unknown, 10.0.0.5"[..]]), ip("10.0.0.5"));
        assert_eq!(xff.client_ip(peer, [&b"203.0.113.7, garbage"[..]]), peer);
        // IPv4 written as IPv6, from the peer or in the header, is IPv4.
        assert_eq!(xff.client_ip(ip("::ffff:10.0.0.1"), [&b"::ffff:203.0.113.7"[..]]), ip("203.0.113.7"));
        assert_eq!(xff.client_ip(ip("::ffff:192.0.2.1"), [&b"203.0.113.7"[..]]), ip("192.0.2.1"));
    }

    #[test]
    fn forwarded_is_read_only_when_configured() {
        let forwarded = trust(ForwardedHeader::Forwarded);
        let peer = ip("::1");
        let value: &[u8] = br#"for=6.6.6.6, for="[2001:db8::7]:443";proto=https, for=10.0.0.3"#;
        assert_eq!(forwarded.client_ip(peer, [value]), ip("2001:db8::7"));
        assert_eq!(forwarded.client_ip(peer, [&b"for=_hidden, for=10.0.0.3"[..]]), ip("10.0.0.3"));
        // The other header's syntax is not read.
        assert_eq!(forwarded.client_ip(peer, [&b"203.0.113.7"[..]]), peer);
    }
}
