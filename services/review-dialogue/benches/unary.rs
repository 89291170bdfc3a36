//! One unary gRPC call's latency, as a page of the web app makes dozens of them: 2,000
//! sequential `GetCatalogue` calls (a read of the service's read model) and `ListReviews`
//! calls against review dialogue on the real PostgreSQL, through a real TCP connection.
//! Prints p50, p99 and the worst. A fixed ~40 ms per call means replies are waiting on the
//! client's delayed acknowledgement again (Nagle's algorithm on the server's socket).
//!
//! `cargo bench -p waymark-review-dialogue --bench unary` (needs PostgreSQL; see README).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use waymark_proto::review_dialogue::v1 as pb;
use waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient;
use waymark_testkit::services::{TestPlatform, new_caller};

const CALLS: usize = 2_000;

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<14} {CALLS} calls: p50 {:>7.2} ms, p99 {:>7.2} ms, worst {:>7.2} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let mut client = ReviewDialogueClient::new(platform.client(address, new_caller()));
    for _ in 0..50 {
        client
            .get_catalogue(pb::GetCatalogueRequest {})
            .await
            .unwrap();
    }
    let mut catalogue = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        client
            .get_catalogue(pb::GetCatalogueRequest {})
            .await
            .unwrap();
        catalogue.push(started.elapsed());
    }
    report("GetCatalogue", catalogue);
    let mut reviews = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        client
            .list_reviews(pb::ListReviewsRequest::default())
            .await
            .unwrap();
        reviews.push(started.elapsed());
    }
    report("ListReviews", reviews);
    platform.stop().await;
}
