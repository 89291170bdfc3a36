//! Choosing people on forms: a school's staff, and the colleagues in schools a leader leads.

use waymark_domain::{SchoolId, StaffId};

use crate::directory::Names;
use crate::session::Viewer;

pub struct Person {
    pub id: String,
    pub name: String,
}

/// Everyone working in a school (accounts not disabled), by name.
pub fn staff_of(viewer: &Viewer, people: &Names, school: SchoolId) -> Vec<Person> {
    let mut staff: Vec<Person> = viewer
        .directory
        .staff
        .iter()
        .filter(|(_, record)| {
            !record.disabled && record.grants.iter().any(|g| g.school == Some(school))
        })
        .map(|(id, _)| Person {
            id: id.to_string(),
            name: people.of(&id.to_string()),
        })
        .collect();
    staff.sort_by(|a, b| a.name.cmp(&b.name));
    staff
}

pub struct SchoolStaff {
    pub id: String,
    pub name: String,
    pub people: Vec<Person>,
}

/// For each school the viewer leads, their colleagues there.
pub fn led_schools(viewer: &Viewer, people: &Names) -> Vec<SchoolStaff> {
    let me = viewer.staff.to_string();
    viewer
        .schools()
        .into_iter()
        .filter(|s| viewer.leads(*s))
        .map(|s| SchoolStaff {
            id: s.to_string(),
            name: crate::web::school_name(viewer, &s.to_string()),
            people: staff_of(viewer, people, s)
                .into_iter()
                .filter(|p| p.id != me)
                .collect(),
        })
        .collect()
}

/// The person named (an id as posted) and a school of theirs that the viewer leads.
pub fn in_led_school(viewer: &Viewer, person: &str) -> Option<(StaffId, SchoolId)> {
    let staff: StaffId = person.parse().ok()?;
    let record = viewer.directory.staff.get(&staff)?;
    let school = record
        .grants
        .iter()
        .filter_map(|g| g.school)
        .find(|s| viewer.leads(*s))?;
    Some((staff, school))
}

/// Everyone in the trust, disabled accounts too (they may have read something), by name.
pub fn everyone(viewer: &Viewer, people: &Names) -> Vec<Person> {
    let mut all: Vec<Person> = viewer
        .directory
        .staff
        .keys()
        .map(|id| Person {
            id: id.to_string(),
            name: people.of(&id.to_string()),
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}
