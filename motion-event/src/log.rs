//! What both programs' logs agree on.

use std::io::IsTerminal;

/// Whether log lines on stderr get ANSI colour: only for a person at a terminal, so journald,
/// Docker and files get plain text, and never when `NO_COLOR` is set to anything non-empty
/// (<https://no-color.org>).
pub fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
