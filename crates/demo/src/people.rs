//! The trust's directory: schools, staff, roles and who line-manages whom, through the
//! directory's own commands.

use waymark_domain::directory::Role;
use waymark_domain::{SchoolId, StaffId, TrustId};
use waymark_gateway::bootstrap::Bootstrap;

use crate::{Dice, Options};

const PLACES: &[&str] = &[
    "Hillside",
    "Riverside",
    "Oakfield",
    "Meadowbank",
    "Ashdown",
    "Brookvale",
    "Castleton",
    "Elmhurst",
    "Fairview",
    "Greenacre",
    "Harbour",
    "Kingsway",
    "Larkrise",
    "Millbrook",
    "Northgate",
    "Orchard",
    "Parkside",
    "Queensbury",
    "Rosehill",
    "Seabrook",
    "Thornbury",
    "Upton",
    "Valley",
    "Westfield",
    "Woodlands",
];
const KINDS: &[&str] = &["Primary", "Primary", "Academy", "Junior", "Infant"];
const FIRST: &[&str] = &[
    "Amira", "Ben", "Chloe", "Daniel", "Ella", "Farah", "George", "Hannah", "Isaac", "Jess",
    "Kofi", "Leah", "Mohammed", "Nadia", "Oliver", "Priya", "Quinn", "Rosa", "Sam", "Tom", "Uma",
    "Victor", "Wendy", "Yusuf", "Zara",
];
const LAST: &[&str] = &[
    "Ahmed", "Baker", "Clarke", "Davies", "Evans", "Fletcher", "Green", "Hughes", "Iqbal", "Jones",
    "Khan", "Lewis", "Morgan", "Nowak", "Owen", "Patel", "Roberts", "Shah", "Taylor", "Walker",
    "Wright", "Young",
];

/// One person's sign-in, printed for whoever runs the demo.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub id: StaffId,
    pub role: &'static str,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Person {
    pub id: StaffId,
    /// Their nearest line manager.
    pub manager: StaffId,
}

#[derive(Debug, Clone)]
pub struct School {
    pub id: SchoolId,
    pub name: String,
    pub head: StaffId,
    pub teachers: Vec<Person>,
}

pub struct Trust {
    pub id: TrustId,
    pub schools: Vec<School>,
    pub sign_ins: Vec<SignIn>,
    pub staff: usize,
}

/// Names people and writes them to the directory.
struct Staffing<'a> {
    bootstrap: &'a Bootstrap,
    trust: TrustId,
    dice: Dice,
    domain: String,
    count: usize,
}

impl Staffing<'_> {
    /// Adds someone; their e-mail address is their name, numbered to keep it unique.
    async fn add(
        &mut self,
        school: Option<SchoolId>,
        role: Role,
    ) -> anyhow::Result<(StaffId, String, String)> {
        self.count += 1;
        let first = self.dice.pick(FIRST);
        let last = self.dice.pick(LAST);
        let name = format!("{first} {last}");
        let email = format!(
            "{}.{}{}@{}",
            first.to_lowercase(),
            last.to_lowercase(),
            self.count,
            self.domain
        );
        let id = self
            .bootstrap
            .add_person(self.trust, &name, &email, &[(school, role)])
            .await?;
        Ok((id, name, email))
    }

    /// Adds someone who will sign in with the demo's password.
    async fn add_signing_in(
        &mut self,
        school: Option<SchoolId>,
        role: Role,
        password: &str,
        sign_ins: &mut Vec<SignIn>,
    ) -> anyhow::Result<StaffId> {
        let (id, name, email) = self.add(school, role).await?;
        self.bootstrap
            .set_password(self.trust, id, password)
            .await?;
        sign_ins.push(SignIn {
            id,
            role: role.label(),
            name,
            email,
        });
        Ok(id)
    }
}

/// The trust, its schools and staff. The first school's head, deputy and first teacher, the
/// director of education and the trust's administrator get the demo's password.
pub async fn trust(bootstrap: &Bootstrap, options: &Options) -> anyhow::Result<Trust> {
    let id = bootstrap.create_trust(&options.trust_name).await?;
    let mut staffing = Staffing {
        bootstrap,
        trust: id,
        dice: Dice(options.seed),
        domain: domain_of(&options.trust_name),
        count: 0,
    };
    let password = options.password.as_str();
    let mut sign_ins = Vec::new();
    staffing
        .add_signing_in(None, Role::TrustAdmin, password, &mut sign_ins)
        .await?;
    let director = staffing
        .add_signing_in(None, Role::TrustLeader, password, &mut sign_ins)
        .await?;
    let mut schools = Vec::with_capacity(options.schools);
    for n in 0..options.schools {
        let name = school_name(n, &mut staffing.dice);
        let school = bootstrap.add_school(id, &name).await?;
        let first = n == 0;
        let (head, deputy) = if first {
            (
                staffing
                    .add_signing_in(Some(school), Role::HeadTeacher, password, &mut sign_ins)
                    .await?,
                staffing
                    .add_signing_in(Some(school), Role::SeniorLeader, password, &mut sign_ins)
                    .await?,
            )
        } else {
            (
                staffing.add(Some(school), Role::HeadTeacher).await?.0,
                staffing.add(Some(school), Role::SeniorLeader).await?.0,
            )
        };
        bootstrap.set_line_manager(id, head, director).await?;
        bootstrap.set_line_manager(id, deputy, head).await?;
        let mut teachers = Vec::with_capacity(options.teachers);
        for k in 0..options.teachers {
            let teacher = if first && k == 0 {
                staffing
                    .add_signing_in(Some(school), Role::ClassTeacher, password, &mut sign_ins)
                    .await?
            } else {
                staffing.add(Some(school), Role::ClassTeacher).await?.0
            };
            // Half the teachers report to the head, half to the deputy.
            let manager = if k % 2 == 0 { head } else { deputy };
            bootstrap.set_line_manager(id, teacher, manager).await?;
            teachers.push(Person {
                id: teacher,
                manager,
            });
        }
        schools.push(School {
            id: school,
            name,
            head,
            teachers,
        });
    }
    Ok(Trust {
        id,
        schools,
        sign_ins,
        staff: staffing.count,
    })
}

/// The trust's e-mail domain: its name in lowercase letters, digits and hyphens.
fn domain_of(trust: &str) -> String {
    let words: Vec<String> = trust
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    match words.is_empty() {
        true => "demo.example".to_owned(),
        false => format!("{}.example", words.join("-")),
    }
}

/// A place and a kind of school; numbered once the places run out.
fn school_name(n: usize, dice: &mut Dice) -> String {
    let place = PLACES[n % PLACES.len()];
    let kind = dice.pick(KINDS);
    match n / PLACES.len() {
        0 => format!("{place} {kind}"),
        round => format!("{place} {kind} {}", round + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trusts_name_makes_its_e_mail_domain() {
        assert_eq!(
            domain_of("St. Mary's Learning Trust"),
            "st-mary-s-learning-trust.example"
        );
        assert_eq!(domain_of("  "), "demo.example");
    }
}
