//! Progress bars on a terminal, drawn from the engine's progress events.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sync_engine::{Progress, ProgressEvent, Stage};

/// Draws one bar per stage on stderr (hidden when stderr is not a terminal or `--quiet`).
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<Stage, ProgressBar>>,
}

impl Bars {
    /// Bars on stderr; `hidden` hides them all.
    pub fn new(hidden: bool) -> Self {
        let target = if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Prints a line above the bars (or plainly when hidden).
    pub fn println(&self, line: &str) {
        if self.multi.is_hidden() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{line}");
            }
        } else {
            let _ = self.multi.println(line);
        }
    }

    fn bar(&self, stage: Stage, total: Option<u64>) -> ProgressBar {
        let mut bars = self
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        bars.entry(stage)
            .or_insert_with(|| {
                let bar = match total {
                    Some(n) => ProgressBar::new(n).with_style(counted_style()),
                    None => ProgressBar::no_length().with_style(spinner_style()),
                };
                let bar = self.multi.add(bar);
                bar.set_message(stage.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }
}

fn counted_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg:<24} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg:<24} {pos} ({per_sec})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Progress for Bars {
    fn on_event(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Started { stage, total } => {
                // A new run of a stage gets a fresh bar; the last one stays on screen, finished.
                self.bars
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&stage);
                self.bar(stage, total);
            }
            ProgressEvent::Total { stage, total } => {
                let bar = self.bar(stage, Some(total));
                bar.set_style(counted_style());
                bar.set_length(total);
            }
            ProgressEvent::Advanced { stage, by } => self.bar(stage, None).inc(by),
            ProgressEvent::Finished { stage } => {
                let bar = self.bar(stage, None);
                bar.finish_with_message(format!("{stage}: done"));
            }
        }
    }
}
