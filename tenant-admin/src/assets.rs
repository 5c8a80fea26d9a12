//! The portal's static files, compiled in and served at content-hashed paths
//! (`/assets/htmx-<hash>.js`): a new version is a new address, so browsers may keep each one for
//! a year without asking again.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const HTMX: &[u8] = include_bytes!("../assets/htmx.min.js");
const CSS: &[u8] = include_bytes!("../assets/portal.css");

struct Asset {
    path: String,
    body: &'static [u8],
    content_type: &'static str,
}

fn hashed(stem: &str, ext: &str, body: &'static [u8], content_type: &'static str) -> Asset {
    let hash = hex::encode(&Sha256::digest(body)[..8]);
    Asset {
        path: format!("/assets/{stem}-{hash}.{ext}"),
        body,
        content_type,
    }
}

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        hashed("htmx", "js", HTMX, "text/javascript; charset=utf-8"),
        hashed("portal", "css", CSS, "text/css; charset=utf-8"),
    ]
});

/// Where the pages load htmx from.
pub fn htmx_path() -> &'static str {
    &ASSETS[0].path
}

/// Where the pages load the stylesheet from.
pub fn css_path() -> &'static str {
    &ASSETS[1].path
}

/// `GET /assets/{file}`: only the current hashed names exist.
pub async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/assets/{file}");
    match ASSETS.iter().find(|a| a.path == wanted) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
