//! A demonstration trust, built through the same commands people's clicks send: the
//! directory's (schools, staff, roles, line management) and each service's over gRPC
//! (calendars, plans and generated years, progress meetings and their actions, progress
//! reviews, actions in progress). Nothing is written to a table directly, so what the demo
//! shows is what the services decided and projected.
//!
//! The same `seed` and size give the same schools, people, classes and states; the ids
//! differ from run to run. Dates are placed around the services' today.

mod people;
mod year;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use waymark_domain::TrustId;
use waymark_gateway::Channels;
use waymark_gateway::bootstrap::Bootstrap;
use waymark_runtime::Platform;
use waymark_runtime::auth::Caller;

pub use people::SignIn;

/// Schools whose year is built at the same time.
const SCHOOLS_AT_ONCE: usize = 4;

/// The largest trust the demo builds.
pub const MAX_SCHOOLS: usize = 200;
/// The most class teachers a school gets.
pub const MAX_TEACHERS: usize = 200;

#[derive(Debug, Clone)]
pub struct Options {
    pub trust_name: String,
    /// 1..=[`MAX_SCHOOLS`].
    pub schools: usize,
    /// Class teachers per school, 1..=[`MAX_TEACHERS`]; each has a class.
    pub teachers: usize,
    /// How many of each school's teachers have a year's worth of meetings, reviews and
    /// actions (the others have a class and a line manager only).
    pub active_teachers: usize,
    pub seed: u64,
    /// The password of the people whose sign-in is printed (nobody else gets one).
    pub password: String,
}

impl Options {
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=MAX_SCHOOLS).contains(&self.schools),
            "--schools must be 1 to {MAX_SCHOOLS}"
        );
        anyhow::ensure!(
            (1..=MAX_TEACHERS).contains(&self.teachers),
            "--teachers must be 1 to {MAX_TEACHERS}"
        );
        anyhow::ensure!(
            self.password.chars().count() >= 12,
            "the password must be at least 12 characters"
        );
        Ok(())
    }
}

/// What was built.
#[derive(Debug)]
pub struct Demo {
    pub trust: TrustId,
    /// One person of each role, with the password of [`Options::password`].
    pub sign_ins: Vec<SignIn>,
    pub staff: usize,
    pub meetings: usize,
    pub reviews: usize,
    pub actions: usize,
}

/// Builds the demonstration trust against running services (their addresses come from the
/// platform's configuration).
pub async fn build(platform: Arc<Platform>, options: &Options) -> anyhow::Result<Demo> {
    options.check()?;
    let bootstrap = Bootstrap::new(platform.clone()).await?;
    let trust = people::trust(&bootstrap, options).await?;
    let clients = Clients::new(&platform)?;
    let today = platform.clock.now().date_naive();
    let mut totals = year::Totals::default();
    // A few schools at a time: each waits on the services' replies, not on this machine.
    let results: Vec<anyhow::Result<year::Totals>> = futures::stream::iter(&trust.schools)
        .map(|school| year::school(&clients, trust.id, school, options, today))
        .buffer_unordered(SCHOOLS_AT_ONCE)
        .collect()
        .await;
    for result in results {
        totals.add(result?);
    }
    Ok(Demo {
        trust: trust.id,
        sign_ins: trust.sign_ins,
        staff: trust.staff,
        meetings: totals.meetings,
        reviews: totals.reviews,
        actions: totals.actions,
    })
}

/// The services' addresses, and the platform that signs each call as the person acting.
struct Clients {
    platform: Arc<Platform>,
    channels: Channels,
}

impl Clients {
    fn new(platform: &Arc<Platform>) -> anyhow::Result<Self> {
        Ok(Self {
            platform: platform.clone(),
            channels: Channels::new(platform)?,
        })
    }

    fn of(&self, caller: Caller) -> waymark_gateway::Clients {
        waymark_gateway::Clients::acting_as(&self.platform, &self.channels, caller)
    }
}

/// How long a command is retried while the service has not yet learned what it needs from
/// another's events (a new school, a new person, a meeting's actions).
const PATIENCE: Duration = Duration::from_secs(60);

/// Runs `call` until it succeeds, retrying the refusals that mean "not known here yet".
/// Each attempt carries the same command id, so a command that did run is not run twice.
async fn settled<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match call().await {
            Ok(reply) => return Ok(reply.into_inner()),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::FailedPrecondition
                        | tonic::Code::NotFound
                        | tonic::Code::PermissionDenied
                        | tonic::Code::Unavailable
                ) && tokio::time::Instant::now() < deadline =>
            {
                tracing::debug!(what, %status, "not known yet; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => anyhow::bail!("{what}: {} ({:?})", status.message(), status.code()),
        }
    }
}

/// `client.method(request)` through [`settled`]: each attempt on a clone of the client,
/// with the same request (and so the same command id).
macro_rules! call {
    ($what:expr, $client:expr, $method:ident, $request:expr) => {{
        let client = $client.clone();
        let request = $request;
        $crate::settled($what, move || {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.$method(request).await }
        })
    }};
}
pub(crate) use call;

/// A command id: new for each command, reused by its retries.
fn command() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A small deterministic generator (SplitMix64): the same seed picks the same names.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        let n = from.len() as u64;
        from[usize::try_from(self.next() % n).unwrap_or(0)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_rolls_the_same_numbers_and_another_does_not() {
        let roll = |seed| {
            let mut dice = Dice(seed);
            (0..5).map(|_| dice.next()).collect::<Vec<_>>()
        };
        assert_eq!(roll(7), roll(7));
        assert_ne!(roll(7), roll(8));
    }

    #[test]
    fn sizes_out_of_range_are_refused() {
        let good = Options {
            trust_name: "T".into(),
            schools: 3,
            teachers: 6,
            active_teachers: 4,
            seed: 1,
            password: "a long enough password".into(),
        };
        assert!(good.check().is_ok());
        for bad in [
            Options {
                schools: 0,
                ..good.clone()
            },
            Options {
                schools: MAX_SCHOOLS + 1,
                ..good.clone()
            },
            Options {
                teachers: 0,
                ..good.clone()
            },
            Options {
                password: "short".into(),
                ..good.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
