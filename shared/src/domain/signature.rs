//! `X-Twilio-Signature` validation, so the webhook stores nothing that Twilio did not send.
//!
//! Mirrors Twilio's own helper libraries (twilio-python `request_validator.py`, twilio-node
//! `webhooks.ts`): the signed string is the full URL Twilio requested followed by every form
//! parameter (names sorted, each name's distinct values sorted, `name + value`, no separators),
//! HMAC-SHA1 keyed by the auth token, base64. Twilio is inconsistent about whether the port is part
//! of the signed URL, so a request is accepted when it matches the URL either with or without it.
//!
//! The URL is handled as a plain string: only the `scheme://authority` part is rewritten and the
//! path and query are used byte for byte as received, because re-encoding them (as URL types do,
//! e.g. `'` → `%27`, `+` → `%20`) changes the signed string and rejects genuine requests.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

type HmacSha1 = Hmac<Sha1>;

/// The signature Twilio would send for a request to `url` carrying the form `params`
/// (decoded name/value pairs, repeated names allowed; duplicates of a pair count once).
pub fn compute_signature(url: &str, params: &[(String, String)], auth_token: &str) -> String {
    let mut grouped: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        grouped.entry(name.as_str()).or_default().insert(value.as_str());
    }

    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    for (name, values) in grouped {
        for value in values {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature` (the `X-Twilio-Signature` header) is Twilio's signature of this request.
///
/// `url` must be the public URL Twilio called: `PUBLIC_BASE_URL` (no trailing slash) followed by
/// the raw path and query exactly as received. It is checked both without a port and with one
/// (`:443` for https, `:80` otherwise, or the explicit port when `url` has one); either matching
/// is enough. Comparison is constant-time. An empty signature is never valid.
pub fn is_valid(url: &str, params: &[(String, String)], signature: &str, auth_token: &str) -> bool {
    if signature.is_empty() {
        return false;
    }
    let (without_port, with_port) = url_variants(url);
    let expected = signature.as_bytes();
    let a = compute_signature(&without_port, params, auth_token);
    let b = compute_signature(&with_port, params, auth_token);
    let matches = a.as_bytes().ct_eq(expected) | b.as_bytes().ct_eq(expected);
    matches.into()
}

/// The URL without and with a port. Userinfo (`user:pass@`) is dropped from both, as Twilio drops
/// it before signing. Anything that does not look like `scheme://authority…` is returned as is.
fn url_variants(url: &str) -> (String, String) {
    let Some(parts) = split_url(url) else {
        return (url.to_string(), url.to_string());
    };
    let scheme = parts.scheme.to_ascii_lowercase();
    let without = format!("{scheme}://{}{}", parts.host, parts.rest);
    let port = match parts.port {
        Some(port) => port,
        None if scheme == "https" => "443",
        None => "80",
    };
    let with = format!("{scheme}://{}:{port}{}", parts.host, parts.rest);
    (without, with)
}

struct UrlParts<'a> {
    scheme: &'a str,
    /// Host as written (an IPv6 literal keeps its brackets), without userinfo or port.
    host: &'a str,
    /// The explicit port, when one is written (an empty `host:` counts as none).
    port: Option<&'a str>,
    /// Path, query and fragment, verbatim.
    rest: &'a str,
}

fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, after) = url.split_once("://")?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(authority_end);
    let host_port = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };

    // The port separator is the last ':' outside an IPv6 literal's brackets.
    let port_colon = if host_port.starts_with('[') {
        let close = host_port.find(']')?;
        match &host_port[close + 1..] {
            "" => None,
            tail if tail.starts_with(':') => Some(close + 1),
            _ => return None,
        }
    } else {
        host_port.rfind(':')
    };
    let (host, port) = match port_colon {
        None => (host_port, None),
        Some(colon) => {
            let port = &host_port[colon + 1..];
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (&host_port[..colon], (!port.is_empty()).then_some(port))
        }
    };
    if host.is_empty() {
        return None;
    }
    Some(UrlParts { scheme, host, port, rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Twilio's own test vector (twilio-python tests/unit/test_request_validator.py).
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    fn params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn twilio_test_vector() {
        assert_eq!(compute_signature(URL, &params(), TOKEN), EXPECTED);
        assert!(is_valid(URL, &params(), EXPECTED, TOKEN));
    }

    #[test]
    fn param_order_does_not_matter() {
        let mut reversed = params();
        reversed.reverse();
        assert_eq!(compute_signature(URL, &reversed, TOKEN), EXPECTED);
    }

    #[test]
    fn multi_valued_params_are_deduplicated_and_sorted() {
        // twilio-python's duplicate_expected vector.
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        let expected = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
        assert_eq!(compute_signature(URL, &params, TOKEN), expected);
        assert!(is_valid(URL, &params, expected, TOKEN));
        // Dropping one of the values changes the signature.
        let fewer = pairs(&[("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678")]);
        assert!(!is_valid(URL, &fewer, expected, TOKEN));
    }

    #[test]
    fn tampered_value_is_invalid() {
        let mut tampered = params();
        tampered[2].1 = "9999".to_string();
        assert!(!is_valid(URL, &tampered, EXPECTED, TOKEN));
    }

    #[test]
    fn extra_param_is_invalid() {
        let mut extra = params();
        extra.push(("Body".to_string(), "hi".to_string()));
        assert!(!is_valid(URL, &extra, EXPECTED, TOKEN));
    }

    #[test]
    fn missing_param_is_invalid() {
        let mut fewer = params();
        fewer.pop();
        assert!(!is_valid(URL, &fewer, EXPECTED, TOKEN));
    }

    #[test]
    fn wrong_url_is_invalid() {
        for url in [
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            "https://mycompany.com/other.php?foo=1&bar=2",
            "https://mycompany.com/myapp.php",
            "https://evil.com/myapp.php?foo=1&bar=2",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            "https://mycompany.com/myapp.php?foo=1&bar=2/",
        ] {
            assert!(!is_valid(url, &params(), EXPECTED, TOKEN), "{url}");
        }
    }

    #[test]
    fn wrong_token_is_invalid() {
        assert!(!is_valid(URL, &params(), EXPECTED, "54321"));
        assert!(!is_valid(URL, &params(), EXPECTED, ""));
    }

    #[test]
    fn empty_or_malformed_signature_is_invalid() {
        assert!(!is_valid(URL, &params(), "", TOKEN));
        assert!(!is_valid(URL, &params(), " ", TOKEN));
        assert!(!is_valid(URL, &params(), &EXPECTED[..EXPECTED.len() - 1], TOKEN));
        assert!(!is_valid(URL, &params(), &format!("{EXPECTED}="), TOKEN));
        assert!(!is_valid(URL, &params(), &EXPECTED.to_lowercase(), TOKEN));
    }

    #[test]
    fn https_signed_with_port_443_validates_against_url_without_port() {
        // twilio-python: hash of the URL with :443.
        let signed_with_port = "kvajT1Ptam85bY51eRf/AJRuM3w=";
        assert_eq!(
            compute_signature("https://mycompany.com:443/myapp.php?foo=1&bar=2", &params(), TOKEN),
            signed_with_port
        );
        assert!(is_valid(URL, &params(), signed_with_port, TOKEN));
    }

    #[test]
    fn https_signed_without_port_validates_against_url_with_port_443() {
        let known = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert!(is_valid(known, &params(), EXPECTED, TOKEN));
        assert!(is_valid(known, &params(), "kvajT1Ptam85bY51eRf/AJRuM3w=", TOKEN));
    }

    #[test]
    fn http_adds_and_removes_port_80() {
        let without = "http://mycompany.com/myapp.php?foo=1&bar=2";
        let with = "http://mycompany.com:80/myapp.php?foo=1&bar=2";
        // twilio-python: hash of the http URL with :80.
        let signed_with_port = "0ZXoZLH/DfblKGATFgpif+LLRf4=";
        assert_eq!(compute_signature(with, &params(), TOKEN), signed_with_port);
        let signed_without_port = compute_signature(without, &params(), TOKEN);
        for known in [without, with] {
            assert!(is_valid(known, &params(), signed_with_port, TOKEN), "{known}");
            assert!(is_valid(known, &params(), &signed_without_port, TOKEN), "{known}");
        }
        // http is never checked with :443.
        let with_443 =
            compute_signature("http://mycompany.com:443/myapp.php?foo=1&bar=2", &params(), TOKEN);
        assert!(!is_valid(without, &params(), &with_443, TOKEN));
    }

    #[test]
    fn non_default_port_is_kept_or_dropped_never_replaced() {
        // twilio-python: https URL with :1234 validates the signature of the URL without port…
        let https_1234 = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert!(is_valid(https_1234, &params(), EXPECTED, TOKEN));
        // …and an http URL with :1234 validates the signature of the URL with that port.
        let http_1234 = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert!(is_valid(http_1234, &params(), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", TOKEN));
        let signed_1234 = compute_signature(https_1234, &params(), TOKEN);
        assert!(is_valid(https_1234, &params(), &signed_1234, TOKEN));
        // The explicit port is not swapped for the default one…
        let signed_443 =
            compute_signature("https://mycompany.com:443/myapp.php?foo=1&bar=2", &params(), TOKEN);
        assert!(!is_valid(https_1234, &params(), &signed_443, TOKEN));
        // …and a URL known without port does not accept a signature made with another port.
        assert!(!is_valid(URL, &params(), &signed_1234, TOKEN));
    }

    #[test]
    fn query_is_used_verbatim() {
        let url = "https://mnemo.example.com/webhook?note=it%27s+fine&path=a%20b&q='x'";
        let params = pairs(&[("Body", "it's"), ("From", "whatsapp:+14155550123")]);
        let signature = compute_signature(url, &params, TOKEN);
        assert!(is_valid(url, &params, &signature, TOKEN));
        // The same URL after any re-encoding is a different signed string.
        for reencoded in [
            "https://mnemo.example.com/webhook?note=it's+fine&path=a%20b&q='x'",
            "https://mnemo.example.com/webhook?note=it%27s%20fine&path=a%20b&q='x'",
            "https://mnemo.example.com/webhook?note=it%27s+fine&path=a+b&q='x'",
            "https://mnemo.example.com/webhook?note=it%27s+fine&path=a%20b&q=%27x%27",
        ] {
            assert!(!is_valid(reencoded, &params, &signature, TOKEN), "{reencoded}");
        }
        // Port handling leaves the query untouched.
        let (without, with) = url_variants(url);
        assert_eq!(without, url);
        assert_eq!(with, "https://mnemo.example.com:443/webhook?note=it%27s+fine&path=a%20b&q='x'");
    }

    #[test]
    fn values_are_concatenated_decoded_and_unicode_safe() {
        let params = pairs(&[("Body", "café ☕ & more"), ("ProfileName", "Zoë")]);
        let signature = compute_signature(URL, &params, TOKEN);
        assert!(is_valid(URL, &params, &signature, TOKEN));
        let other = pairs(&[("Body", "cafe ☕ & more"), ("ProfileName", "Zoë")]);
        assert!(!is_valid(URL, &other, &signature, TOKEN));
    }

    #[test]
    fn url_variants_handle_authority_forms() {
        let cases = [
            ("https://a.example/x?y=1", "https://a.example/x?y=1", "https://a.example:443/x?y=1"),
            ("https://a.example", "https://a.example", "https://a.example:443"),
            ("https://a.example?x=1", "https://a.example?x=1", "https://a.example:443?x=1"),
            ("http://a.example:8080/x", "http://a.example/x", "http://a.example:8080/x"),
            (
                "https://user:pass@a.example:8443/x",
                "https://a.example/x",
                "https://a.example:8443/x",
            ),
            ("HTTPS://a.example/x", "https://a.example/x", "https://a.example:443/x"),
            ("https://a.example:/x", "https://a.example/x", "https://a.example:443/x"),
            ("http://[::1]:8000/webhook", "http://[::1]/webhook", "http://[::1]:8000/webhook"),
            ("http://[::1]/webhook", "http://[::1]/webhook", "http://[::1]:80/webhook"),
            // Not a URL we can split: used unchanged for both.
            ("/webhook?x=1", "/webhook?x=1", "/webhook?x=1"),
            ("https://a.example:port/x", "https://a.example:port/x", "https://a.example:port/x"),
        ];
        for (input, without, with) in cases {
            assert_eq!(url_variants(input), (without.to_string(), with.to_string()), "{input}");
        }
    }

    #[test]
    fn no_params_signs_url_only() {
        let signature = compute_signature(URL, &[], TOKEN);
        assert!(is_valid(URL, &[], &signature, TOKEN));
        assert_ne!(signature, EXPECTED);
    }
}
