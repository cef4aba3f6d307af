//! A WhatsApp user's phone number, parsed once.
//!
//! Strict E.164: a `+`, a non-zero first digit and 7–15 digits in all, nothing else (no spaces,
//! dashes or surrounding whitespace); `whatsapp:+…` (Twilio's form) is accepted and dropped. An
//! unencoded `+` in a query string decodes to a space, so `?user=+14155550123` arrives as
//! `" 14155550123"` and is refused here. Every route that names a user goes through
//! [`UserRef::parse`], so a malformed number is the same error everywhere (422) and a well-formed
//! unknown one the same "not found" (404).

use std::fmt;

use uuid::Uuid;

/// An E.164 number, `+14155550123`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// Why a text is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an E.164 number such as +14155550123, got {0:?}")]
pub struct BadPhone(pub String);

impl Phone {
    /// `+14155550123` or `whatsapp:+14155550123`.
    pub fn parse(input: &str) -> Result<Self, BadPhone> {
        let number = input.strip_prefix("whatsapp:").unwrap_or(input);
        let valid = number.strip_prefix('+').is_some_and(|digits| {
            (7..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
        });
        if valid { Ok(Phone(number.to_string())) } else { Err(BadPhone(input.to_string())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a request names a user: their id or their number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(Uuid),
    Phone(Phone),
}

impl UserRef {
    /// A user id (UUID) or an E.164 number; surrounding whitespace is ignored.
    pub fn parse(given: &str) -> Result<Self, BadPhone> {
        let given = given.trim();
        match Uuid::parse_str(given) {
            Ok(id) => Ok(UserRef::Id(id)),
            Err(_) => Phone::parse(given).map(UserRef::Phone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(Phone::parse("+14155550123").unwrap().as_str(), "+14155550123");
        assert_eq!(Phone::parse("whatsapp:+14155550123").unwrap().as_str(), "+14155550123");
        assert_eq!(Phone::parse("+1234567").unwrap().as_str(), "+1234567");
        assert_eq!(Phone::parse("+123456789012345").unwrap().as_str(), "+123456789012345");
        for bad in [
            "",
            "+",
            "14155550123",
            " 14155550123",
            "+1415555012x",
            "+0123456789",
            "+123456",
            "+1234567890123456",
            "+1 415 555 0123",
            "whatsapp:14155550123",
            "+14155550123 ",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_refs() {
        let id = Uuid::new_v4();
        assert_eq!(UserRef::parse(&format!(" {id} ")).unwrap(), UserRef::Id(id));
        assert_eq!(
            UserRef::parse("whatsapp:+14155550123").unwrap(),
            UserRef::Phone(Phone::parse("+14155550123").unwrap())
        );
        assert!(UserRef::parse("bob").is_err());
    }
}
