//! Webhooks: the events the platform tells operators' endpoints about, which endpoint wants
//! which, and how long a failing delivery waits before its next attempt. Pure rules; the
//! outbox, the sending and the signing live outside this crate (ADR 0016).

use crate::job::{Job, JobStatus, PauseReason};
use crate::{DomainError, Millis};

/// A delivery is retried until this long after its event, then given up (FAILED).
pub const RETRY_WINDOW: Millis = 24 * 3_600_000;
/// The pause after the first failed attempt.
pub const FIRST_RETRY: Millis = 10_000;
/// The longest pause between two attempts.
pub const LONGEST_RETRY: Millis = 3_600_000;
/// Longest endpoint URL.
pub const MAX_URL_LEN: usize = 2_048;
/// Shortest and longest signing secret.
pub const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=256;

/// What happened, as an endpoint reads it in the envelope's `type`. Persisted and sent as
/// [`EventType::as_str`]; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    BatchCreated,
    BatchStarted,
    BatchPaused,
    BatchResumed,
    BatchCompleted,
    BatchCancelled,
    /// The failure gate paused the batch (sent besides `batch.paused`).
    GateFired,
    /// A rollout started one of its waves: the wave's batch exists and pushes.
    WaveStarted,
    /// One device's task changed status (with the failure cause when it failed).
    TaskStatusChanged,
    /// A verification batch judged its package.
    PackageVerified,
    /// A delta package is ready to be served.
    DeltaReady,
    /// Sent by an operator to one endpoint to try it.
    Test,
}

impl EventType {
    /// Every type an endpoint may subscribe to.
    pub const ALL: [EventType; 12] = [
        EventType::BatchCreated,
        EventType::BatchStarted,
        EventType::BatchPaused,
        EventType::BatchResumed,
        EventType::BatchCompleted,
        EventType::BatchCancelled,
        EventType::GateFired,
        EventType::WaveStarted,
        EventType::TaskStatusChanged,
        EventType::PackageVerified,
        EventType::DeltaReady,
        EventType::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::BatchCreated => "batch.created",
            EventType::BatchStarted => "batch.started",
            EventType::BatchPaused => "batch.paused",
            EventType::BatchResumed => "batch.resumed",
            EventType::BatchCompleted => "batch.completed",
            EventType::BatchCancelled => "batch.cancelled",
            EventType::GateFired => "batch.gate_fired",
            EventType::WaveStarted => "batch.wave_started",
            EventType::TaskStatusChanged => "task.status_changed",
            EventType::PackageVerified => "package.verified",
            EventType::DeltaReady => "delta.ready",
            EventType::Test => "webhook.test",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Which events an endpoint receives: every one (`*`) or those listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    All,
    Only(Vec<EventType>),
}

impl EventFilter {
    /// Reads the filter an operator gave: `["*"]` (or nothing) for all, else known type
    /// names. Errors name the field `events` and the rule.
    pub fn parse(values: &[String]) -> Result<EventFilter, DomainError> {
        if values.is_empty() || values.iter().any(|v| v == "*") {
            if values.len() > 1 {
                return Err(DomainError::invalid(
                    "events",
                    "\"*\" means every event and cannot be combined with other types",
                ));
            }
            return Ok(EventFilter::All);
        }
        let mut types = Vec::with_capacity(values.len());
        for value in values {
            let Some(t) = EventType::parse(value) else {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                return Err(DomainError::invalid(
                    "events",
                    format!("{value:?} is not an event type; use \"*\" or one of {known:?}"),
                ));
            };
            if !types.contains(&t) {
                types.push(t);
            }
        }
        Ok(EventFilter::Only(types))
    }

    /// Whether an endpoint with this filter receives events of type `t`.
    pub fn matches(&self, t: EventType) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Only(types) => types.contains(&t),
        }
    }

    /// The stored form: `*`, or the types between commas (`,batch.created,task.status_changed,`)
    /// so that the store can match one type with `LIKE '%,type,%'`.
    pub fn to_stored(&self) -> String {
        match self {
            EventFilter::All => "*".to_owned(),
            EventFilter::Only(types) => {
                let mut out = String::from(",");
                for t in types {
                    out.push_str(t.as_str());
                    out.push(',');
                }
                out
            }
        }
    }

    /// Reads the stored form back; unknown names (from a newer version) are skipped.
    pub fn from_stored(s: &str) -> EventFilter {
        if s == "*" {
            return EventFilter::All;
        }
        EventFilter::Only(s.split(',').filter_map(EventType::parse).collect())
    }

    /// The filter as the operator lists it.
    pub fn names(&self) -> Vec<String> {
        match self {
            EventFilter::All => vec!["*".to_owned()],
            EventFilter::Only(types) => types.iter().map(|t| t.as_str().to_owned()).collect(),
        }
    }
}

/// Checks an endpoint URL: `http://` or `https://`, a host, no white space, not too long.
pub fn validate_url(url: &str) -> Result<(), DomainError> {
    let rule = |why: &str| Err(DomainError::invalid("url", why.to_owned()));
    if url.len() > MAX_URL_LEN {
        return rule("must be at most 2048 characters");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return rule("must not contain white space");
    }
    let rest = match url.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        _ => return rule("must start with http:// or https://"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return rule("must name a host");
    }
    Ok(())
}

/// Checks a signing secret's length.
pub fn validate_secret(secret: &str) -> Result<(), DomainError> {
    if !SECRET_LEN.contains(&secret.len()) {
        return Err(DomainError::invalid(
            "secret",
            format!(
                "must be {}-{} characters",
                SECRET_LEN.start(),
                SECRET_LEN.end()
            ),
        ));
    }
    Ok(())
}

/// When a delivery that failed its `attempts`-th attempt at `now` is tried again, or
/// `None` when that would be past its event's retry window (`expires_at`): give up.
///
/// The pause doubles from [`FIRST_RETRY`] up to [`LONGEST_RETRY`]; `jitter` (0.0..1.0,
/// chosen by the caller) adds up to a quarter of it, so endpoints that fail together are
/// not retried together.
pub fn next_attempt(attempts: u32, now: Millis, expires_at: Millis, jitter: f64) -> Option<Millis> {
    let pause = retry_pause(attempts);
    let spread = (pause as f64 * 0.25 * jitter.clamp(0.0, 1.0)) as Millis;
    let at = now.saturating_add(pause).saturating_add(spread);
    (at < expires_at).then_some(at)
}

/// The pause after `attempts` failed attempts, before jitter.
pub fn retry_pause(attempts: u32) -> Millis {
    let doublings = attempts.saturating_sub(1).min(20);
    FIRST_RETRY
        .saturating_mul(1 << doublings)
        .min(LONGEST_RETRY)
}

/// The batch events a change of a batch's row means: its status, and whether it paused
/// or resumed (a failure gate's pause also says the gate fired).
pub fn batch_events(before: &Job, after: &Job) -> Vec<EventType> {
    let mut out = Vec::new();
    if before.status != after.status {
        match after.status {
            JobStatus::InProgress if before.status == JobStatus::Planned => {
                out.push(EventType::BatchStarted)
            }
            JobStatus::Completed => out.push(EventType::BatchCompleted),
            JobStatus::Canceled => out.push(EventType::BatchCancelled),
            _ => {}
        }
    }
    let (was, is) = (before.control.pause.as_ref(), after.control.pause.as_ref());
    match (was, is) {
        (None, Some(pause)) => {
            out.push(EventType::BatchPaused);
            if pause.reason == PauseReason::FailureGate {
                out.push(EventType::GateFired);
            }
        }
        (Some(_), None) if !after.status.is_terminal() => out.push(EventType::BatchResumed),
        _ => {}
    }
    out
}

/// `ms` as an RFC 3339 UTC time with milliseconds (`2026-12-07T15:52:03.000Z`), the
/// envelope's `time`.
pub fn rfc3339(ms: Millis) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1_000 % 60,
        rem % 1_000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests;
