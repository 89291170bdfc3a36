//! The gRPC API.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use waymark_domain::SchoolId;
use waymark_proto::action_tracking::v1 as pb;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{Platform, ServiceError, parse};

pub struct ActionTrackingService {
    platform: Arc<Platform>,
}

impl ActionTrackingService {
    pub fn new(platform: Arc<Platform>) -> Self {
        Self { platform }
    }
}

#[tonic::async_trait]
impl pb::action_tracking_server::ActionTracking for ActionTrackingService {
    async fn list_origins(
        &self,
        request: Request<pb::ListOriginsRequest>,
    ) -> Result<Response<pb::ListOriginsResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let school: SchoolId = parse::id("school_id", &request.get_ref().school_id)?;
        let origins = sqlx::query!(
            "SELECT origin_id, kind, school_id, label FROM action_tracking.origins \
             WHERE trust_id = $1 AND school_id = $2 ORDER BY label",
            context.caller.trust.into_uuid(),
            school.into_uuid(),
        )
        .fetch_all(&self.platform.pool)
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .map(|row| pb::Origin {
            origin_id: row.origin_id.to_string(),
            kind: row.kind,
            school_id: row.school_id.to_string(),
            label: row.label,
        })
        .collect();
        Ok(Response::new(pb::ListOriginsResponse { origins }))
    }
}
