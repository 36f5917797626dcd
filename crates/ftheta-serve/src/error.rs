//! Errors: the server's own (binding), and the API's, which become `{"error": "…"}` responses.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::paths::PathError;

/// What can stop `ftheta serve` from serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is taken or not allowed.
    #[error("cannot listen on {addr}: {source}{}", hint(source))]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// `--runs` names something that is not a folder.
    #[error("--runs {0}: is not a folder")]
    RunsNotFolder(String),
    /// The built-in deliveries table (for the playground) could not be read.
    #[error("the playground's data: {0}")]
    Data(String),
    /// The async runtime could not start.
    #[error("cannot start the server's threads: {0}")]
    Runtime(std::io::Error),
}

fn hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (the port is in use; choose another with --port, or --port 0 for any free one)"
        }
        std::io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges; choose another with --port)",
        _ => "",
    }
}

/// An API error: a status and a message for the person who sent the request.
#[derive(Debug)]
pub struct ApiError {
    /// 400, 403, 404, 503.
    pub status: StatusCode,
    /// Names the parameter or path and what is wrong with it.
    pub message: String,
}

impl ApiError {
    /// 400: a parameter out of its range or of the wrong form.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    /// 404: no such run or file.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::NOT_FOUND, message: message.into() }
    }
}

impl From<PathError> for ApiError {
    fn from(e: PathError) -> Self {
        let status = match e {
            PathError::Escapes(_) => StatusCode::FORBIDDEN,
            PathError::Undecodable(_) => StatusCode::BAD_REQUEST,
            PathError::NotFound(_) => StatusCode::NOT_FOUND,
        };
        ApiError { status, message: e.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}
