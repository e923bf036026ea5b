//! The three ways a connector can fail, each mapped to a different outcome by the hub:
//! [`VerifyError`] → 401/403 and nothing stored, [`ParseError`] → the stored event is
//! dead-lettered, [`ConnectorError`] → an outbound job is retried or given up.

use std::time::Duration;

/// Why an inbound webhook was refused before anything was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The signature header the platform always sends is absent.
    #[error("missing signature header {0}")]
    MissingSignature(&'static str),
    /// The signature header is present but not in the platform's format.
    #[error("malformed signature header {0}")]
    MalformedSignature(&'static str),
    /// The signature does not match the body and the configured secret.
    #[error("signature does not match")]
    BadSignature,
    /// The signed timestamp is too far from now (replay protection).
    #[error("timestamp outside the accepted window")]
    StaleTimestamp,
    /// The body names another app than the one configured (Zalo `app_id`).
    #[error("the event is for another app id than the configured one")]
    WrongApp,
    /// A subscription handshake carried the wrong verify token or mode.
    #[error("verification token does not match")]
    BadVerifyToken,
    /// tongdai has no secret configured for this platform, so it cannot verify anything.
    #[error("no app secret configured for {0}")]
    NotConfigured(&'static str),
}

impl VerifyError {
    /// Stable snake_case code for JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingSignature(_) => "missing_signature",
            VerifyError::MalformedSignature(_) => "malformed_signature",
            VerifyError::BadSignature => "bad_signature",
            VerifyError::StaleTimestamp => "stale_timestamp",
            VerifyError::WrongApp => "wrong_app",
            VerifyError::BadVerifyToken => "bad_verify_token",
            VerifyError::NotConfigured(_) => "not_configured",
        }
    }
}

/// A verified payload that could not be turned into normalized events. The raw event is kept
/// as `failed` with this message and can be replayed after a fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError(format!("invalid JSON: {e}"))
    }
}

/// An outbound call (send, poll, OAuth) that did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    /// The platform refused our credentials (expired or revoked token): reconnect the account.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The platform throttled us; try again later.
    #[error("rate limited: {message}")]
    RateLimited {
        /// How long the platform asked us to wait, when it said.
        retry_after: Option<Duration>,
        /// The platform's message.
        message: String,
    },
    /// The platform answered with an error.
    #[error("platform error (HTTP {status}{}): {message}", code.map(|c| format!(", code {c}")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// Platform-specific error code, when there is one.
        code: Option<i64>,
        /// Platform-specific sub code, when there is one.
        subcode: Option<i64>,
        /// The platform's message.
        message: String,
        /// Whether the platform says a retry may succeed.
        transient: bool,
    },
    /// The platform refused the call for lack of permission (Meta code 10, 200–299): a scope
    /// or Page task is missing, or the policy forbids it. Not retryable; the account may need
    /// to be reconnected with more permissions.
    #[error("forbidden (code {code}{}): {message}", subcode.map(|s| format!(", subcode {s}")).unwrap_or_default())]
    Forbidden {
        /// Platform-specific error code.
        code: i64,
        /// Platform-specific sub code, when there is one.
        subcode: Option<i64>,
        /// The platform's message.
        message: String,
    },
    /// The messaging window for this recipient is closed (Meta `10/2018278`, `551`): the
    /// message may not be sent now, however often it is retried.
    #[error("outside the messaging window: {0}")]
    OutsideWindow(String),
    /// The request never got a usable answer (connect error, timeout, bad JSON back).
    #[error("transport error: {0}")]
    Transport(String),
    /// The request could not be made from what we have (missing token, bad settings).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The platform does not support this operation.
    #[error("not supported by this platform")]
    Unsupported,
}

impl ConnectorError {
    /// Stable snake_case name of the error class, for logs and JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectorError::Unauthorized(_) => "unauthorized",
            ConnectorError::RateLimited { .. } => "rate_limited",
            ConnectorError::Api { .. } => "platform_error",
            ConnectorError::Forbidden { .. } => "forbidden",
            ConnectorError::OutsideWindow(_) => "outside_window",
            ConnectorError::Transport(_) => "transport",
            ConnectorError::Invalid(_) => "invalid_request",
            ConnectorError::Unsupported => "unsupported",
        }
    }

    /// Whether the account must be reconnected (its token is no longer accepted).
    pub fn needs_reconnect(&self) -> bool {
        matches!(self, ConnectorError::Unauthorized(_))
    }

    /// How long to wait before retrying, when the platform said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether a later attempt of the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConnectorError::RateLimited { .. } | ConnectorError::Transport(_) => true,
            ConnectorError::Api {
                transient, status, ..
            } => *transient || *status >= 500,
            ConnectorError::Unauthorized(_)
            | ConnectorError::Forbidden { .. }
            | ConnectorError::OutsideWindow(_)
            | ConnectorError::Invalid(_)
            | ConnectorError::Unsupported => false,
        }
    }
}

impl From<reqwest::Error> for ConnectorError {
    fn from(e: reqwest::Error) -> Self {
        // Strip the URL: it can carry an access token in its query string.
        ConnectorError::Transport(e.without_url().to_string())
    }
}
