//! Counting monitoring against the plan: what counts as held, due, overdue and early.
//!
//! Anything planned has a date or window (`opens`..=`closes`; one day for most things).
//! Judged on `today`:
//! - **held**: it happened (an occurrence marked held, a review agreed, a meeting closed);
//!   **early** when that was before its window closed and the window is still open or to
//!   come — it counts as done *and* as due, so doing things early never lowers a figure;
//! - **overdue**: not held and its window closed before today;
//! - **in its window**: not held, open today (not yet late: not counted as due);
//! - **upcoming**: not held, opens after today (not counted).
//!
//! Cancelled things are not counted at all. "Due so far" is held + early + overdue.

use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Held,
    HeldEarly,
    Overdue,
    InWindow,
    Upcoming,
}

/// Where something planned for `opens..=closes` stands on `today`.
pub fn standing(held: bool, opens: NaiveDate, closes: NaiveDate, today: NaiveDate) -> Standing {
    match (held, today) {
        (true, today) if today < closes => Standing::HeldEarly,
        (true, _) => Standing::Held,
        (false, today) if today > closes => Standing::Overdue,
        (false, today) if today >= opens => Standing::InWindow,
        (false, _) => Standing::Upcoming,
    }
}

/// How many of a set of planned things stand where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub held: u32,
    pub early: u32,
    pub overdue: u32,
    pub in_window: u32,
    pub upcoming: u32,
}

impl Tally {
    pub fn count(&mut self, standing: Standing) {
        let slot = match standing {
            Standing::Held => &mut self.held,
            Standing::HeldEarly => &mut self.early,
            Standing::Overdue => &mut self.overdue,
            Standing::InWindow => &mut self.in_window,
            Standing::Upcoming => &mut self.upcoming,
        };
        *slot += 1;
    }

    /// Held, early or not.
    pub fn done(&self) -> u32 {
        self.held + self.early
    }

    /// Due by today: whatever was held, and whatever is overdue.
    pub fn due(&self) -> u32 {
        self.done() + self.overdue
    }

    /// Done as a whole percentage of what was due (rounded down); none when nothing was.
    pub fn percent(&self) -> Option<u32> {
        (self.due() > 0).then(|| self.done() * 100 / self.due())
    }

    /// "7 of 9 (77%)", or "None due yet".
    pub fn share(&self) -> String {
        match self.percent() {
            Some(percent) => format!("{} of {} ({percent}%)", self.done(), self.due()),
            None => "None due yet".to_owned(),
        }
    }
}

impl FromIterator<Standing> for Tally {
    fn from_iter<I: IntoIterator<Item = Standing>>(standings: I) -> Self {
        let mut tally = Self::default();
        for standing in standings {
            tally.count(standing);
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn each_standing_on_the_edges_of_its_window() {
        let (opens, closes) = (d(10), d(20));
        let on = |held, today| standing(held, opens, closes, d(today));
        // Not held: upcoming until it opens, in its window through the day it closes, then
        // overdue.
        assert_eq!(on(false, 9), Standing::Upcoming);
        assert_eq!(on(false, 10), Standing::InWindow);
        assert_eq!(on(false, 20), Standing::InWindow);
        assert_eq!(on(false, 21), Standing::Overdue);
        // Held: early while its window has not closed (even before it opens), held after.
        assert_eq!(on(true, 5), Standing::HeldEarly);
        assert_eq!(on(true, 19), Standing::HeldEarly);
        assert_eq!(on(true, 20), Standing::Held);
        assert_eq!(on(true, 28), Standing::Held);
        // A one-day thing is due on its day and overdue the day after.
        assert_eq!(standing(false, d(12), d(12), d(12)), Standing::InWindow);
        assert_eq!(standing(false, d(12), d(12), d(13)), Standing::Overdue);
        assert_eq!(standing(true, d(12), d(12), d(12)), Standing::Held);
    }

    #[test]
    fn early_work_counts_as_done_and_due_and_nothing_not_yet_late_counts() {
        let tally: Tally = [
            Standing::Held,
            Standing::Held,
            Standing::HeldEarly,
            Standing::Overdue,
            Standing::InWindow,
            Standing::Upcoming,
            Standing::Upcoming,
        ]
        .into_iter()
        .collect();
        assert_eq!((tally.done(), tally.due()), (3, 4));
        assert_eq!(tally.percent(), Some(75));
        assert_eq!(tally.share(), "3 of 4 (75%)");
        // Only early work: 100%, not "none due".
        let early: Tally = [Standing::HeldEarly, Standing::Upcoming]
            .into_iter()
            .collect();
        assert_eq!(early.share(), "1 of 1 (100%)");
        let nothing: Tally = [Standing::InWindow, Standing::Upcoming]
            .into_iter()
            .collect();
        assert_eq!(nothing.share(), "None due yet");
        assert_eq!(nothing.percent(), None);
        // Rounded down: 2 of 3 is 66%.
        let two_of_three: Tally = [Standing::Held, Standing::Held, Standing::Overdue]
            .into_iter()
            .collect();
        assert_eq!(two_of_three.percent(), Some(66));
    }
}
