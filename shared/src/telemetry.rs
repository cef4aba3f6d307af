//! Logging set-up shared by both binaries: `LOG_FORMAT=json` for production, `RUST_LOG` filters.
//!
//! `pretty` logs are coloured only for a person watching: when standard output (where they go)
//! is a terminal and `NO_COLOR` (<https://no-color.org>) is unset or empty. Redirected to a
//! file, a pipe or a log collector they are plain text.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Whether `pretty` logs use ANSI colours.
pub fn ansi(stdout_is_terminal: bool, no_color: Option<&str>) -> bool {
    stdout_is_terminal && no_color.is_none_or(str::is_empty)
}

pub fn init(format: &LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,sea_orm=warn,apalis=warn,apalis_core=warn,hyper=warn")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => {
            builder.with_ansi(false).json().flatten_event(true).with_current_span(true).try_init()
        }
        LogFormat::Pretty => {
            let no_color = std::env::var("NO_COLOR").ok();
            builder.with_ansi(ansi(std::io::stdout().is_terminal(), no_color.as_deref())).try_init()
        }
    };
}

#[cfg(test)]
mod tests {
    use super::ansi;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(ansi(true, None));
        assert!(ansi(true, Some("")));
        assert!(!ansi(true, Some("1")));
        assert!(!ansi(false, None));
        assert!(!ansi(false, Some("")));
    }
}
