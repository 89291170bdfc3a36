//! Generated gRPC code, one module per service and version (`waymark.<service>.v1`).

#![allow(clippy::all, clippy::pedantic, clippy::unwrap_used, missing_docs)]

/// The encoded file descriptor set of every proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("waymark_descriptor");

pub mod review_dialogue {
    pub mod v1 {
        tonic::include_proto!("waymark.review_dialogue.v1");
    }
}

pub mod scheduling {
    pub mod v1 {
        tonic::include_proto!("waymark.scheduling.v1");
    }
}

pub mod notifications {
    pub mod v1 {
        tonic::include_proto!("waymark.notifications.v1");
    }
}

pub mod action_tracking {
    pub mod v1 {
        tonic::include_proto!("waymark.action_tracking.v1");
    }
}

pub mod evidence {
    pub mod v1 {
        tonic::include_proto!("waymark.evidence.v1");
    }
}

pub mod personal_data {
    pub mod v1 {
        tonic::include_proto!("waymark.personal_data.v1");
    }
}
