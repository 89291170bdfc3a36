//! Subject-access exports (`waymark.personal_data.v1.PersonalData`): each service gathers
//! what it holds about one person, as its tables hold it, for a trust administrator
//! (`export-personal-data`). [`serve`] does the checking and gathering; a service names its
//! parts (a name and a query of `$1` the trust, `$2` the person).

use sqlx::PgPool;
use tonic::{Request, Response, Status};
use waymark_domain::StaffId;
use waymark_policy::TrustVerb;
use waymark_proto::personal_data::v1 as pb;

use crate::access::Access;
use crate::auth::RequestContext;
use crate::{ServiceError, parse};

/// One kind of data a service holds about a person.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    pub name: &'static str,
    /// Rows about the person: `$1` is the trust, `$2` the person.
    pub sql: &'static str,
}

/// The `PersonalData` API over `parts` of one service.
pub struct PersonalDataService {
    pub service: &'static str,
    pub pool: PgPool,
    pub access: Access,
    pub parts: &'static [Part],
}

impl PersonalDataService {
    /// Who is asked about, once the caller is found to be allowed.
    pub async fn allowed(
        &self,
        context: &RequestContext,
        request: &pb::ExportRequest,
    ) -> Result<StaffId, ServiceError> {
        let person: StaffId = parse::id("person_id", &request.person_id)?;
        self.access
            .trust(context, TrustVerb::ExportPersonalData)
            .await?;
        Ok(person)
    }

    /// Every part's rows as one JSON object.
    pub async fn gather(
        &self,
        context: &RequestContext,
        person: StaffId,
    ) -> Result<pb::Export, ServiceError> {
        let mut all = serde_json::Map::new();
        for part in self.parts {
            let rows: serde_json::Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]'::jsonb) FROM ({}) r",
                part.sql
            )))
            .bind(context.caller.trust.into_uuid())
            .bind(person.into_uuid())
            .fetch_one(&self.pool)
            .await?;
            all.insert(part.name.to_owned(), rows);
        }
        Ok(pb::Export {
            service: self.service.to_owned(),
            json: serde_json::Value::Object(all).to_string(),
        })
    }
}

#[tonic::async_trait]
impl pb::personal_data_server::PersonalData for PersonalDataService {
    async fn export(
        &self,
        request: Request<pb::ExportRequest>,
    ) -> Result<Response<pb::Export>, Status> {
        let context = RequestContext::of(&request)?;
        let person = self.allowed(&context, request.get_ref()).await?;
        Ok(Response::new(self.gather(&context, person).await?))
    }
}
