//! Given/when/then specifications for deciders, and sample files for tests of evidence:
//!
//! ```text
//! given::<Review>([scheduled()]).when(hold_meeting()).then([meeting_held()]);
//! given::<Review>([]).when(agree()).then_rejected(ReviewRejection::NotScheduled);
//! ```

use crate::decider::Decider;
use crate::rejection::{Rejection, RejectionKind};
use std::fmt::Debug;

/// Starts a specification from the events already in the stream.
pub fn given<D: Decider>(events: impl IntoIterator<Item = D::Event>) -> Given<D> {
    Given {
        events: events.into_iter().collect(),
    }
}

pub struct Given<D: Decider> {
    events: Vec<D::Event>,
}

impl<D: Decider> Given<D> {
    pub fn when(self, command: D::Command) -> Then<D> {
        let state = D::fold(self.events.iter());
        let result = D::decide(&state, &command);
        Then { state, result }
    }
}

pub struct Then<D: Decider> {
    state: D::State,
    result: Result<Vec<D::Event>, D::Rejection>,
}

impl<D: Decider> Then<D> {
    /// Asserts the command produced exactly these events; returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = D::Event>) -> D::State {
        let expected: Vec<D::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "the command produced other events");
                events
                    .iter()
                    .fold(self.state, |state, event| D::evolve(state, event))
            }
            Err(rejection) => panic!(
                "expected events {expected:?}, the command was rejected: {rejection} ({})",
                rejection.code()
            ),
        }
    }

    /// Asserts the command was rejected with exactly this rejection.
    #[track_caller]
    pub fn then_rejected(self, expected: D::Rejection)
    where
        D::Rejection: PartialEq + Debug,
    {
        match self.result {
            Ok(events) => panic!("expected rejection {expected:?}, got events {events:?}"),
            Err(rejection) => assert_eq!(rejection, expected),
        }
    }

    /// Asserts the command was rejected with this kind and code.
    #[track_caller]
    pub fn then_rejected_as(self, kind: RejectionKind, code: &str) {
        match self.result {
            Ok(events) => panic!("expected a `{code}` rejection, got events {events:?}"),
            Err(rejection) => {
                assert_eq!(
                    (rejection.kind(), rejection.code()),
                    (kind, code),
                    "{rejection}"
                );
            }
        }
    }

    /// Gives the raw outcome for assertions the helpers above do not cover.
    pub fn outcome(self) -> Result<Vec<D::Event>, D::Rejection> {
        self.result
    }
}

/// A small JPEG as a phone writes one: JFIF, then EXIF with the camera, a GPS position
/// and the orientation `orientation`, an XMP packet, a comment, then the picture.
pub fn phone_photo(orientation: u16) -> Vec<u8> {
    let mut tiff = b"II\x2A\0\x08\0\0\0".to_vec();
    // Three entries: Make, Orientation, GPS pointer.
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&[0x0F, 0x01, 2, 0, 4, 0, 0, 0]);
    tiff.extend_from_slice(b"Cam\0");
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0]);
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&[0x25, 0x88, 4, 0, 1, 0, 0, 0, 50, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(b"GPS 51.5072N 0.1276W");
    let mut photo = vec![0xFF, 0xD8];
    let mut segment = |marker: u8, body: &[u8]| {
        photo.extend_from_slice(&[0xFF, marker]);
        let length = u16::try_from(body.len() + 2).unwrap_or(u16::MAX);
        photo.extend_from_slice(&length.to_be_bytes());
        photo.extend_from_slice(body);
    };
    segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&tiff);
    segment(0xE1, &exif);
    segment(
        0xE1,
        b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>GPS 51.5072N</x:xmpmeta>",
    );
    segment(0xFE, b"taken at 12 Acacia Avenue");
    segment(0xDB, &[0; 65]);
    segment(0xDA, &[1, 1, 0, 0, 63, 0]);
    photo.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56]);
    photo.extend_from_slice(&[0xFF, 0xD9]);
    photo
}
