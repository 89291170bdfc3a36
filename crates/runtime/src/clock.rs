//! The one injectable clock. Services ask it for the time; tests move it by hand.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a chosen moment and then runs at the real pace (measured on the
/// monotonic clock, so a process whose wall clock is moved does not move it). Tests use it
/// so that the day they run on never matters, while leases, retries and timeouts still pass.
#[derive(Debug, Clone, Copy)]
pub struct RunningClock {
    start: DateTime<Utc>,
    since: std::time::Instant,
}

impl RunningClock {
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            start,
            since: std::time::Instant::now(),
        }
    }
}

impl Clock for RunningClock {
    fn now(&self) -> DateTime<Utc> {
        self.start + Duration::from_std(self.since.elapsed()).unwrap_or(Duration::MAX)
    }
}

/// A clock that stands still until told to move.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
