//! Review dialogue's lists read whole, for pages that count or place every record of a
//! school or trust (the calendar, the trust's overview). Each search reads at most a
//! thousand records before deciding what the viewer may see, so that is also the most these
//! return.

use std::future::Future;
use tonic::Status;
use waymark_proto::review_dialogue::v1 as rd;

use crate::state::Clients;

/// The largest page review dialogue gives.
const PAGE: u32 = 200;
/// Enough pages for every record one search reads.
const MOST_PAGES: u32 = 5;

async fn every_page<T, Fut>(mut fetch: impl FnMut(u32) -> Fut) -> Result<Vec<T>, Status>
where
    Fut: Future<Output = Result<(Vec<T>, bool), Status>>,
{
    let mut all = Vec::new();
    for page in 0..MOST_PAGES {
        let (items, more) = fetch(page).await?;
        all.extend(items);
        if !more {
            break;
        }
    }
    Ok(all)
}

pub async fn reviews(
    clients: &Clients,
    request: rd::ListReviewsRequest,
) -> Result<Vec<rd::Review>, Status> {
    every_page(|page| {
        let mut client = clients.reviews();
        let request = rd::ListReviewsRequest {
            page,
            page_size: PAGE,
            ..request.clone()
        };
        async move {
            let found = client.list_reviews(request).await?.into_inner();
            Ok((found.reviews, found.more))
        }
    })
    .await
}

pub async fn meetings(
    clients: &Clients,
    request: rd::ListMeetingsRequest,
) -> Result<Vec<rd::Meeting>, Status> {
    every_page(|page| {
        let mut client = clients.reviews();
        let request = rd::ListMeetingsRequest {
            page,
            page_size: PAGE,
            ..request.clone()
        };
        async move {
            let found = client.list_meetings(request).await?.into_inner();
            Ok((found.meetings, found.more))
        }
    })
    .await
}

pub async fn visits(
    clients: &Clients,
    request: rd::ListVisitsRequest,
) -> Result<Vec<rd::Visit>, Status> {
    every_page(|page| {
        let mut client = clients.reviews();
        let request = rd::ListVisitsRequest {
            page,
            page_size: PAGE,
            ..request.clone()
        };
        async move {
            let found = client.list_visits(request).await?.into_inner();
            Ok((found.visits, found.more))
        }
    })
    .await
}

pub async fn audits(
    clients: &Clients,
    request: rd::ListAuditsRequest,
) -> Result<Vec<rd::AuditRecord>, Status> {
    every_page(|page| {
        let mut client = clients.audits();
        let request = rd::ListAuditsRequest {
            page,
            page_size: PAGE,
            ..request.clone()
        };
        async move {
            let found = client.list_audits(request).await?.into_inner();
            Ok((found.audits, found.more))
        }
    })
    .await
}
