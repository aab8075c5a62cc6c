//! The dashboard's files under `/admin/`, and the example's credentials. Shared by `main.rs`
//! and `tests/it/browser.rs` (which includes this file with `#[path]`).

use std::path::PathBuf;

use axum::extract::Path as UrlPath;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// The dashboard's username.
pub(crate) const USERNAME: &str = "admin";
/// The dashboard's password: an example's, known to everyone.
pub(crate) const PASSWORD: &str = "changeit";
/// The bcrypt hash of [`PASSWORD`], which is what the server keeps.
pub(crate) const PASSWORD_HASH: &str = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";

/// `router` with the files of `dist` (the npm package's `ui/dist` folder) under `/admin/`.
pub(crate) fn routes(router: Router, dist: PathBuf) -> Router {
    let index = dist.clone();
    router
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(move || file(index.clone(), String::new())))
        .route("/admin/{*path}", get(move |UrlPath(path): UrlPath<String>| file(dist.clone(), path)))
}

/// A file of the dashboard's folder (`index.html` for the folder itself).
async fn file(dist: PathBuf, path: String) -> Response {
    let path = if path.is_empty() { "index.html".to_owned() } else { path };
    // Plain names only: no way out of the folder.
    if path.split('/').any(|part| part.is_empty() || part.starts_with('.')) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let kind = match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "map" | "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(dist.join(&path)).await {
        Ok(body) => ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
