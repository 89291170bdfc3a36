//! `POST /admin/staff/{id}/export`: everything Waymark holds about one person, for a
//! subject-access request, as one zip — a readable summary (`summary.html`) and each part as
//! JSON: the directory's and the gateway's own data, then each service's (`waymark.
//! personal_data.v1`). Only trust administrators (`export-personal-data`); each service
//! decides again, and review dialogue notes the export in the access log.

use std::io::Write;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use waymark_domain::StaffId;
use waymark_policy::TrustVerb;
use waymark_proto::personal_data::v1 as pd;

use waymark_runtime::ServiceError;

use crate::directory::names;
use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;

/// The gateway's own rows about the person: name and address, single sign-on identities,
/// sessions (when they signed in and were last seen).
const OWN: &[(&str, &str)] = &[
    (
        "person",
        "SELECT staff_id, display_name, email FROM gateway.people WHERE trust_id = $1 AND staff_id = $2",
    ),
    (
        "sign_in_identities",
        "SELECT issuer, subject, created_at FROM gateway.identities WHERE trust_id = $1 AND staff_id = $2",
    ),
    (
        "sessions",
        "SELECT created_at, last_seen_at FROM gateway.sessions WHERE trust_id = $1 AND staff_id = $2 \
         ORDER BY created_at",
    ),
];

/// A part of the export: its file name and JSON.
struct Part {
    file: String,
    json: serde_json::Value,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page a person can read: what each file holds, and how much.
fn summary(name: &str, when: &str, parts: &[Part]) -> String {
    let mut rows = String::new();
    for part in parts {
        if let serde_json::Value::Object(members) = &part.json {
            for (kind, value) in members {
                let count = value.as_array().map_or(1, Vec::len);
                rows.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{count}</td></tr>\n",
                    escape(&part.file),
                    escape(&kind.replace('_', " ")),
                ));
            }
        }
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>What Waymark holds about {name}</title></head>\n\
         <body><h1>What Waymark holds about {name}</h1>\n<p>Exported {when}. Each file named below holds the \
         data itself, as JSON.</p>\n<table><thead><tr><th>File</th><th>What</th><th>How many</th></tr></thead>\n<tbody>\n{rows}</tbody></table></body></html>\n",
        name = escape(name),
        when = escape(when),
    )
}

pub async fn export(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    viewer.require_on_trust(TrustVerb::ExportPersonalData)?;
    let person: StaffId = id.parse().map_err(|_| PageError::not_found())?;
    let record = viewer
        .directory
        .staff
        .get(&person)
        .ok_or_else(PageError::not_found)?;
    let mut own = serde_json::Map::new();
    own.insert(
        "directory".to_owned(),
        serde_json::to_value(record).unwrap_or_default(),
    );
    for (name, sql) in OWN {
        let rows: serde_json::Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]'::jsonb) FROM ({sql}) r"
        )))
        .bind(viewer.trust.into_uuid())
        .bind(person.into_uuid())
        .fetch_one(&state.platform.pool)
        .await?;
        own.insert((*name).to_owned(), rows);
    }
    let mut parts = vec![Part {
        file: "gateway.json".to_owned(),
        json: serde_json::Value::Object(own),
    }];
    for mut client in state.clients(&viewer).personal_data() {
        let export = client
            .export(pd::ExportRequest {
                person_id: person.to_string(),
            })
            .await?
            .into_inner();
        parts.push(Part {
            file: format!("{}.json", export.service),
            json: serde_json::from_str(&export.json).map_err(|_| {
                ServiceError::internal(format!("{} sent an unreadable export", export.service))
            })?,
        });
    }
    let people = names(&state.platform.pool, viewer.trust).await?;
    let name = people.of(&person.to_string());
    let now = state.platform.clock.now();
    let when = now.format("%-d %B %Y at %H:%M UTC").to_string();
    let zipped = zip_of(&summary(&name, &when, &parts), &parts).map_err(|error| {
        ServiceError::internal(format!("the export could not be zipped: {error}"))
    })?;
    let mut response = zipped.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"waymark-{person}-{}.zip\"",
        now.format("%Y-%m-%d")
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// The summary and the parts, stored (not compressed) so any unzip reads them.
fn zip_of(summary: &str, parts: &[Part]) -> zip::result::ZipResult<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("summary.html", options)?;
    zip.write_all(summary.as_bytes())?;
    for part in parts {
        zip.start_file(part.file.as_str(), options)?;
        let pretty = serde_json::to_vec_pretty(&part.json).unwrap_or_default();
        zip.write_all(&pretty)?;
    }
    Ok(zip.finish()?.into_inner())
}
