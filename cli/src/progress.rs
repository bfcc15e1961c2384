//! Progress on long work: a bar or spinner on stderr when stderr is a terminal and `--quiet`
//! is not given; nothing at all otherwise (pipes, files, CI logs stay clean).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress indicator that may be disabled (then every call does nothing).
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

/// Whether progress should be drawn.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

impl Progress {
    /// A disabled indicator.
    pub fn none() -> Self {
        Progress { bar: None }
    }

    /// A bar counting to `len` `unit`s.
    pub fn bar(quiet: bool, len: u64, msg: &str, unit: &str) -> Self {
        if !enabled(quiet) {
            return Self::none();
        }
        let bar = ProgressBar::new(len);
        let template = format!("{{msg}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{eta}} left)");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(msg.to_string());
        Progress { bar: Some(bar) }
    }

    /// A spinner for work of unknown length; the message can be updated.
    pub fn spinner(quiet: bool, msg: &str) -> Self {
        if !enabled(quiet) {
            return Self::none();
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(msg.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar: Some(bar) }
    }

    /// Advances by `n`.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// Replaces the message.
    pub fn message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg);
        }
    }

    /// Whether anything is drawn (callers skip building messages otherwise).
    pub fn is_active(&self) -> bool {
        self.bar.is_some()
    }

    /// Removes the indicator from the terminal.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
