//! `ota job watch JOB`: a batch followed live until it ends. On a terminal, a bar per task
//! state, the finishing rate and the failures by cause, redrawn in place; elsewhere (a pipe,
//! a CI log) one line whenever the counts change. When the batch ends, its JSON (with the
//! final counts) goes to stdout like every admin command's answer, so `| jq` works.

use crate::client::ApiClient;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// The task states shown, in the order a task moves through them.
const STATES: [&str; 7] = [
    "CONFIRM",
    "QUEUED",
    "NOTIFIED",
    "IN_PROGRESS",
    "SUCCEEDED",
    "FAILED",
    "CANCELED",
];

/// Follows the batch until its status is COMPLETED or CANCELED, or it is paused (by the
/// operator or its failure gate) with no device still updating, and returns its last view.
/// `settle`: also end once no task is unfinished and nothing changed for that long (a
/// dynamic batch keeps running for devices still to come).
pub async fn watch(
    api: &ApiClient,
    job_id: &str,
    every: Duration,
    settle: Option<Duration>,
) -> anyhow::Result<Value> {
    let mut view = View::new(std::io::stderr().is_terminal());
    let started = Instant::now();
    let mut last_change = Instant::now();
    let mut last_line = String::new();
    loop {
        let job = api.get(&format!("/jobs/{job_id}")).await?;
        let snapshot = Snapshot::of(&job);
        let line = snapshot.line(started.elapsed());
        if line != last_line {
            last_change = Instant::now();
            view.show(&snapshot, &line, started.elapsed());
            last_line = line;
        }
        let settled =
            settle.is_some_and(|s| snapshot.unfinished() == 0 && last_change.elapsed() >= s);
        if snapshot.ended() || settled {
            view.finish();
            return Ok(job);
        }
        tokio::time::sleep(every).await;
    }
}

/// What one look at the batch showed.
struct Snapshot {
    status: String,
    /// Why the batch is paused, when it is.
    paused: Option<String>,
    total: u64,
    by_status: Vec<(&'static str, u64)>,
    failures: Vec<(String, u64)>,
}

impl Snapshot {
    fn of(job: &Value) -> Snapshot {
        let counts = &job["counts"];
        let mut failures: Vec<(String, u64)> = counts["failures"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(cause, n)| (cause.clone(), n.as_u64().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        failures.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Snapshot {
            status: job["status"].as_str().unwrap_or("?").to_owned(),
            paused: (job["paused"] == true).then(|| {
                job["pause"]["reason"]
                    .as_str()
                    .unwrap_or("OPERATOR")
                    .to_owned()
            }),
            total: counts["total"].as_u64().unwrap_or(0),
            by_status: STATES
                .iter()
                .map(|s| (*s, counts["by_status"][*s].as_u64().unwrap_or(0)))
                .collect(),
            failures,
        }
    }

    fn count(&self, state: &str) -> u64 {
        self.by_status
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    }

    fn finished(&self) -> u64 {
        self.count("SUCCEEDED") + self.count("FAILED") + self.count("CANCELED")
    }

    fn unfinished(&self) -> u64 {
        self.total.saturating_sub(self.finished())
    }

    /// Over, or waiting for an operator: a paused batch pushes no new device, so once the
    /// devices already told have finished, nothing more happens until it is resumed.
    fn ended(&self) -> bool {
        let in_flight = self.count("NOTIFIED") + self.count("IN_PROGRESS");
        matches!(self.status.as_str(), "COMPLETED" | "CANCELED")
            || (self.paused.is_some() && in_flight == 0)
    }

    /// The batch's status, with the pause and its reason.
    fn state(&self) -> String {
        match &self.paused {
            Some(reason) => format!("{} PAUSED ({reason})", self.status),
            None => self.status.clone(),
        }
    }

    /// Finished tasks per second since the watch began.
    fn rate(&self, elapsed: Duration) -> f64 {
        self.finished() as f64 / elapsed.as_secs_f64().max(1.0)
    }

    fn failures_text(&self) -> String {
        if self.failures.is_empty() {
            return "none".to_owned();
        }
        self.failures
            .iter()
            .map(|(cause, n)| format!("{cause} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One line saying it all: what a log shows at each change.
    fn line(&self, elapsed: Duration) -> String {
        let states = self
            .by_status
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{} {}/{} finished ({states}) {:.1}/s; failures: {}",
            self.state(),
            self.finished(),
            self.total,
            self.rate(elapsed),
            self.failures_text()
        )
    }
}

/// Bars on a terminal, lines elsewhere.
enum View {
    Bars {
        _multi: MultiProgress,
        header: ProgressBar,
        states: Vec<ProgressBar>,
        failures: ProgressBar,
    },
    Lines,
}

impl View {
    fn new(terminal: bool) -> View {
        if !terminal {
            return View::Lines;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let text =
            ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos:>7}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let header = multi.add(ProgressBar::new(0).with_style(text.clone()));
        let states = STATES
            .iter()
            .map(|s| multi.add(ProgressBar::new(0).with_style(bar.clone()).with_prefix(*s)))
            .collect();
        let failures = multi.add(ProgressBar::new(0).with_style(text));
        View::Bars {
            _multi: multi,
            header,
            states,
            failures,
        }
    }

    fn show(&mut self, snapshot: &Snapshot, line: &str, elapsed: Duration) {
        match self {
            View::Lines => eprintln!("{line}"),
            View::Bars {
                header,
                states,
                failures,
                ..
            } => {
                header.set_message(format!(
                    "batch {}: {}/{} finished, {:.1} tasks/s",
                    snapshot.state(),
                    snapshot.finished(),
                    snapshot.total,
                    snapshot.rate(elapsed)
                ));
                for (bar, (_, n)) in states.iter().zip(&snapshot.by_status) {
                    bar.set_length(snapshot.total);
                    bar.set_position(*n);
                }
                failures.set_message(format!("failures by cause: {}", snapshot.failures_text()));
            }
        }
    }

    fn finish(&mut self) {
        if let View::Bars {
            header,
            states,
            failures,
            ..
        } = self
        {
            header.finish();
            for bar in states.iter() {
                bar.finish();
            }
            failures.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(status: &str, by_status: Value, failures: Value) -> Value {
        json!({"status": status, "counts": {"total": 10, "by_status": by_status, "failures": failures}})
    }

    #[test]
    fn the_line_names_every_state_present_and_failures_by_cause() {
        let s = Snapshot::of(&job(
            "IN_PROGRESS",
            json!({"QUEUED": 2, "IN_PROGRESS": 3, "SUCCEEDED": 4, "FAILED": 1}),
            json!({"DOWNLOAD_FAILED": 1, "VERIFY_FAILED": 0}),
        ));
        assert_eq!(s.finished(), 5);
        assert_eq!(s.unfinished(), 5);
        assert!(!s.ended());
        assert_eq!(
            s.line(Duration::from_secs(5)),
            "IN_PROGRESS 5/10 finished (QUEUED 2, IN_PROGRESS 3, SUCCEEDED 4, FAILED 1) 1.0/s; \
             failures: DOWNLOAD_FAILED 1"
        );
    }

    #[test]
    fn a_batch_ends_when_completed_canceled_or_paused_with_nothing_in_flight() {
        let gate = json!({"reason": "FAILURE_GATE"});
        let quiet = json!({"QUEUED": 4, "FAILED": 6});
        let busy = json!({"QUEUED": 4, "IN_PROGRESS": 1, "FAILED": 5});
        for (status, paused, counts, ended) in [
            ("PLANNED", false, &quiet, false),
            ("IN_PROGRESS", false, &quiet, false),
            ("IN_PROGRESS", true, &busy, false),
            ("IN_PROGRESS", true, &quiet, true),
            ("COMPLETED", false, &quiet, true),
            ("CANCELED", false, &quiet, true),
        ] {
            let mut j = job(status, counts.clone(), json!({}));
            j["paused"] = json!(paused);
            j["pause"] = if paused { gate.clone() } else { Value::Null };
            let s = Snapshot::of(&j);
            assert_eq!(s.ended(), ended, "{status} paused {paused} {counts}");
            assert_eq!(
                s.state().contains("PAUSED (FAILURE_GATE)"),
                paused,
                "{status}"
            );
        }
    }

    #[test]
    fn failures_are_ordered_by_count_then_cause() {
        let s = Snapshot::of(&job(
            "IN_PROGRESS",
            json!({"FAILED": 6}),
            json!({"B": 2, "A": 2, "C": 5}),
        ));
        assert_eq!(s.failures_text(), "C 5, A 2, B 2");
    }
}
