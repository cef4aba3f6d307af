//! The signed, expiring link `/export` replies with:
//! `{PUBLIC_BASE_URL}/export/{user_id}?exp={unix seconds}&sig={hex HMAC-SHA256}`.
//!
//! Signed by the media links' signer ([`crate::media::links::LinkSigner`], same key, same
//! `MEDIA_URL_TTL_SECS`) over `export:{user_id}`, which no media hash can equal, so a media
//! link never opens an archive and an archive link never names another user.

use uuid::Uuid;

use crate::config::Settings;
use crate::media::links::{LinkError, LinkSigner};

fn subject(user_id: Uuid) -> String {
    format!("export:{user_id}")
}

/// The link, valid for `MEDIA_URL_TTL_SECS` from `now` (unix seconds).
pub fn url(settings: &Settings, user_id: Uuid, now: i64) -> String {
    let exp = now + settings.media_url_ttl.as_secs() as i64;
    let sig = LinkSigner::from_settings(settings).sign(&subject(user_id), exp);
    format!(
        "{}/export/{user_id}?exp={exp}&sig={sig}",
        settings.public_base_url.trim_end_matches('/')
    )
}

/// Checks a link's signature and expiry.
pub fn verify(
    settings: &Settings,
    user_id: Uuid,
    exp: i64,
    sig: &str,
    now: i64,
) -> Result<(), LinkError> {
    LinkSigner::from_settings(settings).verify(&subject(user_id), exp, sig, now)
}
