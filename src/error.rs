//! `AppError`: the one error type of the HTTP layer and the services, rendered as JSON
//! `{code, message}` with the matching status. Internal details are logged, never sent.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Result alias for services and handlers.
pub type AppResult<T> = Result<T, AppError>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or a value is invalid.
    #[error("{message}")]
    BadRequest {
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// No valid session, API key or signature.
    #[error("{message}")]
    Unauthorized {
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// Authenticated, but the role does not allow it (or the CSRF token is missing).
    #[error("{message}")]
    Forbidden {
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// Not found in the caller's workspace.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is already taken.
    #[error("{0}")]
    Conflict(String),
    /// Well-formed, but a rule forbids it now (a closed reply window, a second private reply).
    #[error("{message}")]
    Refused {
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// A 4xx whose body carries structured details next to `{code, message}` (the problems
    /// that block confirming an order, the blacklist verdict).
    #[error("{message}")]
    Detailed {
        /// HTTP status (4xx).
        status: StatusCode,
        /// Machine-readable code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
        /// Rendered as `details`.
        details: serde_json::Value,
    },
    /// The platform refused or failed the call made on the caller's behalf.
    #[error("{message}")]
    Platform {
        /// Machine-readable code.
        code: &'static str,
        /// The platform's answer, without secrets.
        message: String,
    },
    /// Too many attempts.
    #[error("too many attempts, try again later")]
    RateLimited {
        /// When to try again.
        retry_after: Duration,
    },
    /// We could not persist the request; the sender should retry.
    #[error("could not persist, retry later")]
    Unavailable,
    /// Anything unexpected: logged, answered with a generic 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }
    /// 401 with a code and message.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Unauthorized {
            code,
            message: message.into(),
        }
    }
    /// 422 with a code and message.
    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Refused {
            code,
            message: message.into(),
        }
    }
    /// 403 with a code and message.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Forbidden {
            code,
            message: message.into(),
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        AppError::Internal(anyhow::Error::new(e))
    }
}

/// The JSON error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorOut {
    /// Stable snake_case code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl AppError {
    /// The HTTP status and the stable snake_case code of this error.
    pub fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            AppError::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            AppError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::Refused { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            AppError::Detailed { status, code, .. } => (*status, code),
            AppError::Platform { code, .. } => (StatusCode::BAD_GATEWAY, code),
            AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AppError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "could_not_persist"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The stable snake_case code of this error.
    pub fn code(&self) -> &'static str {
        self.status_code().1
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Detailed {
            status,
            code,
            message,
            details,
        } = self
        {
            let body = serde_json::json!({ "code": code, "message": message, "details": details });
            return (status, Json(body)).into_response();
        }
        if let AppError::Internal(e) = &self {
            tracing::error!(error = ?e, "internal error");
        }
        let (status, code) = self.status_code();
        let message = match &self {
            AppError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let mut res = (
            status,
            Json(ErrorOut {
                code: code.to_owned(),
                message,
            }),
        )
            .into_response();
        if let AppError::RateLimited { retry_after } = self {
            let secs = retry_after.as_secs().max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}
