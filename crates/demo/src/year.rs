//! One school's year so far: its calendar, plan and generated year, and for each active
//! teacher a progress meeting after the last assessment point whose actions the next one
//! reviews, a progress review at some stage of its dialogue, and actions in every state.

use chrono::{Datelike, Duration, NaiveDate};
use waymark_domain::TrustId;
use waymark_domain::school_year::AcademicYear;
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::scheduling::v1 as sc;
use waymark_runtime::auth::Caller;

use crate::people::{Person, School};
use crate::{Clients, Options, call, command, settled};

#[derive(Debug, Default)]
pub struct Totals {
    pub meetings: usize,
    pub reviews: usize,
    pub actions: usize,
}

impl Totals {
    pub fn add(&mut self, other: Totals) {
        self.meetings += other.meetings;
        self.reviews += other.reviews;
        self.actions += other.actions;
    }
}

fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

/// An English school year: three terms with a half-term week in each, and three assessment
/// points.
fn calendar(year: AcademicYear) -> sc::YearCalendar {
    let y = year.start_year();
    let span = |name: &str, starts: NaiveDate, ends: NaiveDate| (name.to_owned(), starts, ends);
    let terms = [
        span("Autumn", ymd(y, 9, 2), ymd(y, 12, 18)),
        span("Spring", ymd(y + 1, 1, 5), ymd(y + 1, 3, 26)),
        span("Summer", ymd(y + 1, 4, 12), ymd(y + 1, 7, 21)),
    ];
    let holidays = [
        span("Autumn half term", ymd(y, 10, 26), ymd(y, 10, 30)),
        span("Spring half term", ymd(y + 1, 2, 15), ymd(y + 1, 2, 19)),
        span("Summer half term", ymd(y + 1, 5, 31), ymd(y + 1, 6, 4)),
    ];
    sc::YearCalendar {
        academic_year: year.to_string(),
        terms: terms
            .into_iter()
            .map(|(name, starts, ends)| sc::Term {
                name,
                starts: starts.to_string(),
                ends: ends.to_string(),
            })
            .collect(),
        holidays: holidays
            .into_iter()
            .map(|(name, starts, ends)| sc::Holiday {
                name,
                starts: starts.to_string(),
                ends: ends.to_string(),
            })
            .collect(),
        inset_days: vec![ymd(y, 9, 2).to_string()],
        assessment_points: assessment_points(year)
            .into_iter()
            .map(|(name, date)| sc::AssessmentPoint {
                name: name.to_owned(),
                date: date.to_string(),
            })
            .collect(),
    }
}

fn assessment_points(year: AcademicYear) -> [(&'static str, NaiveDate); 3] {
    let y = year.start_year();
    [
        ("Autumn assessment", ymd(y, 12, 4)),
        ("Spring assessment", ymd(y + 1, 3, 12)),
        ("Summer assessment", ymd(y + 1, 6, 25)),
    ]
}

/// The assessment point a meeting on `date` follows: the last one before it, or the
/// baseline at the start of the year.
fn assessment_before(date: NaiveDate) -> &'static str {
    assessment_points(AcademicYear::containing(date))
        .into_iter()
        .rev()
        .find(|(_, day)| *day <= date)
        .map_or("Baseline assessment", |(name, _)| name)
}

/// Teacher `k`'s class: years 1 to 6, then the next letter.
fn class_of(k: usize) -> String {
    let letter = char::from(b'A' + u8::try_from(k / 6 % 26).unwrap_or(0));
    match k / 156 {
        0 => format!("{}{letter}", 1 + k % 6),
        round => format!("{}{letter}{}", 1 + k % 6, round + 1),
    }
}

fn year_group_of(k: usize) -> String {
    format!("Year {}", 1 + k % 6)
}

const FIRST_ACTIONS: [&str; 2] = [
    "Use short retrieval quizzes at the start of each maths lesson",
    "Run a guided reading group for the pupils furthest behind",
];

pub async fn school(
    clients: &Clients,
    trust: TrustId,
    school: &School,
    options: &Options,
    today: NaiveDate,
) -> anyhow::Result<Totals> {
    let head = Caller {
        trust,
        actor: school.head.into(),
    };
    plan_year(clients, head, school, today).await?;
    let mut totals = Totals::default();
    for (k, teacher) in school
        .teachers
        .iter()
        .enumerate()
        .take(options.active_teachers)
    {
        let manager = Caller {
            trust,
            actor: teacher.manager.into(),
        };
        let own = Caller {
            trust,
            actor: teacher.id.into(),
        };
        totals.add(meetings(clients, manager, school, k, teacher, today).await?);
        totals.add(review(clients, manager, own, school, k, teacher, today).await?);
        if k % 3 == 1 {
            totals.add(direct_action(clients, head, own, school, teacher, today).await?);
        }
    }
    Ok(totals)
}

/// The calendar, the plan (owned by the head) and the year generated from it.
async fn plan_year(
    clients: &Clients,
    head: Caller,
    school: &School,
    today: NaiveDate,
) -> anyhow::Result<()> {
    let year = AcademicYear::containing(today);
    let school_id = school.id.to_string();
    let scheduling = clients.of(head).scheduling();
    let request = sc::SetYearCalendarRequest {
        command_id: command(),
        school_id: school_id.clone(),
        calendar: Some(calendar(year)),
    };
    // Scheduling learns of the new school from the directory's events.
    let what = format!("{}: the calendar", school.name);
    call!(&what, scheduling, set_year_calendar, request).await?;
    let request = sc::AdoptPlanRequest {
        command_id: command(),
        school_id: school_id.clone(),
        academic_year: year.to_string(),
        default_owner_id: school.head.to_string(),
    };
    call!("the plan", scheduling, adopt_plan, request).await?;
    let mut year_groups: Vec<sc::YearGroupTeam> = Vec::new();
    for (k, teacher) in school.teachers.iter().enumerate() {
        let member = sc::TeamMember {
            teacher_id: teacher.id.to_string(),
            line_manager_id: teacher.manager.to_string(),
        };
        let group = year_group_of(k);
        match year_groups.iter_mut().find(|g| g.year_group == group) {
            Some(team) => team.members.push(member),
            None => year_groups.push(sc::YearGroupTeam {
                year_group: group,
                members: vec![member],
            }),
        }
    }
    let request = sc::GenerateYearRequest {
        command_id: command(),
        school_id,
        academic_year: year.to_string(),
        year_groups,
        classes: school
            .teachers
            .iter()
            .enumerate()
            .map(|(k, teacher)| sc::ClassTeam {
                class_group: class_of(k),
                teacher_id: teacher.id.to_string(),
                leader_ids: vec![teacher.manager.to_string()],
            })
            .collect(),
    };
    call!("the year", scheduling, generate_year, request).await?;
    Ok(())
}

/// A meeting eight weeks ago that agreed two actions; for three teachers in four, the next
/// meeting last week reviewed them (one done with its impact, one carried forward or
/// dropped) and agreed another; for the fourth, the next meeting is still to come.
async fn meetings(
    clients: &Clients,
    leader: Caller,
    school: &School,
    k: usize,
    teacher: &Person,
    today: NaiveDate,
) -> anyhow::Result<Totals> {
    let reviews = clients.of(leader).reviews();
    let first_date = today - Duration::days(56);
    let first = schedule_meeting(&reviews, school, k, teacher, first_date).await?;
    open(&reviews, &first).await?;
    let actions = FIRST_ACTIONS
        .iter()
        .zip([first_date + Duration::days(28), today + Duration::days(21)])
        .map(|(description, due)| step(description, teacher, due))
        .collect();
    close(&reviews, &first, actions).await?;
    let mut totals = Totals {
        meetings: 1,
        actions: 2,
        ..Totals::default()
    };
    let next_date = if k % 4 == 3 {
        today + Duration::days(10)
    } else {
        today - Duration::days(7)
    };
    let next = schedule_meeting(&reviews, school, k, teacher, next_date).await?;
    totals.meetings += 1;
    // Its agenda starts from the first meeting's actions, once action tracking has them.
    let previous = settled("the previous meeting's actions", || {
        let mut reviews = reviews.clone();
        let id = next.clone();
        async move {
            let meeting = reviews
                .get_meeting(rd::GetRecordRequest { id })
                .await?
                .into_inner();
            if meeting.previous_actions.len() < FIRST_ACTIONS.len() {
                return Err(tonic::Status::failed_precondition("not yet"));
            }
            Ok(tonic::Response::new(meeting.previous_actions))
        }
    })
    .await?;
    if next_date > today {
        return Ok(totals);
    }
    open(&reviews, &next).await?;
    for (n, action) in previous.iter().enumerate() {
        let (outcome, text, due) = match (n, k % 2) {
            (0, _) => (
                "done",
                "Quizzes are routine; most pupils now recall last week's methods",
                String::new(),
            ),
            (_, 0) => (
                "carried_forward",
                "Started late after staff absence",
                (today + Duration::days(28)).to_string(),
            ),
            _ => (
                "dropped",
                "The pupils joined the school's new phonics programme instead",
                String::new(),
            ),
        };
        let request = rd::ReviewPreviousActionRequest {
            command_id: command(),
            meeting_id: next.clone(),
            action_id: action.action_id.clone(),
            outcome: outcome.to_owned(),
            text: text.to_owned(),
            due_date: due,
        };
        call!(
            "a previous action's outcome",
            reviews,
            review_previous_action,
            request
        )
        .await?;
        // Carried forward: a new action continues it.
        if outcome == "carried_forward" {
            totals.actions += 1;
        }
    }
    // Every third teacher's new action is overdue already.
    let due = if k.is_multiple_of(3) {
        today - Duration::days(3)
    } else {
        today + Duration::days(35)
    };
    let actions = vec![step(
        "Share the fractions work with the year group team",
        teacher,
        due,
    )];
    close(&reviews, &next, actions).await?;
    totals.actions += 1;
    Ok(totals)
}

type Reviews = waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient<
    waymark_gateway::Signed,
>;

async fn schedule_meeting(
    reviews: &Reviews,
    school: &School,
    k: usize,
    teacher: &Person,
    date: NaiveDate,
) -> anyhow::Result<String> {
    let request = rd::ScheduleMeetingRequest {
        command_id: command(),
        school_id: school.id.to_string(),
        academic_year: AcademicYear::containing(date).to_string(),
        assessment_point: assessment_before(date).to_owned(),
        teacher_id: teacher.id.to_string(),
        class_group: class_of(k),
        leader_ids: vec![teacher.manager.to_string()],
        date: date.to_string(),
        occurrence_id: String::new(),
    };
    Ok(
        call!("a progress meeting", reviews, schedule_meeting, request)
            .await?
            .id,
    )
}

async fn open(reviews: &Reviews, meeting: &str) -> anyhow::Result<()> {
    let request = rd::RecordRequest {
        command_id: command(),
        id: meeting.to_owned(),
    };
    call!("opening a meeting", reviews, open_meeting, request).await?;
    Ok(())
}

async fn close(reviews: &Reviews, meeting: &str, actions: Vec<rd::NextStep>) -> anyhow::Result<()> {
    let request = rd::CloseMeetingRequest {
        command_id: command(),
        meeting_id: meeting.to_owned(),
        actions,
    };
    call!("closing a meeting", reviews, close_meeting, request).await?;
    Ok(())
}

fn step(description: &str, teacher: &Person, due: NaiveDate) -> rd::NextStep {
    rd::NextStep {
        description: description.to_owned(),
        owner_id: teacher.id.to_string(),
        due_date: due.to_string(),
        success_criteria: "Seen in books and in pupils' answers at the next visit".to_owned(),
    }
}

/// A progress review of the teacher's year group, taken as far as `k % 5` says: scheduled,
/// evidence gathered, dialogue held, record drafted, or agreed by both.
async fn review(
    clients: &Clients,
    reviewer: Caller,
    reviewee: Caller,
    school: &School,
    k: usize,
    teacher: &Person,
    today: NaiveDate,
) -> anyhow::Result<Totals> {
    let reviews = clients.of(reviewer).reviews();
    let request = rd::ScheduleReviewRequest {
        command_id: command(),
        school_id: school.id.to_string(),
        academic_year: AcademicYear::containing(today).to_string(),
        year_group: year_group_of(k),
        reviewer_id: teacher.manager.to_string(),
        reviewee_id: teacher.id.to_string(),
        window_opens: today.to_string(),
        window_closes: (today + Duration::days(21)).to_string(),
        ..Default::default()
    };
    let id = call!("a progress review", reviews, schedule_review, request)
        .await?
        .id;
    let mut totals = Totals {
        reviews: 1,
        ..Totals::default()
    };
    let stage = k % 5;
    if stage == 0 {
        return Ok(totals);
    }
    let catalogue = call!(
        "the catalogue",
        reviews,
        get_catalogue,
        rd::GetCatalogueRequest {}
    )
    .await?;
    let of_kind = |kind: &str| -> Vec<String> {
        catalogue
            .items
            .iter()
            .filter(|item| item.kind == kind && !item.retired)
            .map(|item| item.id.clone())
            .collect()
    };
    let (sources, look_fors) = (of_kind("source"), of_kind("look_for"));
    if let Some(source) = sources.first() {
        let request = rd::NoteEvidenceRequest {
            command_id: command(),
            review_id: id.clone(),
            source_id: source.clone(),
            look_for_ids: look_fors.iter().take(2).cloned().collect(),
            note: "Books show steady progress in written methods; a few pupils still rely on \
                   counting on"
                .to_owned(),
        };
        call!("evidence", reviews, note_evidence, request).await?;
    }
    if stage == 1 {
        return Ok(totals);
    }
    let request = rd::HoldDialogueRequest {
        command_id: command(),
        review_id: id.clone(),
        held_on: today.to_string(),
        both_present: true,
        discussed: "What the books show, and which pupils need the most help next".to_owned(),
    };
    call!("the dialogue", reviews, hold_dialogue, request).await?;
    if stage == 2 {
        return Ok(totals);
    }
    let request = rd::DraftRecordRequest {
        command_id: command(),
        review_id: id.clone(),
        look_fors: look_fors
            .iter()
            .take(2)
            .enumerate()
            .map(|(n, look_for)| rd::LookForEntry {
                look_for_id: look_for.clone(),
                comment: "Seen consistently in books".to_owned(),
                exemplary: n == 0,
                focus: n == 1,
                ..Default::default()
            })
            .collect(),
        good_practice: "Clear modelling, and pupils explain their methods".to_owned(),
        areas_to_focus: "Pupils who fall behind in arithmetic".to_owned(),
        next_steps: vec![step(
            "Plan same-day catch-up for pupils who miss the lesson's key step",
            teacher,
            today + Duration::days(30),
        )],
        based_on_draft: 0,
    };
    call!("the draft record", reviews, draft_record, request).await?;
    if stage == 3 {
        return Ok(totals);
    }
    // The teacher agrees, then the reviewer: agreed once both have.
    for party in [clients.of(reviewee).reviews(), reviews] {
        let request = rd::AgreeRecordRequest {
            command_id: command(),
            review_id: id.clone(),
            draft: 1,
        };
        call!("agreeing the record", party, agree_record, request).await?;
    }
    totals.actions += 1;
    Ok(totals)
}

/// An action the head sets the teacher directly, started and with progress noted.
async fn direct_action(
    clients: &Clients,
    head: Caller,
    own: Caller,
    school: &School,
    teacher: &Person,
    today: NaiveDate,
) -> anyhow::Result<Totals> {
    let actions = clients.of(head).actions();
    let request = at::CreateActionRequest {
        command_id: command(),
        school_id: school.id.to_string(),
        description: "Observe a colleague's phonics lesson and try one of its routines".to_owned(),
        owner_id: teacher.id.to_string(),
        due_date: (today + Duration::days(14)).to_string(),
        success_criteria: "The routine is in use in the teacher's own lessons".to_owned(),
        ..Default::default()
    };
    let id = call!("an action", actions, create_action, request)
        .await?
        .action_id;
    let mine = clients.of(own).actions();
    let request = at::ActionRequest {
        command_id: command(),
        action_id: id.clone(),
    };
    call!("starting the action", mine, start_action, request).await?;
    let request = at::TextRequest {
        command_id: command(),
        action_id: id,
        text: format!("Observed the lesson on {}", today.weekday()),
    };
    call!("progress", mine, note_progress, request).await?;
    Ok(Totals {
        actions: 1,
        ..Totals::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_unique_for_every_teacher_a_school_can_have() {
        let classes: std::collections::BTreeSet<String> =
            (0..crate::MAX_TEACHERS).map(class_of).collect();
        assert_eq!(classes.len(), crate::MAX_TEACHERS);
        assert_eq!(class_of(0), "1A");
        assert_eq!(class_of(7), "2B");
    }

    #[test]
    fn a_meeting_follows_the_last_assessment_point_before_it() {
        assert_eq!(assessment_before(ymd(2026, 10, 1)), "Baseline assessment");
        assert_eq!(assessment_before(ymd(2026, 12, 4)), "Autumn assessment");
        assert_eq!(assessment_before(ymd(2027, 5, 1)), "Spring assessment");
        assert_eq!(assessment_before(ymd(2027, 7, 20)), "Summer assessment");
    }
}
