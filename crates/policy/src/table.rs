//! The tables of `docs/authorization.md`, made by asking the policies about one person of
//! each role (and each relationship to the thing asked about) in a made-up trust. A test
//! checks that the page shows exactly these; `WAYMARK_BLESS=1` writes them into it.

use waymark_domain::directory::{
    Directory, DirectoryEvent, DirectoryState, Grant, Role as DirectoryRole,
};
use waymark_domain::text::Text;
use waymark_domain::{Decider, SchoolId, StaffId};

use crate::{
    ActionFacts, ActionVerb, AuditFacts, OccurrenceFacts, OccurrenceVerb, PersonVerb, Policies,
    RecordAccess, RecordFacts, SchoolVerb, TrustVerb,
};

/// A made-up trust: Hillside (where everything asked about is) and Riverside.
struct Trust {
    directory: DirectoryState,
    hillside: SchoolId,
    riverside: SchoolId,
    next: u128,
}

impl Trust {
    fn new() -> Self {
        let mut trust = Self {
            directory: DirectoryState::default(),
            hillside: SchoolId::from_uuid(uuid::Uuid::from_u128(1)),
            riverside: SchoolId::from_uuid(uuid::Uuid::from_u128(2)),
            next: 100,
        };
        for school in [trust.hillside, trust.riverside] {
            trust.apply(DirectoryEvent::SchoolAdded {
                school_id: school,
                name: Text::parse("A school").unwrap_or_else(|_| unreachable!()),
            });
        }
        trust
    }

    fn apply(&mut self, event: DirectoryEvent) {
        self.directory = Directory::evolve(std::mem::take(&mut self.directory), &event);
    }

    /// Someone new with `grants` (a school of `None` is trust-wide).
    fn person(&mut self, grants: &[(Option<SchoolId>, DirectoryRole)]) -> StaffId {
        self.next += 1;
        let id = StaffId::from_uuid(uuid::Uuid::from_u128(self.next));
        self.apply(DirectoryEvent::StaffAdded { staff_id: id });
        for (school, role) in grants {
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

    fn teacher(&mut self) -> StaffId {
        let hillside = self.hillside;
        self.person(&[(Some(hillside), DirectoryRole::ClassTeacher)])
    }

    fn manages(&mut self, manager: StaffId, staff: StaffId) {
        self.apply(DirectoryEvent::LineManagerSet {
            staff_id: staff,
            manager: Some(manager),
        });
    }

    /// One person of each role, as rows: at Hillside unless said otherwise.
    fn roles(&mut self) -> Vec<(&'static str, StaffId)> {
        let (h, r) = (Some(self.hillside), Some(self.riverside));
        let disabled = self.teacher();
        self.apply(DirectoryEvent::StaffDisabled { staff_id: disabled });
        vec![
            (
                "trust administrator",
                self.person(&[(None, DirectoryRole::TrustAdmin)]),
            ),
            (
                "trust leader",
                self.person(&[(None, DirectoryRole::TrustLeader)]),
            ),
            (
                "head teacher",
                self.person(&[(h, DirectoryRole::HeadTeacher)]),
            ),
            (
                "school administrator",
                self.person(&[(h, DirectoryRole::Admin)]),
            ),
            (
                "senior leader",
                self.person(&[(h, DirectoryRole::SeniorLeader)]),
            ),
            (
                "middle leader",
                self.person(&[(h, DirectoryRole::MiddleLeader)]),
            ),
            ("class teacher", self.teacher()),
            (
                "support for learning",
                self.person(&[(h, DirectoryRole::SupportForLearning)]),
            ),
            (
                "head teacher of another school",
                self.person(&[(r, DirectoryRole::HeadTeacher)]),
            ),
            ("a disabled account", disabled),
        ]
    }
}

fn mark(allowed: bool) -> &'static str {
    if allowed { "✓" } else { "—" }
}

/// ✓ when every one of `verbs` is allowed, — when none is. A mix means the table's
/// columns no longer follow the rules: split the column.
fn group(column: &str, row: &str, allowed: &[bool]) -> &'static str {
    if allowed.iter().all(|a| *a) {
        "✓"
    } else if allowed.iter().all(|a| !*a) {
        "—"
    } else {
        panic!("the policies treat {column:?} unevenly for {row:?}: split the column")
    }
}

fn markdown(headings: &[&str], rows: &[(String, Vec<String>)]) -> String {
    let mut out = format!("| who | {} |\n", headings.join(" | "));
    out.push_str(&format!("|---|{}\n", "---|".repeat(headings.len())));
    for (who, cells) in rows {
        out.push_str(&format!("| {who} | {} |\n", cells.join(" | ")));
    }
    out
}

fn trust_table(policies: &Policies) -> String {
    let mut t = Trust::new();
    let columns: [(&str, TrustVerb); 9] = [
        (
            "read frameworks, look-fors, the default plan",
            TrustVerb::Read,
        ),
        ("change frameworks", TrustVerb::ManageFrameworks),
        (
            "change look-fors and evidence sources",
            TrustVerb::ManageCatalogue,
        ),
        (
            "change the default plan and the caps on visits",
            TrustVerb::ManagePlan,
        ),
        (
            "change trust settings (learner names)",
            TrustVerb::ManageSettings,
        ),
        (
            "see across the trust: overview, heat map, the whole audit trail",
            TrustVerb::SeeOverview,
        ),
        (
            "see and retry everyone's deliveries and reminders",
            TrustVerb::SeeDeliveries,
        ),
        (
            "see who read everyone's records (the access log)",
            TrustVerb::SeeAccessLog,
        ),
        (
            "export everything held about a person",
            TrustVerb::ExportPersonalData,
        ),
    ];
    let rows = t
        .roles()
        .into_iter()
        .map(|(who, id)| {
            let cells = columns
                .iter()
                .map(|(_, verb)| mark(policies.allows_on_trust(&t.directory, id, *verb)).to_owned())
                .collect();
            (who.to_owned(), cells)
        })
        .collect::<Vec<_>>();
    markdown(&columns.map(|(h, _)| h), &rows)
}

fn school_table(policies: &Policies) -> String {
    let mut t = Trust::new();
    let hillside = t.hillside;
    let teacher = t.teacher();
    let columns: [(&str, SchoolVerb); 7] = [
        ("read its calendar, plan and occurrences", SchoolVerb::Read),
        ("change its calendar", SchoolVerb::ManageCalendar),
        (
            "adopt and change its plan, generate its year",
            SchoolVerb::ManagePlan,
        ),
        (
            "book visits, see requests and who is not yet visited",
            SchoolVerb::PlanVisits,
        ),
        ("start an audit", SchoolVerb::StartAudit),
        ("see its audit trends", SchoolVerb::SeeTrends),
        ("set its webhook", SchoolVerb::ManageWebhooks),
    ];
    let mut headings: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    headings.extend([
        "ask for a visit for themselves",
        "ask for a visit for a teacher",
    ]);
    let rows = t
        .roles()
        .into_iter()
        .map(|(who, id)| {
            let d = &t.directory;
            let mut cells: Vec<String> = columns
                .iter()
                .map(|(_, verb)| mark(policies.allows_on_school(d, id, *verb, hillside)).to_owned())
                .collect();
            cells.push(mark(policies.allows_visit_request(d, id, hillside, id)).to_owned());
            cells.push(mark(policies.allows_visit_request(d, id, hillside, teacher)).to_owned());
            (who.to_owned(), cells)
        })
        .collect::<Vec<_>>();
    markdown(&headings, &rows)
}

fn occurrence_table(policies: &Policies) -> String {
    let mut t = Trust::new();
    let (owner, participant) = (t.teacher(), t.teacher());
    let facts = OccurrenceFacts {
        school: t.hillside,
        owner,
        participants: vec![participant],
    };
    let mut people = vec![
        ("whoever leads it (a class teacher)", owner),
        ("a participant (a class teacher)", participant),
    ];
    people.extend(t.roles());
    let rows = people
        .into_iter()
        .map(|(who, id)| {
            let may = |verb| mark(policies.allows_on_occurrence(&t.directory, id, verb, &facts));
            (
                who.to_owned(),
                vec![
                    may(OccurrenceVerb::Run).to_owned(),
                    may(OccurrenceVerb::TickClassChecklist).to_owned(),
                ],
            )
        })
        .collect::<Vec<_>>();
    markdown(
        &[
            "hold, move or cancel it; tick the head teacher's checklist",
            "tick the class teacher's checklist",
        ],
        &rows,
    )
}

fn audit_table(policies: &Policies) -> String {
    let mut t = Trust::new();
    let party = t.teacher();
    let facts = |finalised| AuditFacts {
        school: t.hillside,
        parties: vec![party],
        finalised,
    };
    let (open, done) = (facts(false), facts(true));
    let mut people = vec![("its lead or a participant (a class teacher)", party)];
    people.extend(t.roles());
    let rows = people
        .into_iter()
        .map(|(who, id)| {
            let d = &t.directory;
            let (open, done) = (
                policies.audit_access(d, id, &open),
                policies.audit_access(d, id, &done),
            );
            let work = group("rate, add, finalise", who, &[open.work]);
            (
                who.to_owned(),
                vec![
                    mark(open.read).to_owned(),
                    mark(done.read).to_owned(),
                    work.to_owned(),
                ],
            )
        })
        .collect::<Vec<_>>();
    markdown(
        &[
            "read it while open",
            "read it once finalised",
            "rate, add strengths and weaknesses, finalise",
        ],
        &rows,
    )
}

fn actions_table(policies: &Policies) -> String {
    let mut t = Trust::new();
    let (owner, supporter, manager, agreed_by) =
        (t.teacher(), t.teacher(), t.teacher(), t.teacher());
    t.manages(manager, owner);
    let facts = ActionFacts {
        school: t.hillside,
        owner,
        supporters: vec![supporter],
        agreed_by: Some(agreed_by),
        live: true,
    };
    let columns: [(&str, &[ActionVerb]); 5] = [
        ("read it", &[ActionVerb::Read]),
        (
            "start, complete",
            &[ActionVerb::Start, ActionVerb::Complete],
        ),
        (
            "note progress, record evidence",
            &[ActionVerb::NoteProgress, ActionVerb::RecordEvidence],
        ),
        (
            "change the due date, reassign, drop, reopen, carry forward",
            &[
                ActionVerb::ChangeDue,
                ActionVerb::Reassign,
                ActionVerb::Drop,
                ActionVerb::Reopen,
                ActionVerb::CarryForward,
            ],
        ),
        ("set one for the owner", &[ActionVerb::Create]),
    ];
    let mut people = vec![
        ("the owner (a class teacher)", owner),
        ("a supporter (a class teacher)", supporter),
        (
            "the owner's line manager, or anyone above them (a class teacher)",
            manager,
        ),
        (
            "the leader who agreed or set it (a class teacher)",
            agreed_by,
        ),
    ];
    people.extend(t.roles());
    let rows = people
        .into_iter()
        .map(|(who, id)| {
            let cells = columns
                .iter()
                .map(|(heading, verbs)| {
                    let allowed: Vec<bool> = verbs
                        .iter()
                        .map(|verb| policies.allows_on_action(&t.directory, id, *verb, &facts))
                        .collect();
                    group(heading, who, &allowed).to_owned()
                })
                .collect();
            (who.to_owned(), cells)
        })
        .collect::<Vec<_>>();
    markdown(&columns.map(|(h, _)| h), &rows)
}

fn records_table(policies: &Policies) -> String {
    let mut t = Trust::new();
    let (party, manager, shared) = (t.teacher(), t.teacher(), t.teacher());
    t.manages(manager, party);
    let facts = |agreed| RecordFacts {
        school: t.hillside,
        parties: vec![party],
        shared_with: vec![manager, shared],
        agreed,
    };
    let (open, agreed) = (facts(false), facts(true));
    let word = |access| match access {
        RecordAccess::Full => "all of it",
        RecordAccess::Status => "status",
        RecordAccess::None => "not found",
    };
    let mut people = vec![
        ("the people in it (a class teacher)", party),
        (
            "the teacher's line manager, or anyone above them (a class teacher)",
            manager,
        ),
        (
            "a review's senior-leader line manager (a class teacher)",
            shared,
        ),
    ];
    people.extend(t.roles());
    let rows = people
        .into_iter()
        .map(|(who, id)| {
            let d = &t.directory;
            // The trust's setting naming this person's own roles.
            let mut sharing = d.clone();
            sharing.agreed_record_readers = d
                .staff
                .get(&id)
                .map_or_else(Vec::new, |r| r.grants.iter().map(|g| g.role).collect());
            let cells = vec![
                word(policies.record_access(d, id, &open)).to_owned(),
                word(policies.record_access(d, id, &agreed)).to_owned(),
                word(policies.record_access(&sharing, id, &agreed)).to_owned(),
            ];
            (who.to_owned(), cells)
        })
        .collect::<Vec<_>>();
    markdown(
        &[
            "while in progress",
            "once agreed (a meeting: closed)",
            "once agreed, where the trust shares agreed records with their role",
        ],
        &rows,
    )
}

fn people_table(policies: &Policies) -> String {
    let mut t = Trust::new();
    let (hillside, riverside) = (Some(t.hillside), Some(t.riverside));
    let teacher = t.teacher();
    let both = t.person(&[
        (hillside, DirectoryRole::ClassTeacher),
        (riverside, DirectoryRole::ClassTeacher),
    ]);
    let trust_admin = t.person(&[(None, DirectoryRole::TrustAdmin)]);
    let grant = |school, role| Grant { school, role };
    let rows = t
        .roles()
        .into_iter()
        .map(|(who, id)| {
            let d = &t.directory;
            let manage = |whom| {
                let allowed: Vec<bool> = PersonVerb::ALL
                    .iter()
                    .map(|verb| policies.allows_on_person(d, id, *verb, whom))
                    .collect();
                group("manage", who, &allowed).to_owned()
            };
            let role = |role: Grant| {
                let allowed = [true, false]
                    .map(|give| policies.allows_role_change(d, id, teacher, role, give));
                group("roles", who, &allowed).to_owned()
            };
            let cells = vec![
                manage(teacher),
                manage(both),
                manage(trust_admin),
                role(grant(hillside, DirectoryRole::MiddleLeader)),
                role(grant(hillside, DirectoryRole::HeadTeacher)),
                role(grant(hillside, DirectoryRole::Admin)),
                role(grant(None, DirectoryRole::TrustLeader)),
            ];
            (who.to_owned(), cells)
        })
        .collect::<Vec<_>>();
    markdown(
        &[
            "invite, disable, enable, set the line manager of, edit a class teacher of Hillside",
            "the same for a teacher of Hillside and Riverside",
            "the same for a trust administrator",
            "give or take a school role at Hillside",
            "give or take head teacher at Hillside",
            "give or take school administrator at Hillside",
            "give or take a trust-wide role",
        ],
        &rows,
    )
}

/// Every table, by the name its place in the page is marked with.
pub fn tables(policies: &Policies) -> Vec<(&'static str, String)> {
    vec![
        ("trust", trust_table(policies)),
        ("school", school_table(policies)),
        ("occurrences", occurrence_table(policies)),
        ("audits", audit_table(policies)),
        ("actions", actions_table(policies)),
        ("records", records_table(policies)),
        ("people", people_table(policies)),
    ]
}

/// `page` with each table between `<!-- policy-table: NAME -->` and `<!-- /policy-table -->`
/// replaced by what the policies say now.
pub fn fill(page: &str, tables: &[(&str, String)]) -> Result<String, String> {
    let mut out = page.to_owned();
    for (name, table) in tables {
        let open = format!("<!-- policy-table: {name} -->\n");
        let close = "<!-- /policy-table -->";
        let start = out
            .find(&open)
            .ok_or_else(|| format!("the page has no place for the {name} table ({open:?})"))?
            + open.len();
        let end = out[start..]
            .find(close)
            .ok_or_else(|| format!("the {name} table is not closed"))?
            + start;
        out.replace_range(start..end, table);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_page_shows_what_the_policies_decide() {
        let policies = Policies::load().unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/authorization.md");
        let page = std::fs::read_to_string(path).unwrap();
        let filled = fill(&page, &tables(&policies)).unwrap();
        if std::env::var_os("WAYMARK_BLESS").is_some() {
            std::fs::write(path, &filled).unwrap();
        }
        assert!(
            filled == page,
            "docs/authorization.md does not show what the policies decide; \
             run `WAYMARK_BLESS=1 cargo test -p waymark-policy` and read the difference"
        );
    }
}
