//! Review dialogue: progress reviews done *with* people, never to them.

pub mod review;
