//! The one progress display of the long admin commands (`import
//! users|pop3|maildir|mbox`, `export`): an indicatif bar on standard
//! error, drawn only when standard error is a terminal and never with
//! `--json`.

use std::io::IsTerminal;

/// A bar for `len` items (`None`: a count without a total), labelled
/// `what`; hidden unless standard error is a terminal.
pub(crate) fn progress_bar(len: Option<u64>, json: bool, what: &str) -> indicatif::ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        len,
        indicatif::ProgressDrawTarget::stderr_with_hz(4),
    );
    let template = if len.is_some() {
        "{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})"
    } else {
        "{msg} {pos} ({per_sec})"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}
