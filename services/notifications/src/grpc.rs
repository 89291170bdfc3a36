//! The gRPC API (`waymark.notifications.v1`).

use std::sync::Arc;

use chrono::{NaiveTime, SecondsFormat};
use tonic::{Request, Response, Status};
use uuid::Uuid;
use waymark_domain::{SchoolId, StaffId, Text, TrustId};
use waymark_policy::{PersonVerb, Policies, SchoolVerb, TrustVerb};
use waymark_proto::notifications::v1 as pb;
use waymark_runtime::access::{Access, permit};
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{Platform, ServiceError, parse};

use crate::notices;

pub struct NotificationsService {
    platform: Arc<Platform>,
    wake: Arc<tokio::sync::Notify>,
    policies: Arc<Policies>,
    access: Access,
}

impl NotificationsService {
    pub fn new(
        platform: Arc<Platform>,
        wake: Arc<tokio::sync::Notify>,
        policies: Arc<Policies>,
    ) -> Self {
        let access = Access::new(
            platform.pool.clone(),
            crate::DIRECTORY_TABLE,
            policies.clone(),
        );
        Self {
            platform,
            wake,
            policies,
            access,
        }
    }

    /// Refuses unless the caller is the directory, the one keeper of contact details.
    fn may_sync_contacts(&self, context: &RequestContext) -> Result<(), ServiceError> {
        permit(
            self.policies.allows_contact_sync(context.caller.actor),
            "contact.not_permitted",
            "contact details come only from the directory",
        )
    }

    /// Whether the caller sees everyone's deliveries (else only their own).
    async fn sees_deliveries(&self, context: &RequestContext) -> Result<bool, ServiceError> {
        let directory = self.access.directory(context.caller.trust).await?;
        Ok(self
            .policies
            .allows_on_trust(&directory, me(context), TrustVerb::SeeDeliveries))
    }

    /// Refuses (`PERMISSION_DENIED`, `invitation.not_permitted`) unless the caller may invite
    /// `staff` (`policy/people.cedar`). Someone just added may not be in this service's copy
    /// of the directory yet: it waits a little for them.
    async fn may_invite(
        &self,
        trust: TrustId,
        caller: StaffId,
        staff: StaffId,
    ) -> Result<(), ServiceError> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let directory = loop {
            let directory = self.access.directory(trust).await?;
            let known =
                directory.staff.contains_key(&staff) && directory.staff.contains_key(&caller);
            if known || tokio::time::Instant::now() >= deadline {
                break directory;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        if self
            .policies
            .allows_on_person(&directory, caller, PersonVerb::Invite, staff)
        {
            Ok(())
        } else {
            Err(ServiceError::new(
                waymark_runtime::ErrorKind::PermissionDenied,
                "invitation.not_permitted",
                "only the person's school administrators, head teacher or a trust administrator invite them",
            ))
        }
    }

    fn pool(&self) -> &sqlx::PgPool {
        &self.platform.pool
    }
}

fn me(context: &RequestContext) -> StaffId {
    StaffId::from_uuid(context.caller.actor.into_uuid())
}

fn time(field: &str, value: &str) -> Result<Option<NaiveTime>, ServiceError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    NaiveTime::parse_from_str(value.trim(), "%H:%M")
        .map(Some)
        .map_err(|_| ServiceError::invalid(field, "is not a time (HH:MM)"))
}

fn email(value: &str) -> Result<Option<String>, ServiceError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let valid = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>');
    if valid {
        Ok(Some(value.to_owned()))
    } else {
        Err(ServiceError::invalid("email", "is not an e-mail address"))
    }
}

fn preferences_message(p: &notices::Preferences) -> pb::Preferences {
    pb::Preferences {
        email: p.email,
        webhook: p.webhook,
        mode: p.mode.clone(),
        weekly_digest: p.weekly_digest,
        quiet_from: p
            .quiet_from
            .map(|t| t.format("%H:%M").to_string())
            .unwrap_or_default(),
        quiet_to: p
            .quiet_to
            .map(|t| t.format("%H:%M").to_string())
            .unwrap_or_default(),
    }
}

fn rfc3339(instant: chrono::DateTime<chrono::Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tonic::async_trait]
impl pb::notifications_server::Notifications for NotificationsService {
    async fn upsert_contact(
        &self,
        request: Request<pb::Contact>,
    ) -> Result<Response<pb::Contact>, Status> {
        let context = RequestContext::of(&request)?;
        self.may_sync_contacts(&context)?;
        let contact = request.into_inner();
        let staff: StaffId = parse::id("staff_id", &contact.staff_id)?;
        let name = Text::parse_max(&contact.display_name, 120)
            .map_err(|error| ServiceError::invalid("display_name", error))?;
        let address = email(&contact.email)?;
        let manager = parse::optional_id::<StaffId>("line_manager_id", &contact.line_manager_id)?;
        let school = parse::optional_id::<SchoolId>("school_id", &contact.school_id)?;
        sqlx::query!(
            "INSERT INTO notifications.contacts (trust_id, staff_id, display_name, email, line_manager_id, school_id, \
             updated_at, directory_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (trust_id, staff_id) DO UPDATE SET display_name = $3, email = $4, line_manager_id = $5, \
             school_id = $6, updated_at = $7, directory_version = greatest(notifications.contacts.directory_version, $8) \
             WHERE $8 = 0 OR notifications.contacts.directory_version <= $8",
            context.caller.trust.into_uuid(),
            staff.into_uuid(),
            name.as_str(),
            address,
            manager.map(StaffId::into_uuid),
            school.map(SchoolId::into_uuid),
            self.platform.clock.now(),
            contact.version.max(0),
        )
        .execute(self.pool())
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(contact))
    }

    async fn delete_contact(
        &self,
        request: Request<pb::DeleteContactRequest>,
    ) -> Result<Response<pb::DeleteContactResponse>, Status> {
        let context = RequestContext::of(&request)?;
        self.may_sync_contacts(&context)?;
        let staff: StaffId = parse::id("staff_id", &request.get_ref().staff_id)?;
        let (trust, staff) = (context.caller.trust.into_uuid(), staff.into_uuid());
        let mut tx = self.pool().begin().await.map_err(ServiceError::from)?;
        for sql in [
            "DELETE FROM notifications.contacts WHERE trust_id = $1 AND staff_id = $2",
            "DELETE FROM notifications.preferences WHERE trust_id = $1 AND staff_id = $2",
        ] {
            sqlx::query(sql)
                .bind(trust)
                .bind(staff)
                .execute(&mut *tx)
                .await
                .map_err(ServiceError::from)?;
        }
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(pb::DeleteContactResponse {}))
    }

    async fn get_preferences(
        &self,
        request: Request<pb::GetPreferencesRequest>,
    ) -> Result<Response<pb::Preferences>, Status> {
        let context = RequestContext::of(&request)?;
        let mut conn = self.pool().acquire().await.map_err(ServiceError::from)?;
        let preferences = notices::preferences(&mut conn, context.caller.trust, me(&context))
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(preferences_message(&preferences)))
    }

    async fn set_preferences(
        &self,
        request: Request<pb::Preferences>,
    ) -> Result<Response<pb::Preferences>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        if !["immediate", "daily", "weekly"].contains(&request.mode.as_str()) {
            return Err(ServiceError::invalid("mode", "must be immediate, daily or weekly").into());
        }
        let (from, to) = (
            time("quiet_from", &request.quiet_from)?,
            time("quiet_to", &request.quiet_to)?,
        );
        if from.is_some() != to.is_some() {
            return Err(ServiceError::invalid(
                "quiet_to",
                "quiet hours need both a start and an end",
            )
            .into());
        }
        sqlx::query!(
            "INSERT INTO notifications.preferences (trust_id, staff_id, email, webhook, mode, weekly_digest, quiet_from, quiet_to) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (trust_id, staff_id) DO UPDATE SET email = $3, webhook = $4, \
             mode = $5, weekly_digest = $6, quiet_from = $7, quiet_to = $8",
            context.caller.trust.into_uuid(),
            me(&context).into_uuid(),
            request.email,
            request.webhook,
            request.mode,
            request.weekly_digest,
            from,
            to,
        )
        .execute(self.pool())
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(request))
    }

    async fn set_school_webhook(
        &self,
        request: Request<pb::SetSchoolWebhookRequest>,
    ) -> Result<Response<pb::SetSchoolWebhookResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        self.access
            .school(&context, SchoolVerb::ManageWebhooks, school)
            .await?;
        let url = request.url.trim();
        let url = if url.is_empty() {
            None
        } else {
            // Only public https addresses: a webhook must not reach into the trust's network.
            waymark_runtime::net::check_url(url, self.platform.config.network.allow_loopback)
                .map_err(|reason| ServiceError::invalid("url", reason))?;
            Some(url.to_owned())
        };
        let secret = url.as_ref().map(|_| rand::random::<[u8; 32]>().to_vec());
        sqlx::query!(
            "INSERT INTO notifications.schools (trust_id, school_id, webhook_url, webhook_secret) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (trust_id, school_id) DO UPDATE SET webhook_url = $3, webhook_secret = $4",
            context.caller.trust.into_uuid(),
            school.into_uuid(),
            url,
            secret,
        )
        .execute(self.pool())
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(pb::SetSchoolWebhookResponse {
            secret: secret
                .map(|secret| crate::delivery::show_secret(&secret))
                .unwrap_or_default(),
        }))
    }

    async fn list_school_webhooks(
        &self,
        request: Request<pb::ListSchoolWebhooksRequest>,
    ) -> Result<Response<pb::ListSchoolWebhooksResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let rows = sqlx::query!(
            "SELECT school_id, webhook_url AS \"url!\" FROM notifications.schools \
             WHERE trust_id = $1 AND webhook_url IS NOT NULL ORDER BY school_id",
            context.caller.trust.into_uuid(),
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        let mut webhooks = Vec::new();
        for row in rows {
            let school = SchoolId::from_uuid(row.school_id);
            if self
                .access
                .school(&context, SchoolVerb::ManageWebhooks, school)
                .await
                .is_ok()
            {
                webhooks.push(pb::SchoolWebhook {
                    school_id: row.school_id.to_string(),
                    host: url::Url::parse(&row.url)
                        .ok()
                        .and_then(|url| url.host_str().map(str::to_owned))
                        .unwrap_or_default(),
                });
            }
        }
        Ok(Response::new(pb::ListSchoolWebhooksResponse { webhooks }))
    }

    async fn list_inbox(
        &self,
        request: Request<pb::ListInboxRequest>,
    ) -> Result<Response<pb::ListInboxResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let limit = i64::from(if request.limit <= 0 {
            50
        } else {
            request.limit.min(500)
        });
        let (trust, person) = (context.caller.trust.into_uuid(), me(&context).into_uuid());
        let rows = sqlx::query!(
            "SELECT notice_id, kind, title, body, link, created_at, read_at, urgent FROM notifications.notices \
             WHERE trust_id = $1 AND recipient_id = $2 AND (NOT $3 OR read_at IS NULL) ORDER BY created_at DESC LIMIT $4",
            trust,
            person,
            request.unread_only,
            limit
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        let unread = sqlx::query_scalar!(
            "SELECT count(*) AS \"count!\" FROM notifications.notices WHERE trust_id = $1 AND recipient_id = $2 AND read_at IS NULL",
            trust,
            person
        )
        .fetch_one(self.pool())
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListInboxResponse {
            notices: rows
                .into_iter()
                .map(|n| pb::Notice {
                    notice_id: n.notice_id.to_string(),
                    kind: n.kind,
                    title: n.title,
                    body: n.body,
                    link: n.link,
                    created_at: rfc3339(n.created_at),
                    read: n.read_at.is_some(),
                    urgent: n.urgent,
                })
                .collect(),
            unread,
        }))
    }

    async fn mark_read(
        &self,
        request: Request<pb::MarkReadRequest>,
    ) -> Result<Response<pb::MarkReadResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let ids = request
            .get_ref()
            .notice_ids
            .iter()
            .map(|id| {
                Uuid::parse_str(id.trim())
                    .map_err(|_| ServiceError::invalid("notice_ids", "is not a valid id"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let marked = sqlx::query!(
            "UPDATE notifications.notices SET read_at = now() WHERE trust_id = $1 AND recipient_id = $2 AND read_at IS NULL \
             AND (cardinality($3::uuid[]) = 0 OR notice_id = ANY($3))",
            context.caller.trust.into_uuid(),
            me(&context).into_uuid(),
            &ids
        )
        .execute(self.pool())
        .await
        .map_err(ServiceError::from)?
        .rows_affected();
        Ok(Response::new(pb::MarkReadResponse {
            marked: i64::try_from(marked).unwrap_or(i64::MAX),
        }))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let state = parse::optional_text("state", &request.state)?;
        let mut recipient = parse::optional_id::<StaffId>("recipient_id", &request.recipient_id)?;
        if !self.sees_deliveries(&context).await? {
            permit(
                recipient.is_none_or(|r| r == me(&context)),
                "trust.not_permitted",
                TrustVerb::SeeDeliveries.refusal(),
            )?;
            recipient = Some(me(&context));
        }
        let recipient = recipient.map(StaffId::into_uuid);
        let limit = i64::from(if request.limit <= 0 {
            100
        } else {
            request.limit.min(1000)
        });
        let rows = sqlx::query!(
            "SELECT delivery_id, key, recipient_id, channel, state, attempts, last_error, next_attempt_at, sent_at, \
             message ->> 'subject' AS subject, message ->> 'note' AS note FROM notifications.deliveries \
             WHERE trust_id = $1 AND ($2::text IS NULL OR state = $2) AND ($3::uuid IS NULL OR recipient_id = $3) \
             ORDER BY created_at DESC LIMIT $4",
            context.caller.trust.into_uuid(),
            state.as_ref().map(Text::as_str),
            recipient,
            limit
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: rows
                .into_iter()
                .map(|d| pb::Delivery {
                    delivery_id: d.delivery_id.to_string(),
                    key: d.key,
                    recipient_id: d.recipient_id.to_string(),
                    channel: d.channel,
                    state: d.state,
                    attempts: d.attempts,
                    last_error: d.last_error.unwrap_or_default(),
                    next_attempt_at: rfc3339(d.next_attempt_at),
                    sent_at: d.sent_at.map(rfc3339).unwrap_or_default(),
                    subject: d.subject.unwrap_or_default(),
                    note: d.note.unwrap_or_default(),
                })
                .collect(),
        }))
    }

    async fn send_invitation(
        &self,
        request: Request<pb::SendInvitationRequest>,
    ) -> Result<Response<pb::Delivery>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command: Uuid =
            parse::id::<waymark_domain::CommandId>("command_id", &request.command_id)?.into_uuid();
        let staff: StaffId = parse::id("staff_id", &request.staff_id)?;
        self.may_invite(context.caller.trust, me(&context), staff)
            .await?;
        let name = Text::parse_max(&request.display_name, 120)
            .map_err(|error| ServiceError::invalid("display_name", error))?;
        let address =
            email(&request.email)?.ok_or_else(|| ServiceError::invalid("email", "is required"))?;
        let link = request.link.trim();
        if !waymark_domain::pages::is_path(link) || !link.starts_with("/invitations/") {
            return Err(
                ServiceError::invalid("link", "must be the path of an invitation page").into(),
            );
        }
        let inviter = Text::parse_max(&request.trust_name, 200)
            .map_or_else(|_| "Your school".to_owned(), |t| t.to_string());
        let message = serde_json::json!({
            "subject": "Set up your Waymark sign-in",
            "text": format!(
                "{inviter} keeps its progress reviews, meetings and agreed actions in Waymark, and has made you an account.\n\n\
                 Open the link below to choose a password (or to sign in with your school's Microsoft or Google account). \
                 It works once, within 14 days; if it has run out, ask your school's administrator for a new one."
            ),
            "link": link,
            "to": { "name": name.as_str(), "email": address },
            "account": true,
        });
        let key = format!("invitation:{command}");
        let mut tx = self.pool().begin().await.map_err(ServiceError::from)?;
        notices::queue(
            &mut tx,
            &key,
            context.caller.trust,
            staff,
            "email",
            message,
            self.platform.clock.now(),
        )
        .await
        .map_err(ServiceError::from)?;
        tx.commit().await.map_err(ServiceError::from)?;
        self.wake.notify_one();
        let row = sqlx::query!(
            "SELECT delivery_id, key, recipient_id, channel, state, attempts, last_error, next_attempt_at \
             FROM notifications.deliveries WHERE trust_id = $1 AND key = $2",
            context.caller.trust.into_uuid(),
            key
        )
        .fetch_one(self.pool())
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(pb::Delivery {
            delivery_id: row.delivery_id.to_string(),
            key: row.key,
            recipient_id: row.recipient_id.to_string(),
            channel: row.channel,
            state: row.state,
            attempts: row.attempts,
            last_error: row.last_error.unwrap_or_default(),
            next_attempt_at: rfc3339(row.next_attempt_at),
            sent_at: String::new(),
            subject: "Set up your Waymark sign-in".to_owned(),
            note: String::new(),
        }))
    }

    async fn retry_delivery(
        &self,
        request: Request<pb::RetryDeliveryRequest>,
    ) -> Result<Response<pb::Delivery>, Status> {
        let context = RequestContext::of(&request)?;
        self.access
            .trust(&context, TrustVerb::SeeDeliveries)
            .await?;
        let id = Uuid::parse_str(request.get_ref().delivery_id.trim())
            .map_err(|_| ServiceError::invalid("delivery_id", "is not a valid id"))?;
        let row = sqlx::query!(
            "UPDATE notifications.deliveries SET state = 'queued', attempts = 0, next_attempt_at = $3 \
             WHERE trust_id = $1 AND delivery_id = $2 AND state = 'parked' \
             RETURNING delivery_id, key, recipient_id, channel, state, attempts, last_error, next_attempt_at",
            context.caller.trust.into_uuid(),
            id,
            self.platform.clock.now()
        )
        .fetch_optional(self.pool())
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| ServiceError::new(waymark_runtime::ErrorKind::FailedPrecondition, "delivery.not_parked", "no parked delivery with that id"))?;
        self.wake.notify_one();
        Ok(Response::new(pb::Delivery {
            delivery_id: row.delivery_id.to_string(),
            key: row.key,
            recipient_id: row.recipient_id.to_string(),
            channel: row.channel,
            state: row.state,
            attempts: row.attempts,
            last_error: row.last_error.unwrap_or_default(),
            next_attempt_at: rfc3339(row.next_attempt_at),
            sent_at: String::new(),
            subject: String::new(),
            note: String::new(),
        }))
    }
}
