//! Review dialogue: progress reviews, progress meetings, monitoring visits and
//! self-evaluation audits, done *with* people, never to them.

pub mod audit;
pub mod catalogue;
pub mod meeting;
pub mod review;
pub mod visit;
