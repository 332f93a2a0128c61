//! Which addresses are internal: loopback, private, link-local, shared,
//! reserved for "this network", broadcast or multicast. A hostile domain
//! whose MX points at one of these would aim our delivery at hosts inside
//! our own network (or at ourselves), so MX routes refuse them unless
//! [`RouterConfig::allow_internal_mx`](super::RouterConfig::allow_internal_mx)
//! is on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True for an address no public mail server has.
///
/// IPv4: `0.0.0.0/8` (this network, unspecified included), `10/8`,
/// `172.16/12`, `192.168/16` (RFC 1918), `100.64/10` (RFC 6598 shared
/// address space), `127/8` (loopback), `169.254/16` (link-local),
/// `224/4` (multicast), `255.255.255.255` (broadcast).
///
/// IPv6: `::` and `::1`, `fe80::/10` (link-local), `fc00::/7` (unique
/// local), `ff00::/8` (multicast), and any of the IPv4 ones above written as
/// IPv4-mapped (`::ffff:127.0.0.1`) or IPv4-compatible (`::127.0.0.1`).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 0
        || ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        // 100.64.0.0/10, carrier-grade NAT (RFC 6598).
        || (a == 100 && (b & 0b1100_0000) == 64)
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return true;
    }
    let first = ip.segments()[0];
    // fe80::/10 link-local, fc00::/7 unique local.
    if (first & 0xffc0) == 0xfe80 || (first & 0xfe00) == 0xfc00 {
        return true;
    }
    // ::ffff:a.b.c.d (mapped) and the deprecated ::a.b.c.d (compatible):
    // the IPv4 address is what the connection reaches.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let s = ip.segments();
    if s[..6] == [0; 6] {
        return internal_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(s: &str) -> bool {
        is_internal(s.parse().unwrap())
    }

    #[test]
    fn internal_ipv4() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "224.0.0.1",
            "239.255.255.255",
            "255.255.255.255",
        ] {
            assert!(internal(ip), "{ip} should be internal");
        }
        for ip in [
            "192.0.2.1",
            "8.8.8.8",
            "172.32.0.1",
            "172.15.255.255",
            "100.63.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "1.1.1.1",
        ] {
            assert!(!internal(ip), "{ip} should be public");
        }
    }

    #[test]
    fn internal_ipv6() {
        for ip in [
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.1.1",
            "::127.0.0.1",
            "::192.168.0.1",
        ] {
            assert!(internal(ip), "{ip} should be internal");
        }
        for ip in [
            "2001:db8::1",
            "2a00:1450::1",
            "fec0::1",
            "::ffff:192.0.2.1",
            "64:ff9b::192.0.2.1",
        ] {
            assert!(!internal(ip), "{ip} should be public");
        }
    }
}
