//! The chat side of owning one's memories (DESIGN §12): `/export`, `/forget all` and the YES
//! that confirms it.

use std::time::Duration;

/// How long a `/forget all` waits for its YES.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(5 * 60);

/// A command about the user's memories as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnCommand {
    /// `/export`: a signed, expiring link to the archive.
    Export,
    /// `/forget all`: asks for YES, then deletes everything.
    ForgetAll,
    /// `/connect`: a token for an AI assistant (MCP).
    Connect,
    /// `/disconnect`: revokes every such token.
    Disconnect,
}

impl OwnCommand {
    /// `name` lowercased, `args` with single spaces.
    pub fn parse(name: &str, args: &str) -> Option<OwnCommand> {
        let args = args.trim().to_ascii_lowercase();
        match name {
            "export" | "takeout" | "download" if args.is_empty() => Some(OwnCommand::Export),
            "connect" | "mcp" => Some(OwnCommand::Connect),
            "disconnect" => Some(OwnCommand::Disconnect),
            "forget" | "delete" => match args.as_str() {
                "all" | "everything" | "all memories" | "all my memories" => {
                    Some(OwnCommand::ForgetAll)
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// True for the answer that confirms: "YES", "yes", "Yes!".
pub fn is_yes(text: &str) -> bool {
    text.trim().trim_end_matches(['.', '!']).trim().eq_ignore_ascii_case("yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_answers() {
        assert_eq!(OwnCommand::parse("export", ""), Some(OwnCommand::Export));
        assert_eq!(OwnCommand::parse("forget", "ALL"), Some(OwnCommand::ForgetAll));
        assert_eq!(OwnCommand::parse("forget", "everything"), Some(OwnCommand::ForgetAll));
        assert_eq!(OwnCommand::parse("forget", "last"), None);
        assert_eq!(OwnCommand::parse("export", "x"), None);
        assert!(is_yes("YES") && is_yes(" yes! ") && is_yes("Yes."));
        assert!(!is_yes("yes please") && !is_yes("no"));
    }
}
