//! Review dialogue: progress reviews, progress meetings and monitoring visits, done *with*
//! people, never to them.

pub mod catalogue;
pub mod meeting;
pub mod review;
pub mod visit;
