//! The app's pod-facing routes as an axum router, for Rust apps and for a notebook or the
//! quickstart with no web app of their own: dataset downloads, metrics and artifacts, at the
//! default [`super::Routes`]. Each handler is a few lines over a [`Trainpod`] method.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use futures_util::StreamExt;
use serde_json::json;
use std::io::Read;

use super::Trainpod;
use crate::error::Error;

/// `GET /trainpod/datasets/{id}`, `POST /trainpod/jobs/{job}/metrics`,
/// `POST /trainpod/jobs/{job}/artifacts` and `PUT /trainpod/jobs/{job}/artifacts/files/{*path}`.
pub fn router(tp: Arc<Trainpod>) -> Router {
    let jobs = Router::new()
        .route("/jobs/{job}/metrics", post(metrics))
        .route("/jobs/{job}/artifacts", post(manifest))
        .route(
            "/jobs/{job}/artifacts/files/{*path}",
            put(upload).get(checkpoint),
        )
        .with_state(tp.clone());
    // The dataset route is the staging's, with the SDK's check of the token's job in between.
    let jobs = match tp.staging() {
        Some(_) => {
            let authorize: crate::staging::server::Authorizer = Arc::new(move |f| {
                let tp = tp.clone();
                Box::pin(async move { tp.authorize_download(&f.request()).await })
            });
            jobs.merge(crate::staging::server::router_with_authorizer(
                authorize, None,
            ))
        }
        None => jobs,
    };
    Router::new().nest("/trainpod", jobs)
}

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// A refusal: its status and stable code, never the reason's detail (that is for the app's logs).
fn refuse(err: &Error) -> Response {
    let status =
        StatusCode::from_u16(err.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, json!({ "error": err.code() }).to_string()).into_response();
    if let Some(secs) = err.retry_after_secs() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, secs.into());
    }
    response
}

async fn metrics(
    State(tp): State<Arc<Trainpod>>,
    Path(job): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = tp
        .ingest_metrics(&job, authorization(&headers).as_deref(), &body)
        .await;
    answer(outcome.map(|out| (out.status, out.body)))
}

async fn manifest(
    State(tp): State<Arc<Trainpod>>,
    Path(job): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = tp
        .artifact_manifest(&job, authorization(&headers).as_deref(), &body)
        .await;
    answer(outcome.map(|a| (a.status, a.body)))
}

async fn upload(
    State(tp): State<Arc<Trainpod>>,
    Path((job, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut upload = match tp
        .begin_artifact(&job, authorization(&headers).as_deref(), &path)
        .await
    {
        Ok(upload) => upload,
        Err(err) => return refuse(&err),
    };
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        if let Err(err) = upload.write(chunk.to_vec()).await {
            return refuse(&err);
        }
    }
    match upload.finish().await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(err) => refuse(&err),
    }
}

/// A checkpoint file of an earlier attempt, streamed to the pod that resumes from it.
async fn checkpoint(
    State(tp): State<Arc<Trainpod>>,
    Path((job, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let found = match tp
        .checkpoint_file(&job, authorization(&headers).as_deref(), &path)
        .await
    {
        Ok(found) => found,
        Err(err) => return refuse(&err),
    };
    let Ok(file) = std::fs::File::open(&found.path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((buf, file))
        })
        .await;
        match read {
            Ok(Ok((buf, _))) if buf.is_empty() => None,
            Ok(Ok((buf, file))) => Some((Ok(Bytes::from(buf)), Some(file))),
            Ok(Err(e)) => Some((Err(e), None)),
            Err(e) => Some((Err(std::io::Error::other(e)), None)),
        }
    });
    (
        [(header::CONTENT_LENGTH, found.size.to_string())],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// A JSON answer, or the refusal.
fn answer(outcome: crate::Result<(u16, String)>) -> Response {
    match outcome {
        Ok((status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(err) => refuse(&err),
    }
}
