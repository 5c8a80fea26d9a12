//! The org's archive as a download, for its admins: the same file `coinsence org export`
//! writes, so a community can leave with its data without asking an operator.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use coinsence_api::Error;
use tokio::io::AsyncReadExt;

use super::Bare;
use crate::Portal;
use crate::error::PortalError;
use crate::session::{Admin, Posted};

/// Read from the archive and sent a piece at a time: an org's archive can be large.
const CHUNK: usize = 64 * 1024;

/// `POST /orgs/{org}/export`: a POST (with its form token), not a link, since the archive holds
/// the org's history key and costs a full read of the org.
pub async fn download(
    State(portal): State<Portal>,
    Admin(who): Admin,
    Posted(Bare {}): Posted<Bare>,
) -> Result<Response, PortalError> {
    let fail = |e: Error| PortalError::new(e, who.lang);
    let io = |e: std::io::Error| fail(Error::Internal(anyhow::anyhow!("the archive: {e}")));
    // The export writes a file (its manifest, with every part's checksum, comes first, so it
    // is known only at the end); it is read back from an unlinked file, which goes with the
    // last handle even if the download is cut off.
    let dir = tempfile::tempdir().map_err(io)?;
    let path = dir.path().join("org.jsonl");
    portal
        .core
        .export_own_org(&who.member, &path)
        .await
        .map_err(fail)?;
    let file = tokio::fs::File::open(&path).await.map_err(io)?;
    let length = file.metadata().await.map_err(io)?.len();
    drop(dir);
    let body = Body::from_stream(futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            // Once: the stream ends after telling.
            Err(e) => Some((Err(e), None)),
        }
    }));
    let name = format!(
        "coinsence-{}-{}.jsonl",
        who.member.tenant.slug.as_str(),
        chrono::Utc::now().format("%Y-%m-%d")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/jsonl".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CONTENT_LENGTH, length.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}
