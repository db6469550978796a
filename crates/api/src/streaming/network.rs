//! Where the server may send deliveries: the URL policy of stream destinations and the HTTP
//! client that keeps to it.
//!
//! A destination URL is chosen by a project admin, so the server must not become a way to reach
//! what only the server can reach (the cloud's metadata service, the database host, a private
//! admin page). Unless the operator allows private networks:
//! * the URL is `https`, without credentials in it;
//! * an IP-literal host must be a public address, and a name must resolve only to public
//!   addresses — checked by the client's resolver at every connection, so a name that later
//!   resolves elsewhere (DNS rebinding) is refused too;
//! * redirects are not followed and no proxy from the environment is used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

/// The longest destination URL kept.
pub const MAX_URL_CHARS: usize = 2_000;

/// What addresses deliveries may go to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Loopback, private and other non-public addresses, and plain `http` to them, are allowed.
    pub allow_private: bool,
}

impl NetworkPolicy {
    /// Parses and checks a destination URL; the error says what to change.
    pub fn check_url(self, text: &str) -> Result<Url, String> {
        let text = text.trim();
        if text.chars().count() > MAX_URL_CHARS {
            return Err(format!("a URL has at most {MAX_URL_CHARS} characters"));
        }
        let url = Url::parse(text).map_err(|error| format!("not a URL: {error}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in the URL are not kept: send them in a custom header".into());
        }
        if url.fragment().is_some() {
            return Err("a URL with a fragment (`#…`) cannot be delivered to".into());
        }
        let allowed_schemes: &[&str] = if self.allow_private {
            &["https", "http"]
        } else {
            &["https"]
        };
        if !allowed_schemes.contains(&url.scheme()) {
            return Err(if url.scheme() == "http" {
                "deliveries go over `https://`: plain `http://` is allowed only to private networks the server is started to allow (--stream-allow-private-networks)".into()
            } else {
                format!("`{}` URLs are not supported: use https://", url.scheme())
            });
        }
        match url.host() {
            None => return Err("the URL has no host".into()),
            Some(url::Host::Ipv4(ip)) => self.check_address(IpAddr::V4(ip))?,
            Some(url::Host::Ipv6(ip)) => self.check_address(IpAddr::V6(ip))?,
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if !self.allow_private && (name == "localhost" || name.ends_with(".localhost")) {
                    return Err(private_refusal("localhost"));
                }
            }
        }
        Ok(url)
    }

    /// Refuses a non-public address unless private networks are allowed.
    pub fn check_address(self, ip: IpAddr) -> Result<(), String> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(private_refusal(&ip.to_string()))
        }
    }

    /// The HTTP client deliveries go through: its resolver refuses non-public addresses (unless
    /// allowed), it follows no redirect, uses no proxy, and gives up on a slow destination.
    pub fn client(self) -> reqwest::Client {
        reqwest::Client::builder()
            .user_agent(concat!("Auditlog/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .dns_resolver(Arc::new(GuardedResolver { policy: self }))
            .build()
            .expect("the delivery client builds")
    }
}

fn private_refusal(host: &str) -> String {
    format!(
        "`{host}` is not a public address: the server delivers to private networks only when started with --stream-allow-private-networks"
    )
}

/// Resolves names like the system does, then keeps only addresses the policy allows.
struct GuardedResolver {
    policy: NetworkPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|address| policy.check_address(address.ip()).is_ok())
                .collect();
            if allowed.is_empty() {
                let reason = if found.is_empty() {
                    format!("`{host}` resolves to no address")
                } else {
                    // The address is not named: an admin may not map the server's network by
                    // names.
                    private_refusal(&host)
                };
                return Err(reason.into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether an address is reachable on the public internet (not loopback, private, link-local,
/// shared, reserved, documentation, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10
                || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
                || (first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 to any IPv4
                || first == 0x2002 // 6to4, which embeds any IPv4
                || ip == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || ip.is_unspecified()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_are_told_from_the_rest() {
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_private_addresses() {
        use reqwest::dns::Resolve as _;
        // A name passes the URL check; what it resolves to is checked at every connection.
        let strict = GuardedResolver {
            policy: NetworkPolicy::default(),
        };
        let refused = strict.resolve("localhost".parse().unwrap()).await;
        let error = refused.err().expect("loopback is refused").to_string();
        assert!(error.contains("not a public address"), "{error}");
        let open = GuardedResolver {
            policy: NetworkPolicy {
                allow_private: true,
            },
        };
        let addresses: Vec<SocketAddr> = open
            .resolve("localhost".parse().unwrap())
            .await
            .expect("allowed")
            .collect();
        assert!(
            addresses.iter().all(|a| a.ip().is_loopback()),
            "{addresses:?}"
        );
    }

    #[test]
    fn urls_must_be_https_to_public_hosts_unless_private_networks_are_allowed() {
        let strict = NetworkPolicy::default();
        assert!(strict.check_url("https://siem.example.com/hook").is_ok());
        for refused in [
            "http://siem.example.com/hook",
            "https://127.0.0.1/hook",
            "https://[::1]/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://0x7f000001/",
            "https://2130706433/",
            "https://localhost:8443/",
            "https://api.localhost/",
            "https://user:pass@siem.example.com/",
            "ftp://siem.example.com/",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(strict.check_url(refused).is_err(), "{refused}");
        }
        let open = NetworkPolicy {
            allow_private: true,
        };
        assert!(open.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(open.check_url("https://user:pass@10.0.0.1/").is_err());
    }
}
