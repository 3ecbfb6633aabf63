//! Bot API parameters from a query string, JSON, form-urlencoded or multipart body, and
//! the Bot API error shape.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{FromRequest, Multipart, Query, Request};
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// An error answer: `{"ok":false,"error_code":status,"description":…}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub description: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: u16, description: &str) -> Self {
        Self {
            status,
            description: description.to_owned(),
            retry_after: None,
        }
    }

    /// 400 "Bad Request: {what}".
    pub(crate) fn bad(what: &str) -> Self {
        Self::new(400, &format!("Bad Request: {what}"))
    }

    pub(crate) fn too_many(retry_after: u64) -> Self {
        Self {
            status: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    pub(crate) fn body(&self) -> Value {
        let mut v =
            json!({"ok": false, "error_code": self.status, "description": self.description});
        if let Some(n) = self.retry_after {
            v["parameters"] = json!({ "retry_after": n });
        }
        v
    }
}

/// An uploaded multipart part.
#[derive(Clone, Debug)]
pub(crate) struct Upload {
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// A file parameter: uploaded bytes, or a `file_id`/URL string.
pub(crate) enum InputFile {
    Upload(Upload),
    Id(String),
}

#[derive(Default)]
pub(crate) struct Params {
    fields: Map<String, Value>,
    files: HashMap<String, Upload>,
}

impl Params {
    pub(crate) async fn from_request(req: Request) -> Result<Self, ApiError> {
        let mut params = Self::default();
        if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(req.uri()) {
            for (k, v) in pairs {
                params.fields.insert(k, Value::String(v));
            }
        }
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, &())
                .await
                .map_err(|e| ApiError::bad(&format!("can't parse multipart: {e}")))?;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| ApiError::bad(&e.to_string()))?
            {
                let name = field.name().unwrap_or_default().to_owned();
                let file_name = field.file_name().map(str::to_owned);
                let content_type = field.content_type().map(str::to_owned);
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::bad(&e.to_string()))?;
                if file_name.is_some() {
                    params.files.insert(
                        name,
                        Upload {
                            file_name,
                            content_type,
                            bytes,
                        },
                    );
                } else {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    params.fields.insert(name, Value::String(text));
                }
            }
            return Ok(params);
        }
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let Form(pairs) = Form::<Vec<(String, String)>>::from_request(req, &())
                .await
                .map_err(|e| ApiError::bad(&e.body_text()))?;
            for (k, v) in pairs {
                params.fields.insert(k, Value::String(v));
            }
            return Ok(params);
        }
        let body = axum::body::to_bytes(req.into_body(), usize::MAX)
            .await
            .map_err(|e| ApiError::bad(&e.to_string()))?;
        if content_type.starts_with("application/json") && !body.is_empty() {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(map)) => params.fields.extend(map),
                _ => return Err(ApiError::bad("can't parse JSON object")),
            }
        }
        Ok(params)
    }

    /// A string parameter; numbers are given as their decimal text.
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        match self.fields.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.fields.get(key), Some(Value::Bool(true)))
            || self.str(key).is_some_and(|s| s == "true" || s == "1")
    }

    /// An object or array parameter; multipart and form bodies carry them as JSON text.
    pub(crate) fn json(&self, key: &str) -> Result<Option<Value>, ApiError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::bad(&format!("can't parse {key} JSON object"))),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    /// Resolves `attach://<name>` (teloxide's way) or a part named like the parameter.
    pub(crate) fn file(&self, key: &str) -> Option<InputFile> {
        if let Some(upload) = self.files.get(key) {
            return Some(InputFile::Upload(upload.clone()));
        }
        self.resolve(&self.str(key)?)
    }

    pub(crate) fn resolve(&self, value: &str) -> Option<InputFile> {
        match value.strip_prefix("attach://") {
            Some(name) => self.files.get(name).cloned().map(InputFile::Upload),
            None => Some(InputFile::Id(value.to_owned())),
        }
    }

    /// The chat targeted by this call, for the history.
    pub(crate) fn chat_id(&self) -> Option<i64> {
        self.int("chat_id")
    }

    /// Parameters for the history; uploads summarised, not copied.
    pub(crate) fn summary(&self) -> Value {
        let mut map = self.fields.clone();
        for (name, f) in &self.files {
            map.insert(
                name.clone(),
                json!({"file_name": f.file_name, "size": f.bytes.len()}),
            );
        }
        Value::Object(map)
    }
}
