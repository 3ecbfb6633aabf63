//! Media upload (legacy oapi) and downloads of files users sent.

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::model::{Event, Upload};
use super::state::{FakeConfig, SharedRef, now_ms, parse_body, str_field};

const UPLOAD_PATH: &str = "/media/upload";
const DOWNLOAD_PATH: &str = "/v1.0/robot/messageFiles/download";

/// Extensions and size cap per media type (current DingTalk docs).
fn rules(cfg: &FakeConfig, media_type: &str) -> Option<(&'static [&'static str], usize)> {
    Some(match media_type {
        "image" => (
            &["jpg", "jpeg", "png", "gif", "bmp"][..],
            cfg.max_image_bytes,
        ),
        "voice" => (&["amr", "mp3", "wav"][..], cfg.max_voice_bytes),
        "video" => (&["mp4"][..], cfg.max_video_bytes),
        "file" => (
            &[
                "doc", "docx", "xls", "xlsx", "ppt", "pptx", "pdf", "zip", "rar",
            ][..],
            cfg.max_file_bytes,
        ),
        _ => return None,
    })
}

/// Sniffed format and, for PNGs, the size after a full decode (so corrupt PNGs are caught).
fn inspect_image(bytes: &[u8]) -> Result<(String, Option<(u32, u32)>), String> {
    let format = image::guess_format(bytes).map_err(|_| "not an image".to_string())?;
    let name = match format {
        image::ImageFormat::Png => "png",
        image::ImageFormat::Jpeg => "jpeg",
        image::ImageFormat::Gif => "gif",
        image::ImageFormat::Bmp => "bmp",
        other => return Err(format!("unsupported image format {other:?}")),
    };
    if format != image::ImageFormat::Png {
        return Ok((name.into(), None));
    }
    let img = image::load_from_memory_with_format(bytes, format)
        .map_err(|e| format!("corrupt PNG: {e}"))?;
    Ok((name.into(), Some((img.width(), img.height()))))
}

pub(crate) async fn upload(
    State(shared): State<SharedRef>,
    Query(q): Query<HashMap<String, String>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    if let Some(resp) = shared.gate(UPLOAD_PATH, true) {
        return resp;
    }
    if let Some(resp) =
        shared.check_token_query(UPLOAD_PATH, q.get("access_token").map(String::as_str))
    {
        return resp;
    }
    let Ok(mut multipart) = multipart else {
        return shared.oapi_error(UPLOAD_PATH, 41005, "缺少多媒体文件数据");
    };
    let mut media_type = q.get("type").cloned();
    let mut media: Option<(String, Bytes)> = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        match field.name() {
            Some("type") => media_type = field.text().await.ok(),
            Some("media") => {
                let name = field.file_name().unwrap_or_default().to_string();
                match field.bytes().await {
                    Ok(b) => media = Some((name, b)),
                    Err(_) => return shared.oapi_error(UPLOAD_PATH, 41005, "缺少多媒体文件数据"),
                }
            }
            _ => {}
        }
    }
    let cfg = shared.config();
    let media_type = media_type.unwrap_or_default();
    let Some((exts, max)) = rules(&cfg, &media_type) else {
        return shared.oapi_error(UPLOAD_PATH, 40004, "不合法的媒体文件类型");
    };
    let Some((file_name, bytes)) = media else {
        return shared.oapi_error(UPLOAD_PATH, 41005, "缺少多媒体文件数据");
    };
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    if !ext.is_some_and(|e| exts.contains(&e.as_str())) {
        return shared.oapi_error(UPLOAD_PATH, 40005, "不合法的文件类型");
    }
    if bytes.is_empty() || bytes.len() > max {
        return shared.oapi_error(UPLOAD_PATH, 40006, "不合法的文件大小");
    }
    let (image_format, png_size) = if media_type == "image" {
        match inspect_image(&bytes) {
            Ok((f, size)) => (Some(f), size),
            Err(why) => {
                return shared.oapi_error(UPLOAD_PATH, 40005, &format!("不合法的文件类型: {why}"));
            }
        }
    } else {
        (None, None)
    };
    let media_id = format!("@lA{}", uuid::Uuid::new_v4().simple());
    let mut st = shared.lock();
    st.media.insert(media_id.clone(), media_type.clone());
    let record = Upload {
        media_id: media_id.clone(),
        media_type: media_type.clone(),
        file_name,
        size: bytes.len(),
        image_format,
        png_size,
        bytes,
    };
    shared.record_locked(&mut st, Event::Upload(record));
    Json(json!({
        "errcode": 0,
        "errmsg": "ok",
        "type": media_type,
        "media_id": media_id,
        "created_at": now_ms(),
    }))
    .into_response()
}

pub(crate) async fn message_file_download(
    State(shared): State<SharedRef>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(resp) = shared.guard(DOWNLOAD_PATH, &headers) {
        return resp;
    }
    let Some(map) = parse_body(&body) else {
        return shared.api_error(
            DOWNLOAD_PATH,
            400,
            "MissingBody",
            "body is mandatory for this action.",
        );
    };
    let cfg = shared.config();
    if str_field(&map, "robotCode") != Some(cfg.robot_code.as_str()) {
        return shared.api_error(
            DOWNLOAD_PATH,
            400,
            "invalidParameter.robotCode",
            "robotCode 不存在或无权限",
        );
    }
    let code = str_field(&map, "downloadCode")
        .unwrap_or_default()
        .to_string();
    let mut st = shared.lock();
    if !st.files.contains_key(&code) {
        drop(st);
        return shared.api_error(
            DOWNLOAD_PATH,
            400,
            "invalidParameter.downloadCode",
            "downloadCode 不合法",
        );
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    if let Some(f) = st.files.get_mut(&code) {
        f.url_expires = Some(Instant::now() + cfg.download_url_ttl);
    }
    st.download_urls.insert(token.clone(), code.clone());
    shared.record_locked(
        &mut st,
        Event::FileDownloadUrl {
            download_code: code,
        },
    );
    let url = format!("{}/_fake/files/{token}", shared.base_url);
    Json(json!({"downloadUrl": url})).into_response()
}

/// The temporary download URL: no auth, expires like a signed OSS link.
pub(crate) async fn fetch_file(
    State(shared): State<SharedRef>,
    Path(token): Path<String>,
) -> Response {
    let mut st = shared.lock();
    let code = st.download_urls.get(&token).cloned();
    let file = code
        .as_ref()
        .and_then(|c| st.files.get(c))
        .filter(|f| f.url_expires.is_some_and(|e| e > Instant::now()))
        .map(|f| f.bytes.clone());
    let (Some(code), Some(bytes)) = (code, file) else {
        return (
            StatusCode::FORBIDDEN,
            "<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>",
        )
            .into_response();
    };
    shared.record_locked(
        &mut st,
        Event::FileFetched {
            download_code: code,
        },
    );
    ([("content-type", "application/octet-stream")], bytes).into_response()
}
