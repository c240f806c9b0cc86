//! The progress display: one bar on stderr naming the engine and phase under way. It is hidden
//! when stderr is not a terminal, so logs and pipes stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::Cell;
use std::io::IsTerminal;
use std::time::Duration;

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new() -> Self {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:32} [{bar:30}] {human_pos}/{human_len} {elapsed_precise}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        Self { bar }
    }

    /// Starts a phase of `len` steps.
    pub fn phase(&self, engine: &str, phase: &str, len: u64) -> Ticker {
        self.bar.set_message(format!("{engine}: {phase}"));
        self.bar.set_length(len);
        self.bar.set_position(0);
        self.bar.reset_elapsed();
        Ticker {
            bar: self.bar.clone(),
            shown: Cell::new(0),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

/// Advances the bar from inside a phase's loop; cheap enough to call on every operation, as it
/// only touches the bar once every 4096 steps.
#[derive(Clone)]
pub struct Ticker {
    bar: ProgressBar,
    shown: Cell<u64>,
}

const STRIDE: u64 = 4096;

impl Ticker {
    /// Call with the index of the step just done (0-based, per thread).
    #[inline]
    pub fn step(&self, i: u64) {
        if i % STRIDE == STRIDE - 1 {
            self.bar.inc(STRIDE);
        }
    }

    /// Call with the number of steps done so far, for loops that advance by more than one.
    #[inline]
    pub fn at(&self, pos: u64) {
        if pos >= self.shown.get() + STRIDE {
            self.shown.set(pos);
            self.bar.set_position(pos);
        }
    }

    /// Sets the position outright: for phases of few, slow steps (the swarm's transactions),
    /// where every step is worth showing.
    pub fn set(&self, pos: u64) {
        self.shown.set(pos);
        self.bar.set_position(pos);
    }

    pub(crate) fn done(&self) {
        if let Some(len) = self.bar.length() {
            self.bar.set_position(len);
        }
    }
}
