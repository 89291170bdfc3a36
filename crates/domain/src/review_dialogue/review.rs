//! The progress review of one year group, held by the reviewee's nearest line manager.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::decider::{Decider, DomainEvent};
use crate::ids::{SchoolId, StaffId};
use crate::rejection::{Rejection, RejectionKind};
use crate::school_year::{AcademicYear, DateWindow};
use crate::text::Text;

/// Identifies a review. Derived from the scheduling command so a retry finds the same one.
pub type ReviewId = uuid::Uuid;

pub struct Review;

#[derive(Debug, Clone, PartialEq)]
pub enum ReviewCommand {
    Schedule(ScheduleReview),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleReview {
    pub review_id: ReviewId,
    pub school_id: SchoolId,
    pub academic_year: AcademicYear,
    pub year_group: Text,
    pub reviewer: StaffId,
    pub reviewee: StaffId,
    pub window: DateWindow,
    /// The reviewee's nearest line manager according to the directory, looked up before
    /// deciding.
    pub reviewee_line_manager: StaffId,
    /// Receives a copy of the agreed record.
    pub slt_line_manager: Option<StaffId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ReviewEvent {
    ReviewScheduled {
        review_id: ReviewId,
        school_id: SchoolId,
        academic_year: AcademicYear,
        year_group: Text,
        reviewer_id: StaffId,
        reviewee_id: StaffId,
        window_opens: NaiveDate,
        window_closes: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slt_line_manager_id: Option<StaffId>,
    },
}

impl DomainEvent for ReviewEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::ReviewScheduled { .. } => "ReviewScheduled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewRejection {
    #[error("the reviewer must be the reviewee's nearest line manager")]
    NotLineManager,
    #[error("a review needs two people: the reviewer cannot review themselves")]
    SelfReview,
    #[error("this review is already scheduled")]
    AlreadyScheduled,
}

impl Rejection for ReviewRejection {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::NotLineManager | Self::SelfReview => RejectionKind::InvalidArgument,
            Self::AlreadyScheduled => RejectionKind::AlreadyExists,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotLineManager => "review.not_line_manager",
            Self::SelfReview => "review.self_review",
            Self::AlreadyScheduled => "review.already_scheduled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReviewState {
    #[default]
    None,
    Scheduled {
        reviewer: StaffId,
        reviewee: StaffId,
    },
}

impl Decider for Review {
    const CATEGORY: &'static str = "review";
    type State = ReviewState;
    type Command = ReviewCommand;
    type Event = ReviewEvent;
    type Rejection = ReviewRejection;

    fn decide(
        state: &ReviewState,
        command: &ReviewCommand,
    ) -> Result<Vec<ReviewEvent>, ReviewRejection> {
        match command {
            ReviewCommand::Schedule(schedule) => {
                if *state != ReviewState::None {
                    return Err(ReviewRejection::AlreadyScheduled);
                }
                if schedule.reviewer == schedule.reviewee {
                    return Err(ReviewRejection::SelfReview);
                }
                if schedule.reviewer != schedule.reviewee_line_manager {
                    return Err(ReviewRejection::NotLineManager);
                }
                Ok(vec![ReviewEvent::ReviewScheduled {
                    review_id: schedule.review_id,
                    school_id: schedule.school_id,
                    academic_year: schedule.academic_year,
                    year_group: schedule.year_group.clone(),
                    reviewer_id: schedule.reviewer,
                    reviewee_id: schedule.reviewee,
                    window_opens: schedule.window.opens,
                    window_closes: schedule.window.closes,
                    slt_line_manager_id: schedule.slt_line_manager,
                }])
            }
        }
    }

    fn evolve(_state: ReviewState, event: &ReviewEvent) -> ReviewState {
        match event {
            ReviewEvent::ReviewScheduled {
                reviewer_id,
                reviewee_id,
                ..
            } => ReviewState::Scheduled {
                reviewer: *reviewer_id,
                reviewee: *reviewee_id,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;
    use uuid::Uuid;

    fn staff() -> StaffId {
        StaffId::from_uuid(Uuid::new_v4())
    }

    fn schedule(reviewer: StaffId, reviewee: StaffId, line_manager: StaffId) -> ScheduleReview {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        ScheduleReview {
            review_id: Uuid::new_v4(),
            school_id: SchoolId::from_uuid(Uuid::new_v4()),
            academic_year: AcademicYear::parse("2026-27").unwrap(),
            year_group: Text::parse("Year 8").unwrap(),
            reviewer,
            reviewee,
            window: DateWindow::new(day(2), day(20)).unwrap(),
            reviewee_line_manager: line_manager,
            slt_line_manager: None,
        }
    }

    fn scheduled(command: &ScheduleReview) -> ReviewEvent {
        ReviewEvent::ReviewScheduled {
            review_id: command.review_id,
            school_id: command.school_id,
            academic_year: command.academic_year,
            year_group: command.year_group.clone(),
            reviewer_id: command.reviewer,
            reviewee_id: command.reviewee,
            window_opens: command.window.opens,
            window_closes: command.window.closes,
            slt_line_manager_id: command.slt_line_manager,
        }
    }

    #[test]
    fn the_nearest_line_manager_schedules_a_review() {
        let (manager, teacher) = (staff(), staff());
        let command = schedule(manager, teacher, manager);
        given::<Review>([])
            .when(ReviewCommand::Schedule(command.clone()))
            .then([scheduled(&command)]);
    }

    #[test]
    fn someone_else_cannot_be_the_reviewer_even_a_senior_leader() {
        let (senior, manager, teacher) = (staff(), staff(), staff());
        given::<Review>([])
            .when(ReviewCommand::Schedule(schedule(senior, teacher, manager)))
            .then_rejected(ReviewRejection::NotLineManager);
    }

    #[test]
    fn nobody_reviews_themselves() {
        let person = staff();
        given::<Review>([])
            .when(ReviewCommand::Schedule(schedule(person, person, person)))
            .then_rejected(ReviewRejection::SelfReview);
    }

    #[test]
    fn a_review_is_scheduled_once() {
        let (manager, teacher) = (staff(), staff());
        let command = schedule(manager, teacher, manager);
        given::<Review>([scheduled(&command)])
            .when(ReviewCommand::Schedule(command))
            .then_rejected(ReviewRejection::AlreadyScheduled);
    }
}
