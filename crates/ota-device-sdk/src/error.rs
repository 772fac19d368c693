//! The one error type of this crate.

use ota_protocol::ProtocolError;

/// Everything an SDK call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The broker could not be reached or dropped the connection.
    #[error("MQTT connection: {0}")]
    Connection(Box<rumqttc::ConnectionError>),
    /// The broker refused the CONNECT (bad credentials, banned client id, …).
    #[error("MQTT connection refused: {0}")]
    Refused(String),
    /// A subscription was rejected by the broker.
    #[error("subscription to {0} refused")]
    SubscribeRefused(String),
    /// The device's request queue is closed (the device was closed).
    #[error("MQTT client: {0}")]
    Client(Box<rumqttc::ClientError>),
    /// No answer within the configured time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The device was closed while a call was waiting.
    #[error("device closed")]
    Closed,
    /// A message from the platform did not parse.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The push cannot be acted on (no URL, unknown download protocol, …).
    #[error("unusable push: {0}")]
    BadPush(String),
    /// The HTTP transfer failed.
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// The download server answered with an unexpected status.
    #[error("HTTP status {0}")]
    HttpStatus(u16),
    /// Writing (or re-reading, to resume) the destination failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The download was cut off and the retries were used up; `offset` bytes are held.
    #[error("download interrupted at byte {offset}: {reason}")]
    Interrupted {
        /// Bytes written so far; pass as `resume_from` to continue.
        offset: u64,
        /// The last failure.
        reason: String,
    },
    /// A block of an MQTT download failed three times.
    #[error("MQTT block at offset {offset} failed: {reason}")]
    Block {
        /// The block's offset.
        offset: u64,
        /// The last failure.
        reason: String,
    },
    /// The file's digest is not the one the push announced.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Announced digest (lower-case hex).
        expected: String,
        /// Computed digest (lower-case hex).
        actual: String,
    },
    /// The file is not the announced size.
    #[error("size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// Announced size.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// A line of a device credentials file is malformed.
    #[error("credentials line {line}: {reason}")]
    Credentials {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The package's signed manifest was refused (secure update).
    #[error("signature check failed: {0}")]
    Signature(#[from] ota_protocol::ManifestError),
    /// A progress hook aborted the download.
    #[error("aborted with step {step}: {desc}")]
    Aborted {
        /// The failure step to report.
        step: i32,
        /// Why.
        desc: String,
    },
}

impl From<rumqttc::ConnectionError> for SdkError {
    fn from(e: rumqttc::ConnectionError) -> Self {
        SdkError::Connection(Box::new(e))
    }
}

impl From<rumqttc::ClientError> for SdkError {
    fn from(e: rumqttc::ClientError) -> Self {
        SdkError::Client(Box::new(e))
    }
}

impl SdkError {
    /// A stable machine-readable code, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SdkError::Connection(_) => "Connection",
            SdkError::Refused(_) => "Refused",
            SdkError::SubscribeRefused(_) => "SubscribeRefused",
            SdkError::Client(_) => "Client",
            SdkError::Timeout(_) => "Timeout",
            SdkError::Closed => "Closed",
            SdkError::Protocol(_) => "Protocol",
            SdkError::BadPush(_) => "BadPush",
            SdkError::Http(_) => "Http",
            SdkError::HttpStatus(_) => "HttpStatus",
            SdkError::Io(_) => "Io",
            SdkError::Interrupted { .. } => "Interrupted",
            SdkError::Block { .. } => "Block",
            SdkError::DigestMismatch { .. } => "DigestMismatch",
            SdkError::SizeMismatch { .. } => "SizeMismatch",
            SdkError::Credentials { .. } => "Credentials",
            SdkError::Aborted { .. } => "Aborted",
            SdkError::Signature(_) => "Signature",
        }
    }

    /// The progress step a device reports for this failure during an update: -3 for a
    /// digest or size mismatch, the hook's step for an abort, -2 (download failed) otherwise.
    pub fn step(&self) -> i32 {
        match self {
            SdkError::DigestMismatch { .. }
            | SdkError::SizeMismatch { .. }
            | SdkError::Signature(_) => -3,
            SdkError::Aborted { step, .. } => *step,
            _ => -2,
        }
    }
}
