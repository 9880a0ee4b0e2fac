//! Request extractors whose every rejection is problem+json: the caller (bearer token),
//! JSON bodies (size limit, syntax, unknown fields, wrong types, named by JSON path) and
//! query strings.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use sync_store::Owner;

use crate::App;
use crate::problem::{Item, Problem};

/// Who is calling: the owner of the bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's owner.
    pub owner: Owner,
    /// An admin token (may mint tokens).
    pub admin: bool,
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Problem> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(Problem::unauthorized());
        };
        let Ok(value) = value.to_str() else {
            return Err(Problem::unauthorized());
        };
        let Some((scheme, token)) = value.split_once(' ') else {
            return Err(Problem::unauthorized());
        };
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(Problem::unauthorized());
        }
        let token = SecretString::from(token.trim().to_owned());
        match app.store.authenticate(&token).await {
            Ok(Some(info)) => Ok(Caller {
                owner: info.owner,
                admin: info.admin,
            }),
            Ok(None) => Err(Problem::unauthorized()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A JSON body: `application/json`, within the body limit, decoded strictly (the types
/// deny unknown fields); problems name the JSON path.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<App>> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Problem> {
        let RawJson(bytes) = RawJson::from_request(req, app).await?;
        decode(&bytes).map(Body)
    }
}

/// The bytes of a JSON body (content type checked, size limited), not decoded yet.
#[derive(Debug, Clone)]
pub struct RawJson(pub Bytes);

impl FromRequest<Arc<App>> for RawJson {
    type Rejection = Problem;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Problem> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim)
            .is_some_and(|v| {
                v.eq_ignore_ascii_case("application/json")
                    || (v.starts_with("application/") && v.ends_with("+json"))
            });
        let bytes = read_limited(req, app.config.body_limit).await?;
        if !json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send application/json",
            )
            .detail("the body must be JSON with `Content-Type: application/json`"));
        }
        Ok(RawJson(bytes))
    }
}

/// How much of an oversized body is read (and dropped) before the 413, so that a client
/// still sending gets the answer instead of a reset connection; beyond it the connection
/// is closed.
const DRAIN_FACTOR: usize = 8;

/// Reads the body, at most `limit` bytes (413 problem above it).
pub async fn read_limited(req: Request, limit: usize) -> Result<Bytes, Problem> {
    use futures::StreamExt as _;
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
        )
        .detail(format!(
            "the request body is over the limit of {limit} bytes"
        ))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit.saturating_mul(DRAIN_FACTOR)) {
        return Err(too_large());
    }
    let mut stream = req.into_body().into_data_stream();
    let mut buf = Vec::new();
    let mut seen = 0_usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| Problem::bad_request("the request body could not be read"))?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit.saturating_mul(DRAIN_FACTOR) {
            return Err(too_large());
        }
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(buf))
}

/// Decodes a JSON document strictly: syntax errors are 400; anything but an object, and
/// values of the wrong shape, 422 naming their path.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON")
            .detail(e.to_string())
    })?;
    if !value.is_object() {
        // serde would take an array for a struct whose fields are all optional.
        return Err(Problem::invalid(vec![Item::at(
            "body",
            "the body must be a JSON object",
        )]));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." { "body".to_owned() } else { path };
        Problem::invalid(vec![Item::at(
            key,
            strip_position(&e.into_inner().to_string()),
        )])
    })
}

/// serde_json's "... at line 1 column 30" is noise next to a JSON path.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A query string, decoded strictly (400 naming the problem).
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_query(query).map(Query)
    }
}

fn serde_urlencoded_query<T: DeserializeOwned>(query: &str) -> Result<T, Problem> {
    serde_urlencoded::from_str(query).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-query",
            "Malformed query string",
        )
        .detail(e.to_string())
    })
}
