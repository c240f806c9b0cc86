//! The one error type of the manager, and how it becomes an HTTP answer:
//! `{"error": kind, "message": …}` with the status that fits.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error of the manager: what went wrong (`kind`, a fixed word scripts can
/// match on), the HTTP status it answers with, and a message for people.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A fixed word: `bad_request`, `bad_json`, `bad_key`, `bad_cursor`,
    /// `bad_name`, `unauthorized`, `forbidden`, `csrf`, `not_found`,
    /// `conflict`, `exists`, `precondition_failed`, `too_large`,
    /// `rate_limited`, `unavailable`, `internal`.
    pub kind: &'static str,
    /// What happened, for people.
    pub message: String,
}

/// The result of the manager's functions.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error of this status and kind.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }
    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 400 `bad_json`.
    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_json", message)
    }
    /// 400 `bad_key`: a key that does not fit the store's key spec.
    pub fn bad_key(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_key", message)
    }
    /// 400 `bad_cursor`: a continuation token this server did not make.
    pub fn bad_cursor(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_cursor", message)
    }
    /// 400 `bad_name`: a database or store name with path tricks in it.
    pub fn bad_name(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_name", message)
    }
    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    /// 412 `precondition_failed`: the item changed since the version the caller saw.
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            message,
        )
    }
    /// 413 `too_large`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }
    /// 500 `internal`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
    /// Whether running the transaction again may succeed (an engine conflict).
    pub fn is_retry(&self) -> bool {
        self.status == StatusCode::CONFLICT && self.kind == "conflict"
    }
}

impl From<sop::Error> for ApiError {
    fn from(e: sop::Error) -> Self {
        use sop::ErrorKind as K;
        let message = e.to_string();
        match e.kind() {
            K::Retry => ApiError::conflict(message),
            K::NotFound => ApiError::not_found(message),
            K::AlreadyExists => ApiError::new(StatusCode::CONFLICT, "exists", message),
            K::InvalidInput => match e {
                sop::Error::Codec(_) | sop::Error::KeyTooLong { .. } => ApiError::bad_key(message),
                sop::Error::TooLarge { .. } => ApiError::too_large(message),
                sop::Error::ReadOnlyOpen(_) => ApiError::forbidden(message),
                _ => ApiError::bad_request(message),
            },
            K::Unavailable | K::InUse | K::Fenced | K::Poisoned => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            _ => ApiError::internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(kind = self.kind, "{}", self.message);
        }
        (
            self.status,
            axum::Json(json!({"error": self.kind, "message": self.message})),
        )
            .into_response()
    }
}
