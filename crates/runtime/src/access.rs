//! How a service decides who may do what with its own data: the policies (`waymark-policy`),
//! asked with the service's own copy of the directory ([`crate::directory`]). A refusal is
//! `PERMISSION_DENIED` with a code per kind of thing and the rule's own words.

use std::sync::Arc;

use sqlx::PgPool;
use waymark_domain::directory::DirectoryState;
use waymark_domain::{SchoolId, StaffId, TrustId};
use waymark_policy::{Policies, SchoolVerb, TrustVerb};

use crate::auth::RequestContext;
use crate::error::{ErrorKind, ServiceError};

/// The policies and the table holding this service's copy of the directory.
#[derive(Clone)]
pub struct Access {
    pool: PgPool,
    table: &'static str,
    policies: Arc<Policies>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("table", &self.table)
            .finish()
    }
}

impl Access {
    pub fn new(pool: PgPool, table: &'static str, policies: Arc<Policies>) -> Self {
        Self {
            pool,
            table,
            policies,
        }
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// The trust's directory as this service has it (empty if it has none yet, so that
    /// nobody may do anything).
    pub async fn directory(&self, trust: TrustId) -> Result<DirectoryState, ServiceError> {
        Ok(crate::directory::load(&self.pool, self.table, trust).await?)
    }

    /// Refuses unless the caller may do `verb` to `school`; else the directory it decided with.
    pub async fn school(
        &self,
        context: &RequestContext,
        verb: SchoolVerb,
        school: SchoolId,
    ) -> Result<DirectoryState, ServiceError> {
        let directory = self.directory(context.caller.trust).await?;
        let allowed = self
            .policies
            .allows_on_school(&directory, person(context), verb, school);
        permit(allowed, "school.not_permitted", verb.refusal())?;
        Ok(directory)
    }

    /// Refuses unless the caller may do `verb` to the trust as a whole.
    pub async fn trust(
        &self,
        context: &RequestContext,
        verb: TrustVerb,
    ) -> Result<DirectoryState, ServiceError> {
        let directory = self.directory(context.caller.trust).await?;
        let allowed = self
            .policies
            .allows_on_trust(&directory, person(context), verb);
        permit(allowed, "trust.not_permitted", verb.refusal())?;
        Ok(directory)
    }
}

/// The person a request acts for.
pub fn person(context: &RequestContext) -> StaffId {
    StaffId::from_uuid(context.caller.actor.into_uuid())
}

/// `PERMISSION_DENIED` with `code` and `message` unless `allowed`.
pub fn permit(
    allowed: bool,
    code: &'static str,
    message: &'static str,
) -> Result<(), ServiceError> {
    if allowed {
        Ok(())
    } else {
        Err(ServiceError::new(
            ErrorKind::PermissionDenied,
            code,
            message,
        ))
    }
}
