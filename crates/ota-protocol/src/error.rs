//! The one error type of this crate.

/// Everything that can be wrong with device input or with a value to encode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A payload is not the JSON its topic requires.
    #[error("invalid {kind} payload: {reason}")]
    InvalidPayload {
        /// Which message was being parsed (`inform`, `progress`, …).
        kind: &'static str,
        /// What serde or the validation said.
        reason: String,
    },
    /// A product key or device name cannot stand as one topic level.
    #[error("invalid product key or device name {0:?}")]
    InvalidDeviceId(String),
    /// The MQTT username is not `deviceName&productKey`.
    #[error("invalid MQTT username {0:?}: expected deviceName&productKey")]
    InvalidUsername(String),
    /// The MQTT client id's extension list is malformed.
    #[error("invalid MQTT client id: {0}")]
    InvalidClientId(String),
    /// The client id names a `signmethod` we do not implement.
    #[error("unsupported signmethod {0:?}")]
    UnsupportedSignMethod(String),
    /// A binary block reply is malformed.
    #[error("invalid block reply: {0}")]
    InvalidBlockReply(String),
    /// A block reply's CRC trailer does not match its block.
    #[error("block reply CRC mismatch: trailer {trailer:#06x}, computed {computed:#06x}")]
    CrcMismatch {
        /// The CRC carried by the reply.
        trailer: u16,
        /// The CRC of the block bytes.
        computed: u16,
    },
    /// A value is too large for its wire field (e.g. a block header over 65535 bytes).
    #[error("value too large for the wire: {0}")]
    TooLarge(&'static str),
}

impl ProtocolError {
    /// A stable machine-readable code, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::InvalidPayload { .. } => "InvalidPayload",
            ProtocolError::InvalidDeviceId(_) => "InvalidDeviceId",
            ProtocolError::InvalidUsername(_) => "InvalidUsername",
            ProtocolError::InvalidClientId(_) => "InvalidClientId",
            ProtocolError::UnsupportedSignMethod(_) => "UnsupportedSignMethod",
            ProtocolError::InvalidBlockReply(_) => "InvalidBlockReply",
            ProtocolError::CrcMismatch { .. } => "CrcMismatch",
            ProtocolError::TooLarge(_) => "TooLarge",
        }
    }

    pub(crate) fn payload(kind: &'static str, reason: impl ToString) -> Self {
        ProtocolError::InvalidPayload {
            kind,
            reason: reason.to_string(),
        }
    }
}
