//! Who may call what: GitHub webhook signatures, the shared token and address list of the
//! other webhooks, the admin token of dashboard actions and their cross-site check.
//!
//! Every comparison with a secret runs in constant time. No secret is logged: failures log
//! which check failed, never the values compared.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header;
use hmac::{Hmac, KeyInit, Mac};
use netkan_common::config::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::warn;

use crate::error::WebError;
use crate::state::AppState;

/// Header of the shared webhook token.
pub(crate) const WEBHOOK_TOKEN_HEADER: &str = "x-netkan-token";
/// Header of the admin token (the dashboard's forms send a field `token` instead).
pub(crate) const ADMIN_TOKEN_HEADER: &str = "x-netkan-admin-token";

/// True if `given` equals `secret`, in time independent of where they differ and of their
/// lengths (both are hashed first, so the comparison is always of 32 bytes).
pub(crate) fn secret_matches(given: &str, secret: &Secret) -> bool {
    if secret.is_empty() {
        return false;
    }
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(secret.expose().as_bytes());
    a.ct_eq(&b).into()
}

/// Checks a GitHub webhook's signature of `body`: `X-Hub-Signature-256` (HMAC-SHA256) when
/// present, else `X-Hub-Signature` (HMAC-SHA1, what the reference checked). A missing
/// secret, a missing header or a mismatch is `WebError::Signature` (400, as the reference).
pub(crate) fn verify_github(
    req: &HttpRequest,
    body: &[u8],
    secret: &Secret,
) -> Result<(), WebError> {
    if secret.is_empty() {
        warn!("github webhook refused: web.github_secret is not set");
        return Err(WebError::Signature);
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let checked = signature_check(
        header("x-hub-signature-256"),
        header("x-hub-signature"),
        body,
        secret,
    );
    match checked {
        Ok(()) => Ok(()),
        Err(SignatureFailure::Missing) => {
            warn!("github webhook refused: no X-Hub-Signature-256 or X-Hub-Signature header");
            Err(WebError::Signature)
        }
        Err(SignatureFailure::Mismatch) => {
            warn!("github webhook refused: signature does not match the body");
            Err(WebError::Signature)
        }
    }
}

/// Why a GitHub signature was refused (logged; the client is told `Signature mismatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureFailure {
    /// Neither header was sent.
    Missing,
    /// A header was sent that is malformed or does not match.
    Mismatch,
}

/// Checks the headers' values against `body`: `sha256` (the value of
/// `X-Hub-Signature-256`) wins over `sha1` (`X-Hub-Signature`) when both are present.
pub(crate) fn signature_check(
    sha256: Option<&str>,
    sha1: Option<&str>,
    body: &[u8],
    secret: &Secret,
) -> Result<(), SignatureFailure> {
    let key = secret.expose().as_bytes();
    let ok = if let Some(sig) = sha256 {
        sig.strip_prefix("sha256=")
            .and_then(decode_hex)
            .is_some_and(|sig| {
                Hmac::<Sha256>::new_from_slice(key)
                    .map(|mac| mac.chain_update(body).verify_slice(&sig).is_ok())
                    .unwrap_or(false)
            })
    } else if let Some(sig) = sha1 {
        sig.strip_prefix("sha1=")
            .and_then(decode_hex)
            .is_some_and(|sig| {
                Hmac::<sha1::Sha1>::new_from_slice(key)
                    .map(|mac| mac.chain_update(body).verify_slice(&sig).is_ok())
                    .unwrap_or(false)
            })
    } else {
        return Err(SignatureFailure::Missing);
    };
    if ok {
        Ok(())
    } else {
        Err(SignatureFailure::Mismatch)
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Guards the webhooks the reference left to a firewall (`/inflate`, `/sd/*`): when
/// `web.allowed_addresses` is set the peer must match one entry, and when `web.webhook_token`
/// is set the request must carry it (`X-Netkan-Token` or `?token=`).
pub(crate) fn check_webhook_access(req: &HttpRequest, state: &AppState) -> Result<(), WebError> {
    if !state.allowed.is_empty() {
        let peer = client_address(req, &state.proxies);
        if !peer.is_some_and(|ip| state.allowed.iter().any(|r| r.matches(ip))) {
            warn!(peer = ?peer, "webhook refused: address not in web.allowed_addresses");
            return Err(WebError::Forbidden("Forbidden: address not allowed".into()));
        }
    }
    if !state.web.webhook_token.is_empty() {
        let given = req
            .headers()
            .get(WEBHOOK_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| query_value(req, "token"));
        if !given.is_some_and(|t| secret_matches(&t, &state.web.webhook_token)) {
            warn!("webhook refused: missing or wrong webhook token");
            return Err(WebError::Forbidden(
                "Forbidden: missing or wrong token".into(),
            ));
        }
    }
    Ok(())
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the last address in
/// `X-Forwarded-For` that is not one (proxies append, so earlier entries are the client's
/// own claims and cannot be trusted).
pub(crate) fn client_address(req: &HttpRequest, proxies: &[AddrRule]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !proxies.iter().any(|r| r.matches(peer)) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !proxies.iter().any(|r| r.matches(*ip)))
            .unwrap_or(peer),
    )
}

fn query_value(req: &HttpRequest, key: &str) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Guards a dashboard action (a POST): the admin token must be configured and given (header
/// `X-Netkan-Admin-Token` or form field `token`), and a browser must not be sending it from
/// another site (`Sec-Fetch-Site`, else `Origin`, must be this site).
pub(crate) fn check_admin(
    req: &HttpRequest,
    state: &AppState,
    form_token: Option<&str>,
) -> Result<(), WebError> {
    check_same_origin(req, &state.base_url)?;
    if state.web.admin_token.is_empty() {
        return Err(WebError::Forbidden(
            "Operator actions are disabled: set web.admin_token".into(),
        ));
    }
    let given = req
        .headers()
        .get(ADMIN_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(form_token);
    if given.is_some_and(|t| secret_matches(t, &state.web.admin_token)) {
        Ok(())
    } else {
        warn!("dashboard action refused: missing or wrong admin token");
        Err(WebError::Forbidden(
            "Forbidden: missing or wrong admin token".into(),
        ))
    }
}

/// Refuses requests a browser sends on behalf of another site. Browsers send
/// `Sec-Fetch-Site` (trusted when present) or at least `Origin` on a cross-site POST; a
/// request with neither is not from a browser form and is left to the token check.
pub(crate) fn check_same_origin(req: &HttpRequest, base_url: &str) -> Result<(), WebError> {
    let get = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(site) = get(header::HeaderName::from_static("sec-fetch-site")) {
        return if matches!(site, "same-origin" | "none") {
            Ok(())
        } else {
            Err(cross_site())
        };
    }
    match get(header::ORIGIN) {
        None => Ok(()),
        Some(origin) => {
            let host = req.connection_info().host().to_owned();
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
            let base_host = base_url
                .split_once("://")
                .map(|(_, h)| h.split('/').next().unwrap_or(""))
                .unwrap_or("");
            if !origin_host.is_empty()
                && (origin_host.eq_ignore_ascii_case(&host)
                    || origin_host.eq_ignore_ascii_case(base_host))
            {
                Ok(())
            } else {
                Err(cross_site())
            }
        }
    }
}

fn cross_site() -> WebError {
    warn!("dashboard action refused: cross-site request");
    WebError::Forbidden("Forbidden: cross-site request".into())
}

/// One entry of `web.allowed_addresses`: an address, or a network in CIDR notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddrRule {
    net: IpAddr,
    prefix: u8,
}

impl AddrRule {
    /// Parses `192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR network"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has a bad prefix length"))?,
        };
        Ok(Self { net, prefix })
    }

    /// True if `ip` is in this network (an IPv4-mapped IPv6 peer counts as IPv4).
    pub(crate) fn matches(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                prefix_eq(u32::from(n).into(), u32::from(a).into(), self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(n.into(), a.into(), self.prefix, 128),
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8, bits: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn address_rules_match_addresses_and_networks() {
        let one = AddrRule::parse("192.0.2.7").unwrap();
        assert!(one.matches("192.0.2.7".parse().unwrap()));
        assert!(!one.matches("192.0.2.8".parse().unwrap()));
        assert!(one.matches("::ffff:192.0.2.7".parse().unwrap()));
        let net = AddrRule::parse("10.0.0.0/8").unwrap();
        assert!(net.matches("10.200.1.1".parse().unwrap()));
        assert!(!net.matches("11.0.0.1".parse().unwrap()));
        let v6 = AddrRule::parse("2001:db8::/32").unwrap();
        assert!(v6.matches("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.matches("2001:db9::1".parse().unwrap()));
        assert!(
            AddrRule::parse("0.0.0.0/0")
                .unwrap()
                .matches("8.8.8.8".parse().unwrap())
        );
        assert!(AddrRule::parse("10.0.0.0/33").is_err());
        assert!(AddrRule::parse("example.com").is_err());
    }

    #[test]
    fn secrets_compare_whole() {
        let s = Secret::new("hunter2");
        assert!(secret_matches("hunter2", &s));
        assert!(!secret_matches("hunter", &s));
        assert!(!secret_matches("", &Secret::default()));
    }

    #[test]
    fn hex_decodes_strictly() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é1"), None);
    }
}
