//! Addresses Waymark calls that someone else configured — a school's webhook, a trust's
//! identity provider — must be on the public internet, so that a setting cannot point
//! Waymark at the trust's own network, a cloud metadata endpoint or the machine itself
//! (server-side request forgery). The URL is checked when it is set and again before each
//! call, and the HTTP clients that make those calls resolve names through [`PublicOnly`],
//! which drops any private address a name resolves to (so a name cannot be re-pointed
//! later). `network.allow_loopback` admits 127.0.0.1 and `localhost` (and plain http to
//! them) for tests and local trials; nothing else private is ever allowed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is an ordinary public address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., a, b, c, d] = v6.octets();
                return public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local() // 169.254/16: cloud metadata lives here
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64) // shared address space 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18/15
        || a >= 240) // reserved
}

fn allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    is_public(ip) || (allow_loopback && ip.is_loopback())
}

/// `raw` as a URL Waymark may call: https to a public host (or, with `allow_loopback`, http
/// or https to this machine), no user name or password in it. The error says what is wrong.
pub fn check_url(raw: &str, allow_loopback: bool) -> Result<Url, &'static str> {
    let url = Url::parse(raw.trim()).map_err(|_| "is not a web address")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password");
    }
    let loopback = match url.host() {
        None => return Err("has no host"),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => {
            if !allowed(IpAddr::V4(ip), allow_loopback) {
                return Err("is a private or reserved address");
            }
            ip.is_loopback()
        }
        Some(url::Host::Ipv6(ip)) => {
            if !allowed(IpAddr::V6(ip), allow_loopback) {
                return Err("is a private or reserved address");
            }
            ip.is_loopback()
        }
    };
    if loopback && !allow_loopback {
        return Err("is a private or reserved address");
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err("must be an https:// address"),
    }
}

/// A resolver for HTTP clients that call configured addresses: a name's private addresses
/// are dropped, and a name with none left does not resolve.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly {
    pub allow_loopback: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|address| allowed(address.ip(), allow_loopback))
                .collect();
            if found.is_empty() {
                return Err(format!("{} has no public address", name.as_str()).into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_reserved_and_metadata_addresses_are_not_public() {
        for private in [
            "10.0.0.5",
            "172.16.1.1",
            "192.168.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "::ffff:93.184.216.34",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn only_https_to_public_hosts_unless_loopback_is_allowed() {
        let refused = |url: &str| check_url(url, true).unwrap_err();
        assert_eq!(
            refused("http://127.0.0.1@10.0.0.5/"),
            "must not carry a user name or password"
        );
        assert_eq!(
            refused("https://10.0.0.5/"),
            "is a private or reserved address"
        );
        assert_eq!(
            refused("https://169.254.169.254/latest/meta-data"),
            "is a private or reserved address"
        );
        assert_eq!(
            refused("https://[::ffff:192.168.1.1]/"),
            "is a private or reserved address"
        );
        assert_eq!(
            refused("http://chat.example.org/hook"),
            "must be an https:// address"
        );
        assert_eq!(
            refused("ftp://chat.example.org/"),
            "must be an https:// address"
        );
        assert!(check_url("https://chat.example.org/hook", false).is_ok());
        // Loopback only with the switch.
        assert!(check_url("http://127.0.0.1:9400/", true).is_ok());
        assert!(check_url("http://localhost:9400/", true).is_ok());
        assert!(check_url("http://127.0.0.1:9400/", false).is_err());
        assert!(check_url("https://localhost/", false).is_err());
    }
}
