//! The demo clinic between sessions: Maria's home programme for her cooking goal, three
//! weeks of practice (the first week fully done), her check-ins (the latest flagged for
//! a sharp drop), and her questions to the team, one answered, one with a team note.

use chrono::{DateTime, Datelike, Duration, Utc};
use domain::home::{CheckInDraft, PracticeDraft, PrescriptionDraft};
use persistence::{versions::Expected, Caller, Clinic, StoreError};
use uuid::Uuid;

/// Maria's practice and check-ins, told against `now`.
pub(super) fn maria_at_home(
    clinic: &Clinic,
    now: DateTime<Utc>,
    olivia: &Caller,
    maria: &Caller,
    client: Uuid,
    episode: Uuid,
    cooking: Uuid,
) -> Result<(), StoreError> {
    let today = now.date_naive();
    // Three Mondays ago, so the first two weeks are whole.
    let start = today - Duration::days(i64::from(today.weekday().num_days_from_monday()) + 14);
    let prescription = PrescriptionDraft {
        instructions: "Stand at the kitchen counter and chop vegetables for 10 minutes, \
                       using your left hand to hold them steady."
            .into(),
        times_per_week: 5,
        duration_minutes: Some(10),
        start_date: Some(start),
        ..Default::default()
    }
    .check(today)?;
    let standing = clinic.prescribe_activity(olivia, client, episode, cooking, prescription)?;
    // Week one: all five; week two: three and a skip; this week: one so far.
    let days: [(i64, &str, i64, Option<&str>); 10] = [
        (0, "done", 7, None),
        (1, "done", 6, None),
        (2, "done", 6, Some("Easier than Monday")),
        (3, "done", 5, None),
        (4, "done", 5, None),
        (7, "done", 6, None),
        (8, "skipped", 0, Some("Shoulder ached")),
        (9, "done", 7, None),
        (11, "done", 6, None),
        (14, "done", 5, None),
    ];
    for (day, outcome, effort, note) in days {
        let performed_at = (start + Duration::days(day))
            .and_hms_opt(17, 30, 0)
            .map(|t| t.and_utc())
            .filter(|t| *t <= now);
        let Some(performed_at) = performed_at else {
            continue;
        };
        let practice = PracticeDraft {
            outcome: outcome.into(),
            effort: Some(effort),
            pain: Some(2),
            note: note.map(str::to_owned),
            performed_at: Some(performed_at),
        }
        .check(now)?;
        clinic.log_practice(maria, client, standing.id, practice)?;
    }
    // Check-ins: steady, then a sharp drop in mood and confidence (flagged).
    for (back, mood, confidence, note) in [
        (9, 7, 6, None),
        (6, 8, 7, None),
        (3, 7, 7, None),
        (0, 3, 3, Some("Burnt the sauce and felt useless.")),
    ] {
        let (feelings, note, at) = CheckInDraft {
            mood: Some(mood),
            confidence: Some(confidence),
            pain: Some(2),
            fatigue: Some(4),
            note: note.map(str::to_owned),
            observed_at: Some(now - Duration::days(back) - Duration::hours(1)),
        }
        .check(now)?;
        clinic.record_check_in(maria, client, feelings, note, at)?;
    }
    let answered = clinic.ask_question(
        maria,
        client,
        "Is it all right to sit down for the chopping when my leg gets tired?".into(),
    )?;
    clinic.answer_question(
        olivia,
        client,
        answered.id,
        Expected::Any,
        "Yes: sit for a minute, then stand again. Standing a little longer each week is the aim."
            .into(),
    )?;
    let open = clinic.ask_question(
        maria,
        client,
        "Could I try a second course next week?".into(),
    )?;
    clinic.note_on_question(
        olivia,
        client,
        open.id,
        "Discuss after the burnt-sauce check-in; mood dipped. Keep the second course small.".into(),
    )?;
    Ok(())
}
