//! The monitoring plan on the web: the trust's default plan (trust leaders and
//! administrators) and each school's plan for a year (its administrators): activities added,
//! changed (name, months, who leads, both checklists, intended impact) and removed; a school
//! adopts the default and generates its year. The trust's caps on visits to one teacher are
//! set beside its default plan. Scheduling decides who may change which plan;
//! changing a school's plan once its year is generated re-plans it, keeping what was held.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use waymark_domain::SchoolId;
use waymark_policy::TrustVerb;
use waymark_proto::scheduling::v1 as sc;

use super::admin::{Choice, administered, require_school};
use crate::directory::{Names, names};
use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, Nav, academic_year, new_command_id, refusal, refused_page, see, today};

/// Whose plan: the trust's default, or one school's for a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Trust,
    School(SchoolId),
}

impl Scope {
    /// "trust", or the school's id, as the forms carry it.
    fn value(self) -> String {
        match self {
            Self::Trust => "trust".into(),
            Self::School(school) => school.to_string(),
        }
    }

    /// The plan's page.
    fn address(self, year: &str) -> String {
        format!("/admin/plan?school={}&year={year}", self.value())
    }

    /// The school id the scheduling API takes (blank for the trust's default).
    fn school_id(self) -> String {
        match self {
            Self::Trust => String::new(),
            Self::School(school) => school.to_string(),
        }
    }

    /// The plan the viewer asked for, if they may change it (else not found). With nothing
    /// asked, the first school they administer, or the trust's default.
    fn chosen(viewer: &Viewer, asked: &str) -> Result<Self, PageError> {
        let trust = || {
            viewer
                .may_on_trust(TrustVerb::ManagePlan)
                .then_some(Self::Trust)
                .ok_or_else(PageError::not_found)
        };
        match asked {
            "trust" => trust(),
            "" => match administered(viewer).first() {
                Some(school) => Ok(Self::School(*school)),
                None => trust(),
            },
            school => require_school(viewer, school).map(Self::School),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PlanQuery {
    #[serde(default)]
    school: String,
    #[serde(default)]
    year: String,
    /// The activity to change (`/admin/plan/activity`); none for a new one.
    #[serde(default)]
    key: String,
}

fn year_of(state: &AppState, asked: &str) -> String {
    if asked.trim().is_empty() {
        academic_year(today(state))
    } else {
        asked.trim().to_owned()
    }
}

fn choices(viewer: &Viewer, scope: Scope) -> Vec<Choice> {
    let mut choices = Vec::new();
    if viewer.may_on_trust(TrustVerb::ManagePlan) {
        choices.push(Choice {
            value: "trust".into(),
            label: "The trust's default plan".into(),
            selected: scope == Scope::Trust,
        });
    }
    choices.extend(administered(viewer).into_iter().map(|s| Choice {
        value: s.to_string(),
        label: crate::web::school_name(viewer, &s.to_string()),
        selected: scope == Scope::School(s),
    }));
    choices
}

async fn get_plan(
    state: &AppState,
    viewer: &Viewer,
    scope: Scope,
    year: &str,
) -> Result<sc::Plan, PageError> {
    Ok(state
        .clients(viewer)
        .scheduling()
        .get_plan(sc::GetPlanRequest {
            school_id: scope.school_id(),
            academic_year: year.to_owned(),
        })
        .await?
        .into_inner())
}

pub struct ActivityRow {
    pub key: String,
    pub name: String,
    pub when: String,
    pub owner: String,
}

pub struct TeamRow {
    pub id: String,
    pub name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/plan.html")]
pub struct PlanPage {
    nav: Nav,
    schools: Vec<Choice>,
    school: String,
    trust: bool,
    year: String,
    adopted: bool,
    activities: Vec<ActivityRow>,
    staff: Vec<TeamRow>,
    /// The caps on visits to one teacher in force (per day, per week), and whether the
    /// trust set them.
    caps: (u32, u32),
    caps_set: bool,
    command_id: String,
    error: Option<String>,
    done: bool,
}

fn months(months: &[u32], after_assessments: bool) -> String {
    if after_assessments {
        return "After each assessment point".into();
    }
    let names: Vec<String> = months
        .iter()
        .filter_map(|m| chrono::Month::try_from(u8::try_from(*m).ok()?).ok())
        .map(|m| m.name()[..3].to_owned())
        .collect();
    names.join(", ")
}

async fn plan_page(
    state: &AppState,
    viewer: &Viewer,
    scope: Scope,
    year: String,
    error: Option<String>,
    done: bool,
) -> Result<PlanPage, PageError> {
    let plan = get_plan(state, viewer, scope, &year).await?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let staff = match scope {
        Scope::School(school) => crate::pages::people::staff_of(viewer, &people, school)
            .into_iter()
            .map(|p| TeamRow {
                id: p.id,
                name: p.name,
            })
            .collect(),
        Scope::Trust => vec![],
    };
    Ok(PlanPage {
        nav: Nav::new(state, viewer, "admin").await,
        schools: choices(viewer, scope),
        school: scope.value(),
        trust: scope == Scope::Trust,
        year,
        adopted: plan.adopted,
        activities: plan
            .activities
            .iter()
            .map(|a| ActivityRow {
                key: a.key.clone(),
                name: a.name.clone(),
                when: months(&a.months, a.after_assessments),
                owner: owner_name(&people, a, &plan),
            })
            .collect(),
        staff,
        caps: (plan.visits_per_day, plan.visits_per_week),
        caps_set: plan.visit_caps_set,
        command_id: new_command_id(),
        error,
        done,
    })
}

fn owner_name(people: &Names, activity: &sc::Activity, plan: &sc::Plan) -> String {
    match (activity.owner_id.as_str(), plan.default_owner_id.as_str()) {
        ("", "") => "Whoever generates the year".into(),
        ("", default) => people.of(default),
        (owner, _) => people.of(owner),
    }
}

/// `GET /admin/plan`
pub async fn plan(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<PlanQuery>,
) -> Result<PlanPage, PageError> {
    let scope = Scope::chosen(&viewer, &query.school)?;
    plan_page(
        &state,
        &viewer,
        scope,
        year_of(&state, &query.year),
        None,
        false,
    )
    .await
}

/// Adopts the plan, removes an activity, or generates the year's occurrences from the plan,
/// the calendar and the teams entered (year group and class per teacher).
pub async fn change_plan(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let scope = Scope::chosen(&viewer, fields.get("school"))?;
    let year = fields.trimmed("academic_year");
    let mut client = state.clients(&viewer).scheduling();
    let command_id = fields.command_id();
    let result = match (fields.get("change"), scope) {
        // A school adopts the trust's default (its adopter leads what names nobody); the
        // trust's default starts from the built-in plan.
        ("adopt", scope) => {
            client
                .adopt_plan(sc::AdoptPlanRequest {
                    command_id,
                    school_id: scope.school_id(),
                    academic_year: year.clone(),
                    default_owner_id: match scope {
                        Scope::School(_) => viewer.staff.to_string(),
                        Scope::Trust => String::new(),
                    },
                })
                .await
        }
        ("remove", scope) => {
            client
                .remove_plan_activity(sc::RemovePlanActivityRequest {
                    command_id,
                    school_id: scope.school_id(),
                    academic_year: year.clone(),
                    key: fields.trimmed("key"),
                })
                .await
        }
        ("caps", Scope::Trust) => {
            let number = |name: &str| fields.trimmed(name).parse::<u32>().unwrap_or(0);
            client
                .set_visit_caps(sc::SetVisitCapsRequest {
                    command_id,
                    per_day: number("per_day"),
                    per_week: number("per_week"),
                })
                .await
        }
        ("generate", Scope::School(school)) => {
            let (year_groups, classes) = teams(&viewer, school, &fields);
            client
                .generate_year(sc::GenerateYearRequest {
                    command_id,
                    school_id: school.to_string(),
                    academic_year: year.clone(),
                    year_groups,
                    classes,
                })
                .await
        }
        _ => return Err(PageError::bad_request("Unknown change.")),
    };
    match result {
        Ok(_) if fields.get("change") == "generate" => Ok(IntoResponse::into_response(
            plan_page(&state, &viewer, scope, year, None, true).await?,
        )),
        Ok(_) => Ok(see(scope.address(&year))),
        Err(status) => Ok(refused_page(
            plan_page(&state, &viewer, scope, year, Some(refusal(status)?), false).await?,
        )),
    }
}

/// The year groups and classes entered per teacher of `school`.
fn teams(
    viewer: &Viewer,
    school: SchoolId,
    fields: &Fields,
) -> (Vec<sc::YearGroupTeam>, Vec<sc::ClassTeam>) {
    let mut year_groups: Vec<sc::YearGroupTeam> = Vec::new();
    let mut classes = Vec::new();
    for (staff, record) in viewer
        .directory
        .staff
        .iter()
        .filter(|(_, r)| r.grants.iter().any(|g| g.school == Some(school)) && !r.disabled)
    {
        let group = fields.trimmed(&format!("year_group.{staff}"));
        let class = fields.trimmed(&format!("class.{staff}"));
        let manager = record
            .line_manager
            .map(|m| m.to_string())
            .unwrap_or_default();
        if !group.is_empty() {
            let member = sc::TeamMember {
                teacher_id: staff.to_string(),
                line_manager_id: manager.clone(),
            };
            match year_groups.iter_mut().find(|t| t.year_group == group) {
                Some(team) => team.members.push(member),
                None => year_groups.push(sc::YearGroupTeam {
                    year_group: group,
                    members: vec![member],
                }),
            }
        }
        if !class.is_empty() {
            let leaders = if manager.is_empty() {
                vec![]
            } else {
                vec![manager]
            };
            classes.push(sc::ClassTeam {
                class_group: class,
                teacher_id: staff.to_string(),
                leader_ids: leaders,
            });
        }
    }
    (year_groups, classes)
}

// --- One activity ----------------------------------------------------------------------------

pub struct Month {
    pub number: u32,
    pub name: &'static str,
    pub checked: bool,
}

pub struct Person {
    pub id: String,
    pub name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/plan_activity.html")]
pub struct ActivityPage {
    nav: Nav,
    school: String,
    plan_name: String,
    year: String,
    /// Blank for a new activity.
    key: String,
    months: Vec<Month>,
    people: Vec<Person>,
    posted: Fields,
    command_id: String,
    error: Option<String>,
}

/// The form's fields for `activity` (a new one when none).
fn activity_fields(activity: Option<&sc::Activity>) -> Fields {
    let Some(a) = activity else {
        return Fields::default();
    };
    let mut pairs = vec![
        ("name", a.name.clone()),
        ("owner_id", a.owner_id.clone()),
        ("head_teacher", a.head_teacher.join("\n")),
        ("class_teacher", a.class_teacher.join("\n")),
        ("impact", a.impact.join("\n")),
    ];
    if a.after_assessments {
        pairs.push(("after_assessments", "1".into()));
    }
    for month in &a.months {
        pairs.push(("month", month.to_string()));
    }
    Fields::prefilled(pairs)
}

async fn activity_page(
    state: &AppState,
    viewer: &Viewer,
    scope: Scope,
    year: String,
    key: String,
    posted: Fields,
    error: Option<String>,
) -> Result<ActivityPage, PageError> {
    let people = names(&state.platform.pool, viewer.trust).await?;
    let school = match scope {
        Scope::School(school) => Some(school),
        Scope::Trust => None,
    };
    let mut staff: Vec<Person> = viewer
        .directory
        .staff
        .iter()
        .filter(|(_, r)| {
            !r.disabled && school.is_none_or(|s| r.grants.iter().any(|g| g.school == Some(s)))
        })
        .map(|(id, _)| Person {
            id: id.to_string(),
            name: people.of(&id.to_string()),
        })
        .collect();
    staff.sort_by(|a, b| a.name.cmp(&b.name));
    let chosen = posted.all("month");
    Ok(ActivityPage {
        nav: Nav::new(state, viewer, "admin").await,
        plan_name: match scope {
            Scope::Trust => "the trust's default plan".into(),
            Scope::School(s) => format!(
                "{}'s plan for {year}",
                crate::web::school_name(viewer, &s.to_string())
            ),
        },
        school: scope.value(),
        year,
        key,
        months: [9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7]
            .into_iter()
            .filter_map(|n: u32| {
                let month = chrono::Month::try_from(u8::try_from(n).ok()?).ok()?;
                Some(Month {
                    number: n,
                    name: month.name(),
                    checked: chosen.contains(&n.to_string()),
                })
            })
            .collect(),
        people: staff,
        command_id: posted.command_id(),
        posted,
        error,
    })
}

/// `GET /admin/plan/activity?school=…&year=…&key=…`: an activity to change, or a new one.
pub async fn activity(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<PlanQuery>,
) -> Result<ActivityPage, PageError> {
    let scope = Scope::chosen(&viewer, &query.school)?;
    let year = year_of(&state, &query.year);
    let plan = get_plan(&state, &viewer, scope, &year).await?;
    let found = plan.activities.iter().find(|a| a.key == query.key);
    if !query.key.is_empty() && found.is_none() {
        return Err(PageError::not_found());
    }
    let key = found.map(|a| a.key.clone()).unwrap_or_default();
    activity_page(
        &state,
        &viewer,
        scope,
        year,
        key,
        activity_fields(found),
        None,
    )
    .await
}

/// A key for a new activity from its name: lower case, words joined by `_`, made unique in
/// the plan.
fn new_key(name: &str, plan: &sc::Plan) -> String {
    let base: String = name
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let base = if base.is_empty() {
        "activity".to_owned()
    } else {
        base.chars().take(60).collect()
    };
    let taken = |key: &str| plan.activities.iter().any(|a| a.key == key);
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|key| !taken(key))
        .unwrap_or(base)
}

/// `POST /admin/plan/activity`: adds or changes an activity; the service checks it.
pub async fn set_activity(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let scope = Scope::chosen(&viewer, fields.get("school"))?;
    let year = fields.trimmed("academic_year");
    let key = match fields.trimmed("key") {
        key if !key.is_empty() => key,
        _ => new_key(
            &fields.trimmed("name"),
            &get_plan(&state, &viewer, scope, &year).await?,
        ),
    };
    let activity = sc::Activity {
        key: key.clone(),
        name: fields.trimmed("name"),
        months: fields
            .all("month")
            .iter()
            .filter_map(|m| m.parse().ok())
            .collect(),
        after_assessments: fields.checked("after_assessments"),
        owner_id: fields.trimmed("owner_id"),
        head_teacher: fields.lines("head_teacher"),
        class_teacher: fields.lines("class_teacher"),
        impact: fields.lines("impact"),
    };
    let result = state
        .clients(&viewer)
        .scheduling()
        .set_plan_activity(sc::SetPlanActivityRequest {
            command_id: fields.command_id(),
            school_id: scope.school_id(),
            academic_year: year.clone(),
            activity: Some(activity),
        })
        .await;
    match result {
        Ok(_) => Ok(see(scope.address(&year))),
        Err(status) => {
            let message = refusal(status)?;
            let key = fields.trimmed("key");
            Ok(refused_page(
                activity_page(&state, &viewer, scope, year, key, fields, Some(message)).await?,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_comes_from_the_name_and_is_unique_in_the_plan() {
        let plan = sc::Plan {
            activities: vec![sc::Activity {
                key: "book_look".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            new_key("Pupil voice: reading!", &plan),
            "pupil_voice_reading"
        );
        assert_eq!(new_key("Book look", &plan), "book_look_2");
        assert_eq!(new_key("  —  ", &plan), "activity");
    }
}
