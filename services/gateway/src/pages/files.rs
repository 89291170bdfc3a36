//! Files attached to reviews, visits, meetings, audits, occurrences and actions as evidence: the list and upload form on the
//! record's page, the upload, removal, and serving a file. The service that owns the record
//! decides who may attach, remove and read (the Evidence API); these pages only ask, and a
//! file the viewer may not read is "not found" like any other page.

use axum::extract::{MatchedPath, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use waymark_domain::evidence::MediaType;
use waymark_proto::evidence::v1 as ev;

use crate::directory::Names;
use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, refusal, see};

/// The kinds of record that take files: (path segment, the owner's record kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Review,
    Visit,
    Meeting,
    Audit,
    Occurrence,
    Action,
}

impl Kind {
    /// By the route that matched (`/reviews/…`, `/actions/…`, …).
    fn of(route: &MatchedPath) -> Result<Self, PageError> {
        match route.as_str().split('/').nth(1) {
            Some("reviews") => Ok(Self::Review),
            Some("visits") => Ok(Self::Visit),
            Some("meetings") => Ok(Self::Meeting),
            Some("audits") => Ok(Self::Audit),
            Some("occurrences") => Ok(Self::Occurrence),
            Some("actions") => Ok(Self::Action),
            _ => Err(PageError::not_found()),
        }
    }

    const fn path(self) -> &'static str {
        match self {
            Self::Review => "reviews",
            Self::Visit => "visits",
            Self::Meeting => "meetings",
            Self::Audit => "audits",
            Self::Occurrence => "occurrences",
            Self::Action => "actions",
        }
    }

    /// The record kind the owning service knows it by.
    pub const fn record_kind(self) -> &'static str {
        match self {
            Self::Review => "review",
            Self::Visit => "visit",
            Self::Meeting => "meeting",
            Self::Audit => "audit",
            Self::Occurrence => "occurrence",
            Self::Action => "action",
        }
    }
}

/// One file in the list.
pub struct FileRow {
    pub href: String,
    pub name: String,
    /// "photo, 1.2 MB, added by Ms Khan".
    pub about: String,
    /// Where its remover posts, when the viewer attached it and may still change the record.
    pub remove: Option<String>,
}

/// The files section of a record's page.
pub struct Files {
    pub rows: Vec<FileRow>,
    /// Where the upload form posts; `None` when the viewer may not attach.
    pub upload: Option<String>,
    /// The size limit, in words.
    pub limit: String,
    /// What the file chooser offers.
    pub accept: String,
}

fn size(bytes: i64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let bytes = bytes as f64;
    if bytes >= 1_000_000.0 {
        format!("{:.1} MB", bytes / 1_000_000.0)
    } else {
        format!("{} KB", (bytes / 1000.0).ceil())
    }
}

impl Files {
    /// The files of record `id`; `may_attach` as the viewer's permissions say (the service
    /// decides again).
    pub fn new(
        state: &AppState,
        viewer: &Viewer,
        kind: Kind,
        id: &str,
        attachments: &[ev::Attachment],
        people: &Names,
        may_attach: bool,
    ) -> Self {
        let base = format!("/{}/{id}/files", kind.path());
        let mine = viewer.staff.to_string();
        Self {
            rows: attachments
                .iter()
                .map(|file| FileRow {
                    href: format!("{base}/{}", file.attachment_id),
                    name: file.file_name.clone(),
                    about: format!(
                        "{}, {}, added by {}",
                        MediaType::from_mime(&file.media_type).map_or("file", MediaType::label),
                        size(file.size_bytes),
                        people.of(&file.by)
                    ),
                    remove: (may_attach && file.by == mine)
                        .then(|| format!("{base}/{}/remove", file.attachment_id)),
                })
                .collect(),
            // A file upload is not a urlencoded form: its token travels in the address.
            upload: may_attach.then(|| format!("{base}?_csrf={}", viewer.csrf)),
            limit: size(i64::try_from(state.channels.evidence.max_bytes).unwrap_or(i64::MAX)),
            accept: MediaType::ALL
                .iter()
                .map(|kind| kind.mime())
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// Uploads are read in pieces and stopped at `evidence.max_bytes` by [`upload`] itself,
/// not by the router's default limit for bodies.
pub fn body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::disable()
}

/// The record's page again, with `message` on it (422; 403 when the viewer may not).
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    kind: Kind,
    id: &str,
    message: String,
    forbidden: bool,
) -> Result<Response, PageError> {
    let page = match kind {
        Kind::Review => super::reviews::page_with_error(state, viewer, id, message)
            .await?
            .into_response(),
        Kind::Visit => super::visits::page_with_error(state, viewer, id, message)
            .await?
            .into_response(),
        Kind::Meeting => super::meetings::page_with_error(state, viewer, id, message)
            .await?
            .into_response(),
        Kind::Audit => super::audits::page_with_error(state, viewer, id, message)
            .await?
            .into_response(),
        Kind::Occurrence => super::occurrences::page_with_error(state, viewer, id, message)
            .await?
            .into_response(),
        Kind::Action => super::actions::page_with_error(state, viewer, id, message)
            .await?
            .into_response(),
    };
    let status = if forbidden {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, page).into_response())
}

/// Back to the record's files after a change, or the record again with the refusal.
async fn answered<T>(
    state: &AppState,
    viewer: &Viewer,
    kind: Kind,
    id: &str,
    result: Result<T, tonic::Status>,
) -> Result<Response, PageError> {
    match result {
        Ok(_) => Ok(see(format!("/{}/{id}#files", kind.path()))),
        Err(status) => {
            let forbidden = status.code() == tonic::Code::PermissionDenied;
            let message = refusal(status)?;
            refused(state, viewer, kind, id, message, forbidden).await
        }
    }
}

/// `POST /{reviews|visits|meetings|audits|occurrences|actions}/{id}/files`: one file from the chooser or the camera.
pub async fn upload(
    State(state): State<AppState>,
    viewer: Viewer,
    route: MatchedPath,
    Path(id): Path<String>,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let kind = Kind::of(&route)?;
    let too_large = || {
        format!(
            "the file is larger than the limit of {}",
            size(i64::try_from(state.channels.evidence.max_bytes).unwrap_or(i64::MAX))
        )
    };
    let limit = usize::try_from(state.channels.evidence.max_bytes).unwrap_or(usize::MAX);
    let mut command_id = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => {
                let message = "the upload was interrupted: choose the file and try again";
                return refused(&state, &viewer, kind, &id, message.to_owned(), false).await;
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let mut field = field;
        let (mut bytes, mut seen) = (Vec::new(), 0usize);
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    // Past the limit nothing more is kept; the rest of the file is read and
                    // dropped (up to as much again) so the browser hears the answer.
                    seen += chunk.len();
                    if seen > limit.saturating_mul(2) {
                        return refused(&state, &viewer, kind, &id, too_large(), false).await;
                    }
                    if seen <= limit {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    let message = "the upload was interrupted: choose the file and try again";
                    return refused(&state, &viewer, kind, &id, message.to_owned(), false).await;
                }
            }
        }
        if seen > limit {
            return refused(&state, &viewer, kind, &id, too_large(), false).await;
        }
        match (name.as_str(), file_name) {
            ("command_id", None) => {
                command_id = String::from_utf8_lossy(&bytes).trim().to_owned();
            }
            // The chooser and the camera: whichever holds a file.
            ("file" | "photo", Some(file_name)) if !bytes.is_empty() && file.is_none() => {
                file = Some((file_name, bytes));
            }
            _ => {}
        }
    }
    let Some((file_name, content)) = file else {
        return refused(
            &state,
            &viewer,
            kind,
            &id,
            "choose a file to attach".to_owned(),
            false,
        )
        .await;
    };
    let result = state
        .clients(&viewer)
        .evidence(kind)
        .attach(ev::AttachRequest {
            command_id,
            record_kind: kind.record_kind().to_owned(),
            record_id: id.clone(),
            file_name,
            content,
        })
        .await;
    answered(&state, &viewer, kind, &id, result).await
}

/// `POST /{reviews|visits|meetings|audits|occurrences|actions}/{id}/files/{file}/remove`.
pub async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    route: MatchedPath,
    Path((id, file)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, PageError> {
    let kind = Kind::of(&route)?;
    let result = state
        .clients(&viewer)
        .evidence(kind)
        .remove(ev::RemoveRequest {
            command_id: fields.command_id(),
            record_kind: kind.record_kind().to_owned(),
            record_id: id.clone(),
            attachment_id: file,
        })
        .await;
    answered(&state, &viewer, kind, &id, result).await
}

/// `GET /{reviews|visits|meetings|audits|occurrences|actions}/{id}/files/{file}`: the file itself, to whoever may read the whole
/// record. Pictures and PDFs open in the browser; anything else downloads.
pub async fn file(
    State(state): State<AppState>,
    viewer: Viewer,
    route: MatchedPath,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = Kind::of(&route)?;
    let found = state
        .clients(&viewer)
        .evidence(kind)
        .fetch(ev::FetchRequest {
            record_kind: kind.record_kind().to_owned(),
            record_id: id,
            attachment_id: file,
        })
        .await
        .map_err(|status| match status.code() {
            tonic::Code::InvalidArgument | tonic::Code::NotFound => PageError::not_found(),
            _ => status.into(),
        })?
        .into_inner();
    let attachment = found.attachment.unwrap_or_default();
    let media_type =
        MediaType::from_mime(&attachment.media_type).ok_or_else(PageError::not_found)?;
    let disposition = if media_type.opens_inline() {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = attachment
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .-_()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = attachment
        .file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut response = found.content.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type.mime()),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    // Nothing in a file runs: no scripts, no forms, no frames of ours.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; frame-ancestors 'none'"),
    );
    Ok(response)
}
