//! Who may do what: Waymark's authorization policies, in Cedar, in `policy/` at the top of
//! the repository (schema and policies, validated against each other when loaded and in
//! CI). Each service asks here before it decides, with entities it builds from its own read
//! models: the directory (people, roles, line managers) and the record concerned.
//!
//! Pure: no IO. A service loads [`Policies`] once and asks [`Policies::allows`].

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, RestrictedExpression, Schema, SlotId, ValidationMode, Validator,
};
use waymark_domain::directory::{DirectoryState, Grant, Role};
use waymark_domain::ids::ActorId;
use waymark_domain::{SchoolId, StaffId};

#[cfg(test)]
mod table;

const SCHEMA: &str = include_str!("../../../policy/waymark.cedarschema");
const POLICIES: [(&str, &str); 5] = [
    ("common.cedar", include_str!("../../../policy/common.cedar")),
    ("school.cedar", include_str!("../../../policy/school.cedar")),
    (
        "records.cedar",
        include_str!("../../../policy/records.cedar"),
    ),
    (
        "actions.cedar",
        include_str!("../../../policy/actions.cedar"),
    ),
    ("people.cedar", include_str!("../../../policy/people.cedar")),
];

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy schema does not parse: {0}")]
    Schema(String),
    #[error("{file} does not parse: {message}")]
    Parse { file: &'static str, message: String },
    #[error("the policies do not validate against the schema: {0}")]
    Invalid(String),
}

/// What is asked about an agreed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionVerb {
    Read,
    Create,
    Start,
    NoteProgress,
    RecordEvidence,
    Complete,
    ChangeDue,
    Reassign,
    Drop,
    Reopen,
    CarryForward,
}

impl ActionVerb {
    pub const ALL: [Self; 11] = [
        Self::Read,
        Self::Create,
        Self::Start,
        Self::NoteProgress,
        Self::RecordEvidence,
        Self::Complete,
        Self::ChangeDue,
        Self::Reassign,
        Self::Drop,
        Self::Reopen,
        Self::CarryForward,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Start => "start",
            Self::NoteProgress => "note-progress",
            Self::RecordEvidence => "record-evidence",
            Self::Complete => "complete",
            Self::ChangeDue => "change-due",
            Self::Reassign => "reassign",
            Self::Drop => "drop",
            Self::Reopen => "reopen",
            Self::CarryForward => "carry-forward",
        }
    }
}

/// What is asked about a person (the one managed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonVerb {
    Invite,
    Disable,
    Enable,
    SetLineManager,
    Edit,
}

impl PersonVerb {
    pub const ALL: [Self; 5] = [
        Self::Invite,
        Self::Disable,
        Self::Enable,
        Self::SetLineManager,
        Self::Edit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::SetLineManager => "set-line-manager",
            Self::Edit => "edit-person",
        }
    }
}

/// What is asked about the trust as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrustVerb {
    /// Its frameworks, look-fors, evidence sources and default plan.
    Read,
    ManageFrameworks,
    /// Look-fors and evidence sources.
    ManageCatalogue,
    /// The default monitoring plan schools adopt.
    ManagePlan,
    /// Learner names, sign-in and other trust-wide settings.
    ManageSettings,
    /// The overview across schools, and the heat map of audits.
    SeeOverview,
    /// The e-mail and webhook delivery log of everyone.
    SeeDeliveries,
    /// Who read whose records: the access log of everyone.
    SeeAccessLog,
    /// Everything held about a person, for a subject-access request.
    ExportPersonalData,
}

impl TrustVerb {
    pub const ALL: [Self; 9] = [
        Self::Read,
        Self::ManageFrameworks,
        Self::ManageCatalogue,
        Self::ManagePlan,
        Self::ManageSettings,
        Self::SeeOverview,
        Self::SeeDeliveries,
        Self::SeeAccessLog,
        Self::ExportPersonalData,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read-trust",
            Self::ManageFrameworks => "manage-frameworks",
            Self::ManageCatalogue => "manage-catalogue",
            Self::ManagePlan => "manage-trust-plan",
            Self::ManageSettings => "manage-trust-settings",
            Self::SeeOverview => "see-trust-overview",
            Self::SeeDeliveries => "see-deliveries",
            Self::SeeAccessLog => "see-access-log",
            Self::ExportPersonalData => "export-personal-data",
        }
    }

    /// What someone refused is told.
    pub fn refusal(self) -> &'static str {
        match self {
            Self::Read => "you are not a member of this trust",
            Self::ManageFrameworks => "only trust administrators change frameworks",
            Self::ManageCatalogue => {
                "only trust administrators change look-fors and evidence sources"
            }
            Self::ManagePlan => {
                "only trust leaders and administrators change the trust's default plan"
            }
            Self::ManageSettings => "only trust administrators change the trust's settings",
            Self::SeeOverview => "only trust leaders and administrators see across the trust",
            Self::SeeDeliveries => "only trust administrators see everyone's deliveries",
            Self::SeeAccessLog => "only trust administrators see who read everyone's records",
            Self::ExportPersonalData => {
                "only trust administrators export what is held about a person"
            }
        }
    }
}

/// What is asked about one school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchoolVerb {
    /// Its calendar, plan and year of occurrences.
    Read,
    ManageCalendar,
    /// Adopting and changing its plan, generating its year.
    ManagePlan,
    /// Booking visits, seeing requests and who has not been visited.
    PlanVisits,
    StartAudit,
    /// Its trends across audits.
    SeeTrends,
    ManageWebhooks,
}

impl SchoolVerb {
    pub const ALL: [Self; 7] = [
        Self::Read,
        Self::ManageCalendar,
        Self::ManagePlan,
        Self::PlanVisits,
        Self::StartAudit,
        Self::SeeTrends,
        Self::ManageWebhooks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read-school",
            Self::ManageCalendar => "manage-calendar",
            Self::ManagePlan => "manage-school-plan",
            Self::PlanVisits => "plan-visits",
            Self::StartAudit => "start-audit",
            Self::SeeTrends => "see-school-trends",
            Self::ManageWebhooks => "manage-webhooks",
        }
    }

    /// What someone refused is told.
    pub fn refusal(self) -> &'static str {
        match self {
            Self::Read => "you are not on the staff of this school",
            Self::ManageCalendar => {
                "only the school's head teacher and administrators change its calendar"
            }
            Self::ManagePlan => {
                "only the school's head teacher, senior leaders and administrators change its plan"
            }
            Self::PlanVisits => "only the school's leaders plan its visits",
            Self::StartAudit => "only the school's leaders start an audit",
            Self::SeeTrends => "only the school's head teacher and senior leaders see its trends",
            Self::ManageWebhooks => "only trust administrators set a school's webhooks",
        }
    }
}

/// What is asked about one planned occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OccurrenceVerb {
    /// Holding, moving or cancelling it, attaching files, ticking the head teacher's
    /// checklist.
    Run,
    /// Ticking the class teacher's checklist.
    TickClassChecklist,
}

impl OccurrenceVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run-occurrence",
            Self::TickClassChecklist => "tick-class-checklist",
        }
    }

    /// What someone refused is told.
    pub fn refusal(self) -> &'static str {
        match self {
            Self::Run => {
                "only whoever leads it, or the school's head teacher and senior leaders, hold, move or cancel it"
            }
            Self::TickClassChecklist => {
                "only the school's staff tick the class teacher's checklist"
            }
        }
    }
}

/// The facts about a planned occurrence that its policies read.
#[derive(Debug, Clone, PartialEq)]
pub struct OccurrenceFacts {
    pub school: SchoolId,
    pub owner: StaffId,
    pub participants: Vec<StaffId>,
}

/// The facts about a self-evaluation audit that its policies read.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditFacts {
    pub school: SchoolId,
    /// Its lead and participants.
    pub parties: Vec<StaffId>,
    pub finalised: bool,
}

/// What someone may do with an audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditAccess {
    pub read: bool,
    /// Rate, add strengths and weaknesses, finalise.
    pub work: bool,
}

/// The facts about an agreed action that its policies read.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionFacts {
    pub school: SchoolId,
    pub owner: StaffId,
    pub supporters: Vec<StaffId>,
    /// Who agreed or set it (the actor of its creation).
    pub agreed_by: Option<StaffId>,
    pub live: bool,
}

/// The facts about a progress review, visit or meeting that its policies read.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFacts {
    pub school: SchoolId,
    /// The people who take part in it.
    pub parties: Vec<StaffId>,
    /// Whom the agreed record goes to (besides the school's head and the trust's leaders).
    pub shared_with: Vec<StaffId>,
    /// Agreed by both (a meeting: closed).
    pub agreed: bool,
}

/// How much of a record someone may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecordAccess {
    /// Nothing: to them it does not exist.
    None,
    /// That it exists, whose it is, when and its state; never what it says.
    Status,
    /// All of it.
    Full,
}

/// The loaded, validated policies. Cheap to share (`Arc`); load once.
#[derive(Debug)]
pub struct Policies {
    schema: Schema,
    policies: PolicySet,
    authorizer: Authorizer,
}

impl Policies {
    /// Parses the schema and the policies and validates them strictly against each other.
    pub fn load() -> Result<Self, PolicyError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(SCHEMA)
            .map_err(|error| PolicyError::Schema(error.to_string()))?;
        let mut policies = PolicySet::new();
        for (file, text) in POLICIES {
            let parsed = PolicySet::from_str(text).map_err(|error| PolicyError::Parse {
                file,
                message: error.to_string(),
            })?;
            // Each policy and template is known by its `@id`, unique across the files.
            for template in parsed.templates() {
                let id = template
                    .annotation("id")
                    .ok_or_else(|| PolicyError::Parse {
                        file,
                        message: format!("a template has no @id: {template}"),
                    })?;
                policies
                    .add_template(template.new_id(PolicyId::new(id)))
                    .map_err(|error| PolicyError::Parse {
                        file,
                        message: error.to_string(),
                    })?;
            }
            for policy in parsed.policies() {
                let id = policy.annotation("id").ok_or_else(|| PolicyError::Parse {
                    file,
                    message: format!("a policy has no @id: {policy}"),
                })?;
                policies
                    .add(policy.new_id(PolicyId::new(id)))
                    .map_err(|error| PolicyError::Parse {
                        file,
                        message: error.to_string(),
                    })?;
            }
        }
        let validated = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !validated.validation_passed() {
            let errors: Vec<String> = validated
                .validation_errors()
                .map(|e| e.to_string())
                .collect();
            return Err(PolicyError::Invalid(errors.join("; ")));
        }
        Ok(Self {
            schema,
            policies,
            authorizer: Authorizer::new(),
        })
    }

    /// May `who` do `verb` to the action described by `facts`?
    pub fn allows_on_action(
        &self,
        directory: &DirectoryState,
        who: StaffId,
        verb: ActionVerb,
        facts: &ActionFacts,
    ) -> bool {
        let resource = uid("AgreedAction", "action");
        let owner_managers = directory.managers_of(facts.owner);
        let attrs = HashMap::from([
            ("school".to_owned(), entity_ref(school_uid(facts.school))),
            ("owner".to_owned(), entity_ref(person_uid(facts.owner))),
            ("owner_managers".to_owned(), people(&owner_managers)),
            ("supporters".to_owned(), people(&facts.supporters)),
            ("agreed_by".to_owned(), people(facts.agreed_by.as_slice())),
            (
                "live".to_owned(),
                RestrictedExpression::new_bool(facts.live),
            ),
        ]);
        let action = Entity::new(resource.clone(), attrs, HashSet::new());
        self.decide(
            directory,
            who,
            verb.as_str(),
            resource,
            action.ok(),
            Context::empty(),
        )
    }

    /// How much of the record described by `facts` `who` may have.
    pub fn record_access(
        &self,
        directory: &DirectoryState,
        who: StaffId,
        facts: &RecordFacts,
    ) -> RecordAccess {
        let resource = uid("Record", "record");
        let attrs = HashMap::from([
            ("school".to_owned(), entity_ref(school_uid(facts.school))),
            ("parties".to_owned(), people(&facts.parties)),
            ("shared_with".to_owned(), people(&facts.shared_with)),
            (
                "agreed".to_owned(),
                RestrictedExpression::new_bool(facts.agreed),
            ),
        ]);
        let record = Entity::new(
            resource.clone(),
            attrs,
            HashSet::from([school_uid(facts.school)]),
        );
        let school = Entity::new_no_attrs(school_uid(facts.school), HashSet::from([trust_uid()]));
        let Ok(record) = record else {
            return RecordAccess::None;
        };
        // The trust's setting, linked into its template for this person's roles only.
        let shared = self.shared_agreed_records(directory, who);
        let policies = shared.as_ref().unwrap_or(&self.policies);
        let may = |action| {
            let entities = vec![person(directory, who), record.clone(), school.clone()];
            self.ask(
                policies,
                person_uid(who),
                action,
                resource.clone(),
                Context::empty(),
                entities,
            )
        };
        if may("read-record") {
            RecordAccess::Full
        } else if may("see-record") {
            RecordAccess::Status
        } else {
            RecordAccess::None
        }
    }

    /// The policies with the trust's "who else reads agreed records" setting linked into
    /// its template for the roles `who` holds; `None` when the setting names none of them.
    fn shared_agreed_records(&self, directory: &DirectoryState, who: StaffId) -> Option<PolicySet> {
        let grants = &directory.staff.get(&who)?.grants;
        let links: Vec<(EntityUid, EntityUid)> = grants
            .iter()
            .filter(|g| directory.agreed_record_readers.contains(&g.role))
            .map(|g| (group_uid(g), g.school.map_or_else(trust_uid, school_uid)))
            .collect();
        if links.is_empty() {
            return None;
        }
        let mut policies = self.policies.clone();
        for (n, (group, scope)) in links.into_iter().enumerate() {
            let linked = policies.link(
                PolicyId::new(SHARE_TEMPLATE),
                PolicyId::new(format!("{SHARE_TEMPLATE}-{n}")),
                HashMap::from([(SlotId::principal(), group), (SlotId::resource(), scope)]),
            );
            // A link that cannot be made shares nothing: the rules every trust has still hold.
            if linked.is_err() {
                return None;
            }
        }
        Some(policies)
    }

    /// May `who` do `verb` to the person `whom`?
    pub fn allows_on_person(
        &self,
        directory: &DirectoryState,
        who: StaffId,
        verb: PersonVerb,
        whom: StaffId,
    ) -> bool {
        let resource = person_uid(whom);
        let entity = (whom != who).then(|| person(directory, whom));
        self.decide(
            directory,
            who,
            verb.as_str(),
            resource,
            entity,
            Context::empty(),
        )
    }

    /// May `who` give (`grant`) or take away a role from `whom`?
    pub fn allows_role_change(
        &self,
        directory: &DirectoryState,
        who: StaffId,
        whom: StaffId,
        role: Grant,
        grant: bool,
    ) -> bool {
        let school = role.school.map_or_else(|| uid("School", "-"), school_uid);
        let context = Context::from_pairs([
            (
                "role".to_owned(),
                RestrictedExpression::new_string(role.role.as_str().to_owned()),
            ),
            (
                "trust_wide".to_owned(),
                RestrictedExpression::new_bool(role.school.is_none()),
            ),
            ("school".to_owned(), entity_ref(school)),
        ]);
        let Ok(context) = context else {
            return false;
        };
        let entity = (whom != who).then(|| person(directory, whom));
        self.decide(
            directory,
            who,
            if grant { "grant-role" } else { "revoke-role" },
            person_uid(whom),
            entity,
            context,
        )
    }

    /// May `who` do `verb` to the trust as a whole?
    pub fn allows_on_trust(
        &self,
        directory: &DirectoryState,
        who: StaffId,
        verb: TrustVerb,
    ) -> bool {
        self.decide(
            directory,
            who,
            verb.as_str(),
            uid("Trust", "trust"),
            None,
            Context::empty(),
        )
    }

    /// May `who` do `verb` to `school`?
    pub fn allows_on_school(
        &self,
        directory: &DirectoryState,
        who: StaffId,
        verb: SchoolVerb,
        school: SchoolId,
    ) -> bool {
        self.decide(
            directory,
            who,
            verb.as_str(),
            school_uid(school),
            None,
            Context::empty(),
        )
    }

    /// May `who` ask for a visit of `teacher` in `school`?
    pub fn allows_visit_request(
        &self,
        directory: &DirectoryState,
        who: StaffId,
        school: SchoolId,
        teacher: StaffId,
    ) -> bool {
        let Ok(context) =
            Context::from_pairs([("teacher".to_owned(), entity_ref(person_uid(teacher)))])
        else {
            return false;
        };
        self.decide(
            directory,
            who,
            "request-visit",
            school_uid(school),
            None,
            context,
        )
    }

    /// May `who` do `verb` to the occurrence described by `facts`?
    pub fn allows_on_occurrence(
        &self,
        directory: &DirectoryState,
        who: StaffId,
        verb: OccurrenceVerb,
        facts: &OccurrenceFacts,
    ) -> bool {
        let resource = uid("Occurrence", "occurrence");
        let attrs = HashMap::from([
            ("school".to_owned(), entity_ref(school_uid(facts.school))),
            ("owner".to_owned(), entity_ref(person_uid(facts.owner))),
            ("participants".to_owned(), people(&facts.participants)),
        ]);
        let entity = Entity::new(resource.clone(), attrs, HashSet::new()).ok();
        self.decide(
            directory,
            who,
            verb.as_str(),
            resource,
            entity,
            Context::empty(),
        )
    }

    /// What `who` may do with the audit described by `facts`.
    pub fn audit_access(
        &self,
        directory: &DirectoryState,
        who: StaffId,
        facts: &AuditFacts,
    ) -> AuditAccess {
        let resource = uid("Audit", "audit");
        let attrs = HashMap::from([
            ("school".to_owned(), entity_ref(school_uid(facts.school))),
            ("parties".to_owned(), people(&facts.parties)),
            (
                "finalised".to_owned(),
                RestrictedExpression::new_bool(facts.finalised),
            ),
        ]);
        let entity = Entity::new(resource.clone(), attrs, HashSet::new()).ok();
        let may = |action| {
            self.decide(
                directory,
                who,
                action,
                resource.clone(),
                entity.clone(),
                Context::empty(),
            )
        };
        AuditAccess {
            read: may("read-audit"),
            work: may("work-on-audit"),
        }
    }

    /// May `actor` keep people's contact details? Only the directory, acting as itself.
    pub fn allows_contact_sync(&self, actor: ActorId) -> bool {
        if actor != waymark_domain::directory::directory_actor() {
            return false;
        }
        self.ask(
            &self.policies,
            uid("Service", "directory"),
            "sync-contacts",
            uid("Trust", "trust"),
            Context::empty(),
            Vec::new(),
        )
    }

    /// The one place a decision is made for a person: anything malformed is a refusal.
    fn decide(
        &self,
        directory: &DirectoryState,
        who: StaffId,
        action: &str,
        resource: EntityUid,
        resource_entity: Option<Entity>,
        context: Context,
    ) -> bool {
        let mut entities = vec![person(directory, who)];
        entities.extend(resource_entity);
        self.ask(
            &self.policies,
            person_uid(who),
            action,
            resource,
            context,
            entities,
        )
    }

    fn ask(
        &self,
        policies: &PolicySet,
        principal: EntityUid,
        action: &str,
        resource: EntityUid,
        context: Context,
        entities: Vec<Entity>,
    ) -> bool {
        let Ok(request) = Request::new(
            principal,
            uid("Action", action),
            resource,
            context,
            Some(&self.schema),
        ) else {
            return false;
        };
        let Ok(entities) = Entities::from_entities(entities, Some(&self.schema)) else {
            return false;
        };
        self.authorizer
            .is_authorized(&request, policies, &entities)
            .decision()
            == Decision::Allow
    }
}

fn uid(kind: &str, id: &str) -> EntityUid {
    let name = EntityTypeName::from_str(&format!("Waymark::{kind}"))
        .unwrap_or_else(|_| unreachable!("our entity type names parse"));
    EntityUid::from_type_name_and_id(name, EntityId::new(id))
}

fn person_uid(staff: StaffId) -> EntityUid {
    uid("Person", &staff.to_string())
}

fn school_uid(school: SchoolId) -> EntityUid {
    uid("School", &school.to_string())
}

fn trust_uid() -> EntityUid {
    uid("Trust", "trust")
}

/// The template a trust's "who else reads agreed records" setting is linked into.
const SHARE_TEMPLATE: &str = "trust-shares-agreed-records";

/// Everyone holding `grant`'s role: in its school, or trust-wide.
fn group_uid(grant: &Grant) -> EntityUid {
    match grant.school {
        Some(school) => uid("Group", &format!("{}@{school}", grant.role.as_str())),
        None => uid("Group", grant.role.as_str()),
    }
}

fn entity_ref(uid: EntityUid) -> RestrictedExpression {
    RestrictedExpression::new_entity_uid(uid)
}

fn people(ids: &[StaffId]) -> RestrictedExpression {
    RestrictedExpression::new_set(ids.iter().map(|id| entity_ref(person_uid(*id))))
}

/// A person as the directory has them: a principal, or the person a request is about.
fn person(directory: &DirectoryState, staff: StaffId) -> Entity {
    let record = directory.staff.get(&staff).cloned().unwrap_or_default();
    let schools = |wanted: &dyn Fn(Role) -> bool| {
        RestrictedExpression::new_set(
            record
                .grants
                .iter()
                .filter(|g| wanted(g.role))
                .filter_map(|g| g.school)
                .collect::<HashSet<_>>()
                .into_iter()
                .map(|s| entity_ref(school_uid(s))),
        )
    };
    let trust_roles = RestrictedExpression::new_set(
        record
            .grants
            .iter()
            .filter(|g| g.school.is_none())
            .map(|g| RestrictedExpression::new_string(g.role.as_str().to_owned())),
    );
    let attrs = HashMap::from([
        ("trust_roles".to_owned(), trust_roles),
        ("heads".to_owned(), schools(&|r| r == Role::HeadTeacher)),
        (
            "senior_leads".to_owned(),
            schools(&|r| r == Role::SeniorLeader),
        ),
        (
            "middle_leads".to_owned(),
            schools(&|r| r == Role::MiddleLeader),
        ),
        (
            "administers".to_owned(),
            schools(&|r| matches!(r, Role::HeadTeacher | Role::Admin)),
        ),
        ("member_of".to_owned(), schools(&|_| true)),
        (
            "line_manager".to_owned(),
            people(record.line_manager.as_slice()),
        ),
        ("managers".to_owned(), people(&directory.managers_of(staff))),
        (
            "disabled".to_owned(),
            RestrictedExpression::new_bool(
                record.disabled || !directory.staff.contains_key(&staff),
            ),
        ),
    ]);
    let parents: HashSet<EntityUid> = record.grants.iter().map(group_uid).collect();
    Entity::new(person_uid(staff), attrs, parents)
        .unwrap_or_else(|_| Entity::new_no_attrs(person_uid(staff), HashSet::new()))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;
    use waymark_domain::Decider;
    use waymark_domain::directory::{Directory, DirectoryEvent};
    use waymark_domain::text::Text;

    use super::*;

    fn staff() -> StaffId {
        StaffId::from_uuid(Uuid::new_v4())
    }

    struct School {
        directory: DirectoryState,
        hillside: SchoolId,
        riverside: SchoolId,
    }

    impl School {
        fn new() -> Self {
            let (hillside, riverside) = (
                SchoolId::from_uuid(Uuid::new_v4()),
                SchoolId::from_uuid(Uuid::new_v4()),
            );
            let mut school = Self {
                directory: DirectoryState::default(),
                hillside,
                riverside,
            };
            for id in [hillside, riverside] {
                school.apply(DirectoryEvent::SchoolAdded {
                    school_id: id,
                    name: Text::parse("A school").unwrap(),
                });
            }
            school
        }

        fn apply(&mut self, event: DirectoryEvent) {
            self.directory = Directory::evolve(std::mem::take(&mut self.directory), &event);
        }

        fn person(&mut self, roles: &[(Option<SchoolId>, Role)]) -> StaffId {
            let id = staff();
            self.apply(DirectoryEvent::StaffAdded { staff_id: id });
            for (school, role) in roles {
                self.apply(DirectoryEvent::RoleGranted {
                    staff_id: id,
                    grant: Grant {
                        school: *school,
                        role: *role,
                    },
                });
            }
            id
        }

        fn manages(&mut self, manager: StaffId, staff: StaffId) {
            self.apply(DirectoryEvent::LineManagerSet {
                staff_id: staff,
                manager: Some(manager),
            });
        }
    }

    #[test]
    fn the_policies_validate_against_the_schema() {
        Policies::load().unwrap();
    }

    #[test]
    fn the_owner_completes_an_action_and_a_colleague_may_not() {
        let policies = Policies::load().unwrap();
        let mut s = School::new();
        let hillside = s.hillside;
        let head = s.person(&[(Some(hillside), Role::HeadTeacher)]);
        let owner = s.person(&[(Some(hillside), Role::ClassTeacher)]);
        let colleague = s.person(&[(Some(hillside), Role::ClassTeacher)]);
        s.manages(head, owner);
        let facts = ActionFacts {
            school: hillside,
            owner,
            supporters: vec![],
            agreed_by: None,
            live: true,
        };
        let may = |who, verb| policies.allows_on_action(&s.directory, who, verb, &facts);
        assert!(may(owner, ActionVerb::Complete));
        assert!(!may(colleague, ActionVerb::Complete));
        assert!(may(colleague, ActionVerb::Read), "the school reads it");
        assert!(!may(colleague, ActionVerb::Drop));
        assert!(may(head, ActionVerb::ChangeDue), "the line manager");
        assert!(!may(owner, ActionVerb::Drop), "not the owner alone");
        s.apply(DirectoryEvent::StaffDisabled { staff_id: owner });
        let may = |who, verb| policies.allows_on_action(&s.directory, who, verb, &facts);
        assert!(
            !may(owner, ActionVerb::Complete),
            "a disabled account does nothing"
        );
    }

    #[test]
    fn a_record_stays_between_its_people_until_they_agree_it() {
        let policies = Policies::load().unwrap();
        let mut s = School::new();
        let (hillside, riverside) = (s.hillside, s.riverside);
        let head = s.person(&[(Some(hillside), Role::HeadTeacher)]);
        let senior = s.person(&[(Some(hillside), Role::SeniorLeader)]);
        let reviewer = s.person(&[(Some(hillside), Role::MiddleLeader)]);
        let reviewee = s.person(&[(Some(hillside), Role::ClassTeacher)]);
        let colleague = s.person(&[(Some(hillside), Role::MiddleLeader)]);
        let other_head = s.person(&[(Some(riverside), Role::HeadTeacher)]);
        let trust_leader = s.person(&[(None, Role::TrustLeader)]);
        let trust_admin = s.person(&[(None, Role::TrustAdmin)]);
        let mut facts = RecordFacts {
            school: hillside,
            parties: vec![reviewer, reviewee],
            shared_with: vec![senior],
            agreed: false,
        };
        let access = |who, facts: &RecordFacts| policies.record_access(&s.directory, who, facts);
        use RecordAccess::{Full, Status};
        const NOTHING: RecordAccess = RecordAccess::None;
        let everyone = [
            reviewer,
            reviewee,
            senior,
            head,
            colleague,
            other_head,
            trust_leader,
            trust_admin,
        ];
        let all = |facts: &RecordFacts| -> Vec<RecordAccess> {
            everyone.iter().map(|who| access(*who, facts)).collect()
        };
        assert_eq!(
            all(&facts),
            [Full, Full, Status, Status, NOTHING, NOTHING, Status, Status]
        );
        facts.agreed = true;
        assert_eq!(
            all(&facts),
            [Full, Full, Full, Full, NOTHING, NOTHING, Full, Status]
        );
        s.apply(DirectoryEvent::StaffDisabled { staff_id: reviewee });
        assert_eq!(
            policies.record_access(&s.directory, reviewee, &facts),
            NOTHING,
            "a disabled account reads nothing"
        );
    }

    #[test]
    fn a_trusts_setting_shares_agreed_records_with_a_role_in_its_own_school_only() {
        let policies = Policies::load().unwrap();
        let mut s = School::new();
        let (hillside, riverside) = (s.hillside, s.riverside);
        let reviewer = s.person(&[(Some(hillside), Role::MiddleLeader)]);
        let reviewee = s.person(&[(Some(hillside), Role::ClassTeacher)]);
        let senior = s.person(&[(Some(hillside), Role::SeniorLeader)]);
        let middle = s.person(&[(Some(hillside), Role::MiddleLeader)]);
        let middle_elsewhere = s.person(&[(Some(riverside), Role::MiddleLeader)]);
        let trust_admin = s.person(&[(None, Role::TrustAdmin)]);
        let mut facts = RecordFacts {
            school: hillside,
            parties: vec![reviewer, reviewee],
            shared_with: vec![],
            agreed: true,
        };
        let everyone = [senior, middle, middle_elsewhere, trust_admin];
        let all = |s: &School, facts: &RecordFacts| -> Vec<RecordAccess> {
            everyone
                .iter()
                .map(|who| policies.record_access(&s.directory, *who, facts))
                .collect()
        };
        use RecordAccess::{Full, Status};
        const NOTHING: RecordAccess = RecordAccess::None;
        assert_eq!(all(&s, &facts), [Status, NOTHING, NOTHING, Status]);
        s.apply(DirectoryEvent::AgreedRecordsShared {
            roles: vec![Role::MiddleLeader, Role::TrustAdmin],
        });
        assert_eq!(
            all(&s, &facts),
            [Status, Full, NOTHING, Full],
            "middle leaders of the record's school, and trust administrators everywhere"
        );
        facts.agreed = false;
        assert_eq!(
            all(&s, &facts),
            [Status, NOTHING, NOTHING, Status],
            "never while in progress"
        );
    }

    #[test]
    fn nobody_grants_themselves_a_role_nor_reaches_beyond_their_school() {
        let policies = Policies::load().unwrap();
        let mut s = School::new();
        let (hillside, riverside) = (s.hillside, s.riverside);
        let trust_admin = s.person(&[(None, Role::TrustAdmin)]);
        let head = s.person(&[(Some(hillside), Role::HeadTeacher)]);
        let office = s.person(&[(Some(hillside), Role::Admin)]);
        let teacher = s.person(&[(Some(hillside), Role::ClassTeacher)]);
        let both = s.person(&[
            (Some(hillside), Role::ClassTeacher),
            (Some(riverside), Role::ClassTeacher),
        ]);
        let grant = |school, role| Grant {
            school: Some(school),
            role,
        };
        let d = &s.directory;
        // Themselves: never.
        assert!(!policies.allows_role_change(
            d,
            office,
            office,
            grant(hillside, Role::HeadTeacher),
            true
        ));
        assert!(!policies.allows_role_change(
            d,
            head,
            head,
            grant(hillside, Role::SeniorLeader),
            true
        ));
        assert!(!policies.allows_role_change(
            d,
            trust_admin,
            trust_admin,
            grant(hillside, Role::HeadTeacher),
            true
        ));
        // A school administrator gives school roles in their school, but not its top ones.
        assert!(policies.allows_role_change(
            d,
            office,
            teacher,
            grant(hillside, Role::MiddleLeader),
            true
        ));
        assert!(!policies.allows_role_change(
            d,
            office,
            teacher,
            grant(hillside, Role::HeadTeacher),
            true
        ));
        assert!(!policies.allows_role_change(
            d,
            office,
            teacher,
            grant(riverside, Role::ClassTeacher),
            true
        ));
        assert!(policies.allows_role_change(d, head, teacher, grant(hillside, Role::Admin), true));
        assert!(!policies.allows_role_change(
            d,
            office,
            teacher,
            grant(hillside, Role::Admin),
            true
        ));
        // Someone with a role in another school, or a trust role, is the trust's to manage.
        assert!(!policies.allows_role_change(
            d,
            head,
            both,
            grant(hillside, Role::MiddleLeader),
            true
        ));
        assert!(!policies.allows_on_person(d, head, PersonVerb::Invite, both));
        assert!(!policies.allows_on_person(d, head, PersonVerb::Disable, trust_admin));
        assert!(!policies.allows_role_change(
            d,
            head,
            trust_admin,
            grant(hillside, Role::ClassTeacher),
            true
        ));
        assert!(policies.allows_on_person(d, trust_admin, PersonVerb::Disable, both));
        let trust_wide = Grant {
            school: None,
            role: Role::TrustLeader,
        };
        assert!(!policies.allows_role_change(d, head, teacher, trust_wide, true));
        assert!(policies.allows_role_change(d, trust_admin, teacher, trust_wide, true));
        assert!(policies.allows_on_person(d, head, PersonVerb::SetLineManager, teacher));
    }
}
