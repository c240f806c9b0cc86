//! `/api/openapi.json`: the API described as OpenAPI 3.
use axum::http::header;
use axum::response::IntoResponse;

const SPEC: &str = include_str!("../assets/openapi.json");

pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], SPEC)
}
