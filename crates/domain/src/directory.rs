//! The directory of a trust: its schools, its staff, their roles per school, and who line
//! manages whom. One stream per trust. People's names and e-mail addresses are personal data
//! and stay out of these events (the gateway keeps them in a table that can be corrected and
//! erased); the events hold only ids, roles and relationships.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decider::{Decider, DomainEvent};
use crate::ids::{ActorId, SchoolId, StaffId};
use crate::rejection::{Rejection, RejectionKind};
use crate::text::Text;

pub struct Directory;

/// The directory itself, as the actor of what it does on its own (bootstrapping a trust,
/// keeping every service's contact details current). No person has this id.
pub fn directory_actor() -> ActorId {
    ActorId::from_uuid(uuid::Uuid::new_v5(&uuid::Uuid::nil(), b"waymark-gateway"))
}

/// What someone may do. Trust roles hold across every school of the trust; school roles in
/// one school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Director of education, trust leadership: sees every school.
    TrustLeader,
    /// Runs the trust's Waymark: schools, staff, settings.
    TrustAdmin,
    HeadTeacher,
    SeniorLeader,
    MiddleLeader,
    ClassTeacher,
    SupportForLearning,
    /// A school's administrator: its calendar, staff and plan.
    Admin,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::TrustLeader,
        Role::TrustAdmin,
        Role::HeadTeacher,
        Role::SeniorLeader,
        Role::MiddleLeader,
        Role::ClassTeacher,
        Role::SupportForLearning,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TrustLeader => "trust_leader",
            Self::TrustAdmin => "trust_admin",
            Self::HeadTeacher => "head_teacher",
            Self::SeniorLeader => "senior_leader",
            Self::MiddleLeader => "middle_leader",
            Self::ClassTeacher => "class_teacher",
            Self::SupportForLearning => "support_for_learning",
            Self::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == value.trim())
    }

    /// How people read it.
    pub fn label(self) -> &'static str {
        match self {
            Self::TrustLeader => "Trust leader",
            Self::TrustAdmin => "Trust administrator",
            Self::HeadTeacher => "Head teacher",
            Self::SeniorLeader => "Senior leader",
            Self::MiddleLeader => "Middle leader",
            Self::ClassTeacher => "Class teacher",
            Self::SupportForLearning => "Support for learning",
            Self::Admin => "School administrator",
        }
    }

    pub fn is_trust_wide(self) -> bool {
        matches!(self, Self::TrustLeader | Self::TrustAdmin)
    }

    /// Leads others: sees the school's records, not only their own.
    pub fn is_leader(self) -> bool {
        matches!(
            self,
            Self::TrustLeader | Self::HeadTeacher | Self::SeniorLeader | Self::MiddleLeader
        )
    }

    /// Administers: schools, calendars, staff, catalogue, plan.
    pub fn is_admin(self) -> bool {
        matches!(self, Self::TrustAdmin | Self::Admin | Self::HeadTeacher)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// None for a trust-wide role.
    pub school: Option<SchoolId>,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StaffRecord {
    pub grants: Vec<Grant>,
    pub line_manager: Option<StaffId>,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DirectoryCommand {
    CreateTrust {
        name: Text,
    },
    AddSchool {
        school_id: SchoolId,
        name: Text,
    },
    RenameSchool {
        school_id: SchoolId,
        name: Text,
    },
    AddStaff {
        staff_id: StaffId,
    },
    Grant {
        staff_id: StaffId,
        grant: Grant,
    },
    Revoke {
        staff_id: StaffId,
        grant: Grant,
    },
    SetLineManager {
        staff_id: StaffId,
        manager: Option<StaffId>,
    },
    Disable {
        staff_id: StaffId,
    },
    Enable {
        staff_id: StaffId,
    },
    /// Who else reads agreed records, besides the rules every trust has: each of `roles`
    /// in their own school (trust-wide roles: in every school). Replaces the previous setting.
    ShareAgreedRecords {
        roles: Vec<Role>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DirectoryEvent {
    TrustCreated {
        name: Text,
    },
    SchoolAdded {
        school_id: SchoolId,
        name: Text,
    },
    SchoolRenamed {
        school_id: SchoolId,
        name: Text,
    },
    StaffAdded {
        staff_id: StaffId,
    },
    RoleGranted {
        staff_id: StaffId,
        grant: Grant,
    },
    RoleRevoked {
        staff_id: StaffId,
        grant: Grant,
    },
    LineManagerSet {
        staff_id: StaffId,
        manager: Option<StaffId>,
    },
    StaffDisabled {
        staff_id: StaffId,
    },
    StaffEnabled {
        staff_id: StaffId,
    },
    AgreedRecordsShared {
        roles: Vec<Role>,
    },
}

impl DomainEvent for DirectoryEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::TrustCreated { .. } => "TrustCreated",
            Self::SchoolAdded { .. } => "SchoolAdded",
            Self::SchoolRenamed { .. } => "SchoolRenamed",
            Self::StaffAdded { .. } => "StaffAdded",
            Self::RoleGranted { .. } => "RoleGranted",
            Self::RoleRevoked { .. } => "RoleRevoked",
            Self::LineManagerSet { .. } => "LineManagerSet",
            Self::StaffDisabled { .. } => "StaffDisabled",
            Self::StaffEnabled { .. } => "StaffEnabled",
            Self::AgreedRecordsShared { .. } => "AgreedRecordsShared",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryRejection {
    #[error("this trust exists already")]
    TrustExists,
    #[error("create the trust first")]
    NoTrust,
    #[error("no such school in this trust")]
    NoSuchSchool,
    #[error("a school of that name exists already")]
    SchoolNameTaken,
    #[error("no such member of staff in this trust")]
    NoSuchStaff,
    #[error("{0} is a trust-wide role: give it without a school")]
    TrustWideRole(&'static str),
    #[error("{0} is a school role: name the school")]
    SchoolRole(&'static str),
    #[error("nobody is their own line manager")]
    OwnLineManager,
    #[error("that would make a circle of line managers")]
    LineManagementCycle,
}

impl Rejection for DirectoryRejection {
    fn kind(&self) -> RejectionKind {
        use DirectoryRejection as R;
        match self {
            R::TrustExists | R::SchoolNameTaken => RejectionKind::AlreadyExists,
            R::NoTrust => RejectionKind::FailedPrecondition,
            R::NoSuchSchool | R::NoSuchStaff => RejectionKind::NotFound,
            R::TrustWideRole(_) | R::SchoolRole(_) | R::OwnLineManager | R::LineManagementCycle => {
                RejectionKind::InvalidArgument
            }
        }
    }

    fn code(&self) -> &'static str {
        use DirectoryRejection as R;
        match self {
            R::TrustExists => "directory.trust_exists",
            R::NoTrust => "directory.no_trust",
            R::NoSuchSchool => "directory.no_such_school",
            R::SchoolNameTaken => "directory.school_name_taken",
            R::NoSuchStaff => "directory.no_such_staff",
            R::TrustWideRole(_) => "directory.trust_wide_role",
            R::SchoolRole(_) => "directory.school_role",
            R::OwnLineManager => "directory.own_line_manager",
            R::LineManagementCycle => "directory.line_management_cycle",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DirectoryState {
    pub name: Option<Text>,
    pub schools: BTreeMap<SchoolId, Text>,
    pub staff: BTreeMap<StaffId, StaffRecord>,
    /// The roles the trust lets read agreed records in their school (trust-wide roles: in
    /// every school), besides the people the rules name (`policy/records.cedar`).
    pub agreed_record_readers: Vec<Role>,
}

impl DirectoryState {
    fn staff(&self, id: StaffId) -> Result<&StaffRecord, DirectoryRejection> {
        self.staff.get(&id).ok_or(DirectoryRejection::NoSuchStaff)
    }

    /// The chain of line managers above `id`.
    pub fn managers_of(&self, id: StaffId) -> Vec<StaffId> {
        let mut chain = Vec::new();
        let mut current = self.staff.get(&id).and_then(|s| s.line_manager);
        while let Some(manager) = current {
            if chain.contains(&manager) {
                break;
            }
            chain.push(manager);
            current = self.staff.get(&manager).and_then(|s| s.line_manager);
        }
        chain
    }
}

impl Decider for Directory {
    const CATEGORY: &'static str = "directory";
    type State = DirectoryState;
    type Command = DirectoryCommand;
    type Event = DirectoryEvent;
    type Rejection = DirectoryRejection;

    fn decide(
        state: &DirectoryState,
        command: &DirectoryCommand,
    ) -> Result<Vec<DirectoryEvent>, DirectoryRejection> {
        use DirectoryCommand as C;
        use DirectoryEvent as E;
        use DirectoryRejection as R;
        if !matches!(command, C::CreateTrust { .. }) && state.name.is_none() {
            return Err(R::NoTrust);
        }
        let event = match command {
            C::CreateTrust { name } => {
                if state.name.is_some() {
                    return Err(R::TrustExists);
                }
                E::TrustCreated { name: name.clone() }
            }
            C::AddSchool { school_id, name } => {
                if state.schools.contains_key(school_id) {
                    return Ok(vec![]);
                }
                if state
                    .schools
                    .values()
                    .any(|existing| existing.as_str().eq_ignore_ascii_case(name.as_str()))
                {
                    return Err(R::SchoolNameTaken);
                }
                E::SchoolAdded {
                    school_id: *school_id,
                    name: name.clone(),
                }
            }
            C::RenameSchool { school_id, name } => {
                if !state.schools.contains_key(school_id) {
                    return Err(R::NoSuchSchool);
                }
                E::SchoolRenamed {
                    school_id: *school_id,
                    name: name.clone(),
                }
            }
            C::AddStaff { staff_id } => {
                if state.staff.contains_key(staff_id) {
                    return Ok(vec![]);
                }
                E::StaffAdded {
                    staff_id: *staff_id,
                }
            }
            C::Grant { staff_id, grant } => {
                let record = state.staff(*staff_id)?;
                match (grant.role.is_trust_wide(), grant.school) {
                    (true, Some(_)) => return Err(R::TrustWideRole(grant.role.label())),
                    (false, None) => return Err(R::SchoolRole(grant.role.label())),
                    (false, Some(school)) if !state.schools.contains_key(&school) => {
                        return Err(R::NoSuchSchool);
                    }
                    _ => {}
                }
                if record.grants.contains(grant) {
                    return Ok(vec![]);
                }
                E::RoleGranted {
                    staff_id: *staff_id,
                    grant: *grant,
                }
            }
            C::Revoke { staff_id, grant } => {
                if !state.staff(*staff_id)?.grants.contains(grant) {
                    return Ok(vec![]);
                }
                E::RoleRevoked {
                    staff_id: *staff_id,
                    grant: *grant,
                }
            }
            C::SetLineManager { staff_id, manager } => {
                let record = state.staff(*staff_id)?;
                if let Some(manager) = manager {
                    state.staff(*manager)?;
                    if manager == staff_id {
                        return Err(R::OwnLineManager);
                    }
                    if state.managers_of(*manager).contains(staff_id) {
                        return Err(R::LineManagementCycle);
                    }
                }
                if record.line_manager == *manager {
                    return Ok(vec![]);
                }
                E::LineManagerSet {
                    staff_id: *staff_id,
                    manager: *manager,
                }
            }
            C::Disable { staff_id } => {
                if state.staff(*staff_id)?.disabled {
                    return Ok(vec![]);
                }
                E::StaffDisabled {
                    staff_id: *staff_id,
                }
            }
            C::Enable { staff_id } => {
                if !state.staff(*staff_id)?.disabled {
                    return Ok(vec![]);
                }
                E::StaffEnabled {
                    staff_id: *staff_id,
                }
            }
            C::ShareAgreedRecords { roles } => {
                let mut roles = roles.clone();
                roles.sort();
                roles.dedup();
                if roles == state.agreed_record_readers {
                    return Ok(vec![]);
                }
                E::AgreedRecordsShared { roles }
            }
        };
        Ok(vec![event])
    }

    fn evolve(mut state: DirectoryState, event: &DirectoryEvent) -> DirectoryState {
        use DirectoryEvent as E;
        match event {
            E::TrustCreated { name } => state.name = Some(name.clone()),
            E::SchoolAdded { school_id, name } | E::SchoolRenamed { school_id, name } => {
                state.schools.insert(*school_id, name.clone());
            }
            E::StaffAdded { staff_id } => {
                state.staff.insert(*staff_id, StaffRecord::default());
            }
            E::RoleGranted { staff_id, grant } => {
                if let Some(record) = state.staff.get_mut(staff_id) {
                    record.grants.push(*grant);
                    record.grants.sort();
                }
            }
            E::RoleRevoked { staff_id, grant } => {
                if let Some(record) = state.staff.get_mut(staff_id) {
                    record.grants.retain(|g| g != grant);
                }
            }
            E::LineManagerSet { staff_id, manager } => {
                if let Some(record) = state.staff.get_mut(staff_id) {
                    record.line_manager = *manager;
                }
            }
            E::StaffDisabled { staff_id } => {
                if let Some(record) = state.staff.get_mut(staff_id) {
                    record.disabled = true;
                }
            }
            E::StaffEnabled { staff_id } => {
                if let Some(record) = state.staff.get_mut(staff_id) {
                    record.disabled = false;
                }
            }
            E::AgreedRecordsShared { roles } => state.agreed_record_readers = roles.clone(),
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;
    use uuid::Uuid;

    fn text(v: &str) -> Text {
        Text::parse(v).unwrap()
    }

    fn staff(n: u8) -> StaffId {
        StaffId::from_uuid(Uuid::from_bytes([n; 16]))
    }

    fn school() -> SchoolId {
        SchoolId::from_uuid(Uuid::from_bytes([9; 16]))
    }

    fn base() -> Vec<DirectoryEvent> {
        vec![
            DirectoryEvent::TrustCreated {
                name: text("Northern Lights Trust"),
            },
            DirectoryEvent::SchoolAdded {
                school_id: school(),
                name: text("Hilltop Primary"),
            },
            DirectoryEvent::StaffAdded { staff_id: staff(1) },
            DirectoryEvent::StaffAdded { staff_id: staff(2) },
            DirectoryEvent::StaffAdded { staff_id: staff(3) },
        ]
    }

    #[test]
    fn roles_are_either_trust_wide_or_of_a_school() {
        given::<Directory>(base())
            .when(DirectoryCommand::Grant {
                staff_id: staff(1),
                grant: Grant {
                    school: Some(school()),
                    role: Role::TrustLeader,
                },
            })
            .then_rejected(DirectoryRejection::TrustWideRole("Trust leader"));
        given::<Directory>(base())
            .when(DirectoryCommand::Grant {
                staff_id: staff(1),
                grant: Grant {
                    school: None,
                    role: Role::ClassTeacher,
                },
            })
            .then_rejected(DirectoryRejection::SchoolRole("Class teacher"));
        let grant = Grant {
            school: Some(school()),
            role: Role::HeadTeacher,
        };
        given::<Directory>(base())
            .when(DirectoryCommand::Grant {
                staff_id: staff(1),
                grant,
            })
            .then([DirectoryEvent::RoleGranted {
                staff_id: staff(1),
                grant,
            }]);
    }

    #[test]
    fn line_management_has_no_circles() {
        let mut events = base();
        events.push(DirectoryEvent::LineManagerSet {
            staff_id: staff(3),
            manager: Some(staff(2)),
        });
        events.push(DirectoryEvent::LineManagerSet {
            staff_id: staff(2),
            manager: Some(staff(1)),
        });
        given::<Directory>(events.clone())
            .when(DirectoryCommand::SetLineManager {
                staff_id: staff(1),
                manager: Some(staff(3)),
            })
            .then_rejected(DirectoryRejection::LineManagementCycle);
        given::<Directory>(events.clone())
            .when(DirectoryCommand::SetLineManager {
                staff_id: staff(1),
                manager: Some(staff(1)),
            })
            .then_rejected(DirectoryRejection::OwnLineManager);
        assert_eq!(
            Directory::fold(events.iter()).managers_of(staff(3)),
            vec![staff(2), staff(1)]
        );
    }

    #[test]
    fn nothing_happens_before_the_trust_exists_and_repeats_change_nothing() {
        given::<Directory>([])
            .when(DirectoryCommand::AddStaff { staff_id: staff(1) })
            .then_rejected(DirectoryRejection::NoTrust);
        given::<Directory>(base())
            .when(DirectoryCommand::AddStaff { staff_id: staff(1) })
            .then([]);
        given::<Directory>(base())
            .when(DirectoryCommand::AddSchool {
                school_id: SchoolId::from_uuid(Uuid::nil()),
                name: text("hilltop primary"),
            })
            .then_rejected(DirectoryRejection::SchoolNameTaken);
    }

    #[test]
    fn a_trust_shares_agreed_records_with_roles_once_and_in_order() {
        given::<Directory>(base())
            .when(DirectoryCommand::ShareAgreedRecords {
                roles: vec![Role::MiddleLeader, Role::SeniorLeader, Role::MiddleLeader],
            })
            .then([DirectoryEvent::AgreedRecordsShared {
                roles: vec![Role::SeniorLeader, Role::MiddleLeader],
            }]);
        let mut shared = base();
        shared.push(DirectoryEvent::AgreedRecordsShared {
            roles: vec![Role::SeniorLeader],
        });
        given::<Directory>(shared.clone())
            .when(DirectoryCommand::ShareAgreedRecords {
                roles: vec![Role::SeniorLeader],
            })
            .then([]);
        given::<Directory>(shared)
            .when(DirectoryCommand::ShareAgreedRecords { roles: vec![] })
            .then([DirectoryEvent::AgreedRecordsShared { roles: vec![] }]);
    }
}
