//! The search form and pages shared by the lists of reviews, meetings and visits: what the
//! viewer narrowed the list to, as the form sends it, and the links to the pages around.
//! Review dialogue does the finding, over what the viewer may see.

use waymark_proto::review_dialogue::v1 as rd;

/// What a list is narrowed to.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct Search {
    /// Words in what the records say.
    pub q: String,
    pub status: String,
    /// A year group (reviews) or class (meetings).
    #[serde(alias = "year_group")]
    pub group: String,
    pub from: String,
    pub to: String,
    /// An improvement priority's id.
    pub priority: String,
    pub page: u32,
}

/// How one list's form reads.
pub struct Form {
    /// The list's address, where the form goes.
    pub action: &'static str,
    /// What the list holds, in the plural ("reviews").
    pub what: &'static str,
    /// The statuses offered, as (value, label); "Any" comes first by itself.
    pub statuses: &'static [(&'static str, &'static str)],
    /// The address of the list as CSV, where there is one.
    pub csv: Option<&'static str>,
    /// The label of the group field; none where the list has no group.
    pub group: Option<&'static str>,
    /// Whether the list is narrowed by dates.
    pub dates: bool,
}

impl Search {
    /// Review dialogue's search for reviews, as narrowed here.
    pub fn reviews(&self) -> rd::ListReviewsRequest {
        rd::ListReviewsRequest {
            text: self.q.clone(),
            status: self.status.clone(),
            year_group: self.group.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            priority_id: self.priority.clone(),
            page: self.page,
            ..Default::default()
        }
    }

    /// Review dialogue's search for meetings, the latest first.
    pub fn meetings(&self) -> rd::ListMeetingsRequest {
        rd::ListMeetingsRequest {
            text: self.q.clone(),
            status: self.status.clone(),
            class_group: self.group.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            priority_id: self.priority.clone(),
            page: self.page,
            newest_first: true,
            ..Default::default()
        }
    }

    /// Review dialogue's search for visits, the latest first.
    pub fn visits(&self) -> rd::ListVisitsRequest {
        rd::ListVisitsRequest {
            text: self.q.clone(),
            status: self.status.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            priority_id: self.priority.clone(),
            page: self.page,
            newest_first: true,
            ..Default::default()
        }
    }

    /// Review dialogue's search for self-evaluation audits, the latest started first.
    pub fn audits(&self) -> rd::ListAuditsRequest {
        rd::ListAuditsRequest {
            status: self.status.clone(),
            text: self.q.clone(),
            page: self.page,
            ..Default::default()
        }
    }

    /// The search as an address's query, without its page.
    pub fn query(&self) -> String {
        let mut query = Vec::new();
        for (key, value) in [
            ("q", &self.q),
            ("status", &self.status),
            ("group", &self.group),
            ("from", &self.from),
            ("to", &self.to),
            ("priority", &self.priority),
        ] {
            if !value.is_empty() {
                query.push(format!("{key}={}", urlencode(value)));
            }
        }
        query.join("&")
    }

    /// The address of page `page` of this search on `base`.
    fn page_href(&self, base: &str, page: u32) -> String {
        match self.query() {
            query if query.is_empty() => format!("{base}?page={page}"),
            query => format!("{base}?{query}&page={page}"),
        }
    }

    /// Links to the previous and next pages, where there are such pages.
    pub fn around(&self, base: &str, more: bool) -> (Option<String>, Option<String>) {
        (
            (self.page > 0).then(|| self.page_href(base, self.page - 1)),
            more.then(|| self.page_href(base, self.page + 1)),
        )
    }
}

/// `value` as one part of an address.
pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A search's answer; or, when review dialogue cannot read the search (a date that is not
/// one), nothing found and its reason, to show above the form.
pub fn answered<T: Default>(
    result: Result<tonic::Response<T>, tonic::Status>,
) -> Result<(T, Option<String>), crate::error::PageError> {
    match result {
        Ok(found) => Ok((found.into_inner(), None)),
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            Ok((T::default(), Some(status.message().to_owned())))
        }
        Err(status) => Err(status.into()),
    }
}

/// A list's page: refused (422) when its search could not be read, so the browser and
/// assistive technology hear of the error.
pub fn list_page(page: impl axum::response::IntoResponse, error: bool) -> axum::response::Response {
    if error {
        crate::web::refused_page(page)
    } else {
        page.into_response()
    }
}
