//! `Authorization: Bearer <token>` (RFC 6750), read one way for every route that takes it:
//! the REST API (`API_TOKEN`), `/metrics` (`METRICS_TOKEN`) and `/mcp` (a token from `/connect`).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The token of an `Authorization` value of the `Bearer` scheme (the scheme in any case,
/// spaces around the token trimmed); None for another scheme or no value.
pub fn token(header: Option<&str>) -> Option<&str> {
    let (scheme, rest) = header?.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Does `header` carry `Bearer <secret>`? See [`same`].
pub fn carries(header: Option<&str>, secret: &str) -> bool {
    token(header).is_some_and(|given| same(given, secret))
}

/// Is `given` the secret? Compared over SHA-256 digests with `subtle`, so it takes the same
/// time whatever is given (its length included).
pub fn same(given: &str, secret: &str) -> bool {
    Sha256::digest(given.as_bytes()).ct_eq(&Sha256::digest(secret.as_bytes())).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        assert!(carries(Some("Bearer s3cret"), "s3cret"));
        assert!(carries(Some("bearer  s3cret "), "s3cret"));
        assert!(!carries(Some("Bearer s3cre"), "s3cret"));
        assert!(!carries(Some("Bearer s3cret2"), "s3cret"));
        assert!(!carries(Some("Basic s3cret"), "s3cret"));
        assert!(!carries(Some("s3cret"), "s3cret"));
        assert!(!carries(Some(""), "s3cret"));
        assert!(!carries(None, "s3cret"));
        assert_eq!(token(Some("BEARER abc")), Some("abc"));
        assert_eq!(token(Some("Basic abc")), None);
    }
}
