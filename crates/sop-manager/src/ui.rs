//! The web page: one server-rendered shell (the login form, or the app with
//! the session's CSRF token) and a small hand-written script and style sheet,
//! all compiled into the binary.

use crate::{cookie, Manager, COOKIE};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse};
use std::sync::Arc;

const SHELL: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/app.css");

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `/`: the app for a logged-in session (or an anonymous server), else the
/// login form.
pub(crate) async fn index(State(m): State<Arc<Manager>>, headers: HeaderMap) -> impl IntoResponse {
    let (user, role, csrf) = if !m.auth.has_users() {
        ("anonymous".to_string(), "admin", m.anon_csrf.clone())
    } else {
        match cookie(&headers, COOKIE).map(|c| m.auth.check_cookie(c)) {
            Some(Ok((who, csrf))) => (who.name, who.role.as_str(), csrf),
            _ => (String::new(), "", String::new()),
        }
    };
    let page = SHELL
        .replace("{{user}}", &escape(&user))
        .replace("{{role}}", role)
        .replace("{{csrf}}", &escape(&csrf))
        .replace("{{auth}}", if m.auth.has_users() { "1" } else { "0" });
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
            ),
        ],
        Html(page),
    )
}

pub(crate) async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

pub(crate) async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}
