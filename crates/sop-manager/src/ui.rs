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
    let mut renew = None;
    let (user, role, csrf) = if !m.auth.has_users() {
        ("anonymous".to_string(), "admin", m.anon_csrf.clone())
    } else {
        let c = cookie(&headers, COOKIE).map(str::to_string);
        let m2 = m.clone();
        let who = match c.clone() {
            Some(c) => crate::blocking(move || m2.auth.check_cookie(&c)).await.ok(),
            None => None,
        };
        match who {
            Some((who, csrf)) => {
                renew = c;
                (who.name, who.role.as_str(), csrf)
            }
            None => (String::new(), "", String::new()),
        }
    };
    let page = SHELL
        .replace("{{user}}", &escape(&user))
        .replace("{{role}}", role)
        .replace("{{csrf}}", &escape(&csrf))
        .replace("{{auth}}", if m.auth.has_users() { "1" } else { "0" });
    // A page load renews the session cookie, as every API answer does.
    let set_cookie = renew
        .map(|c| crate::api::cookie_header(&m, &c, m.auth.cookie_ttl().as_secs()))
        .into_iter()
        .map(|v| (header::SET_COOKIE, v));
    (
        axum::response::AppendHeaders(set_cookie.collect::<Vec<_>>()),
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
