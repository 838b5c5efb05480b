//! The endpoint's optional allow-list of client addresses: single addresses
//! and CIDR ranges, IPv4 and IPv6.

use std::net::IpAddr;

/// Client addresses the endpoint answers; every other client gets a 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AllowList(Vec<(IpAddr, u8)>);

/// The accepted form, for error messages and docs/configuration.md.
pub(crate) const FORM: &str =
    "comma-separated addresses or CIDR ranges such as 127.0.0.1,10.0.0.0/8,::1, or `any`";

impl AllowList {
    /// Parses `127.0.0.1, 10.0.0.0/8, ::1`. `None` when any entry is
    /// malformed (an empty list is malformed: it would refuse everyone).
    pub(crate) fn parse(s: &str) -> Option<AllowList> {
        let mut nets = Vec::new();
        for entry in s.split(',') {
            let entry = entry.trim();
            let (addr, bits) = match entry.split_once('/') {
                Some((a, b)) => (a.trim(), Some(b.trim())),
                None => (entry, None),
            };
            let addr: IpAddr = addr.parse().ok()?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                // Digits only: `u8::from_str` would also take `+8`.
                Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => {
                    b.parse::<u8>().ok().filter(|b| *b <= max)?
                }
                Some(_) => return None,
                None => max,
            };
            nets.push((addr, bits));
        }
        (!nets.is_empty()).then_some(AllowList(nets))
    }

    /// Whether `client` is in one of the ranges. IPv4 clients reaching an
    /// IPv6 socket (`::ffff:a.b.c.d`) are matched as IPv4.
    pub(crate) fn allows(&self, client: IpAddr) -> bool {
        let client = client.to_canonical();
        self.0.iter().any(|(net, bits)| match (net, client) {
            (IpAddr::V4(n), IpAddr::V4(c)) => {
                prefix(n.to_bits().into(), c.to_bits().into(), 32, *bits)
            }
            (IpAddr::V6(n), IpAddr::V6(c)) => prefix(n.to_bits(), c.to_bits(), 128, *bits),
            _ => false,
        })
    }
}

/// Whether the first `bits` of two `width`-bit numbers agree.
fn prefix(a: u128, b: u128, width: u32, bits: u8) -> bool {
    let shift = width - u32::from(bits);
    shift >= width || (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ranges_are_matched() {
        let l = AllowList::parse("127.0.0.1, 10.0.0.0/8,fd00::/8").unwrap();
        for ok in ["127.0.0.1", "10.1.2.3", "::ffff:10.9.9.9", "fd12::1"] {
            assert!(l.allows(ok.parse().unwrap()), "{ok}");
        }
        for no in ["127.0.0.2", "11.0.0.1", "::1", "fe80::1"] {
            assert!(!l.allows(no.parse().unwrap()), "{no}");
        }
        assert!(AllowList::parse("0.0.0.0/0")
            .unwrap()
            .allows("8.8.8.8".parse().unwrap()));
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "host",
            "1.2.3.4,",
        ] {
            assert!(AllowList::parse(bad).is_none(), "{bad}");
        }
    }
}
