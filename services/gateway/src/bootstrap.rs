//! Setting up a trust from the command line (`waymark bootstrap`) and in tests: the trust,
//! its schools, its first people. Everything goes through the directory's decider, exactly
//! as the admin pages do.

use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use waymark_bus::FeedHandle;
use waymark_domain::directory::{DirectoryCommand, DirectoryState, Grant, Role};
use waymark_domain::ids::ActorId;
use waymark_domain::text::Text;
use waymark_domain::{CommandId, SchoolId, StaffId, TrustId};
use waymark_runtime::Platform;

use crate::directory;

/// A directory writer with its own projection (stopped when dropped).
pub struct Bootstrap {
    platform: Arc<Platform>,
    view: FeedHandle,
    stop: CancellationToken,
    /// Who the changes are recorded as.
    pub actor: ActorId,
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn command() -> CommandId {
    CommandId::from_uuid(Uuid::now_v7())
}

fn text(value: &str) -> anyhow::Result<Text> {
    Text::parse(value).with_context(|| format!("`{value}` cannot be used as a name"))
}

impl Bootstrap {
    pub async fn new(platform: Arc<Platform>) -> anyhow::Result<Self> {
        platform
            .ready_schema(crate::migrator(), crate::SCHEMA_HISTORY)
            .await?;
        let stop = CancellationToken::new();
        let (view, _task) = platform.spawn_projection(
            Arc::new(directory::DirectoryView {
                contacts: Arc::default(),
            }),
            stop.clone(),
        );
        Ok(Self {
            platform,
            view,
            stop,
            actor: directory::gateway_actor(),
        })
    }

    pub async fn create_trust(&self, name: &str) -> anyhow::Result<TrustId> {
        let trust = TrustId::from_uuid(Uuid::now_v7());
        directory::run(
            &self.platform,
            &self.view,
            trust,
            self.actor,
            command(),
            DirectoryCommand::CreateTrust { name: text(name)? },
        )
        .await?;
        Ok(trust)
    }

    pub async fn add_school(&self, trust: TrustId, name: &str) -> anyhow::Result<SchoolId> {
        let school = SchoolId::from_uuid(Uuid::now_v7());
        directory::run(
            &self.platform,
            &self.view,
            trust,
            self.actor,
            command(),
            DirectoryCommand::AddSchool {
                school_id: school,
                name: text(name)?,
            },
        )
        .await?;
        Ok(school)
    }

    /// Adds a person with roles (`None` school for trust roles).
    pub async fn add_person(
        &self,
        trust: TrustId,
        name: &str,
        email: &str,
        roles: &[(Option<SchoolId>, Role)],
    ) -> anyhow::Result<StaffId> {
        let grants: Vec<Grant> = roles
            .iter()
            .map(|(school, role)| Grant {
                school: *school,
                role: *role,
            })
            .collect();
        let email = Some(email).filter(|e| !e.is_empty());
        Ok(directory::add_person(
            &self.platform,
            &self.view,
            trust,
            self.actor,
            command(),
            directory::NewPerson {
                name,
                email,
                grants: &grants,
            },
        )
        .await?)
    }

    pub async fn set_line_manager(
        &self,
        trust: TrustId,
        staff: StaffId,
        manager: StaffId,
    ) -> anyhow::Result<()> {
        directory::run(
            &self.platform,
            &self.view,
            trust,
            self.actor,
            command(),
            DirectoryCommand::SetLineManager {
                staff_id: staff,
                manager: Some(manager),
            },
        )
        .await?;
        Ok(())
    }

    /// Sets a local password directly (for demos and tests; people normally accept an invitation).
    pub async fn set_password(
        &self,
        trust: TrustId,
        staff: StaffId,
        password: &str,
    ) -> anyhow::Result<()> {
        crate::sign_in::set_password(&self.platform.pool, trust, staff, password)
            .await
            .map_err(|error| anyhow::anyhow!("cannot set the password: {error:?}"))?;
        Ok(())
    }

    /// The trust's directory as the gateway's view has it now.
    pub async fn directory(&self, trust: TrustId) -> anyhow::Result<DirectoryState> {
        Ok(directory::load(&self.platform.pool, trust).await?)
    }

    /// An invitation link for the person, valid for 14 days (refused for an active account).
    pub async fn invite(&self, trust: TrustId, staff: StaffId) -> anyhow::Result<String> {
        let path = crate::sign_in::invite(&self.platform, trust, staff).await?;
        Ok(waymark_domain::pages::absolute(
            &self.platform.config.gateway.url,
            &path,
        ))
    }

    /// Configures single sign-on for a trust (`microsoft` or `google`).
    pub async fn set_sso(
        &self,
        trust: TrustId,
        provider: &str,
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        hosted_domain: Option<&str>,
    ) -> anyhow::Result<()> {
        sqlx::query!(
            "INSERT INTO gateway.sso_providers (trust_id, provider, issuer, client_id, client_secret, hosted_domain) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (trust_id, provider) DO UPDATE SET issuer = $3, client_id = $4, client_secret = $5, hosted_domain = $6",
            trust.into_uuid(),
            provider,
            issuer,
            client_id,
            client_secret,
            hosted_domain
        )
        .execute(&self.platform.pool)
        .await?;
        Ok(())
    }
}
