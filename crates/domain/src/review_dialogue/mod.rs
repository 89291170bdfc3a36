//! Review dialogue: progress reviews, progress meetings, monitoring visits and
//! self-evaluation audits, done *with* people, never to them; and each school's improvement
//! priorities, which they serve.

pub mod audit;
pub mod catalogue;
pub mod meeting;
pub mod priority;
pub mod review;
pub mod visit;
