//! The demo's progress report: Olivia reports on Maria's last four weeks and signs,
//! so `make run` shows a signed report (JSON, HTML and PDF) and its addendum.

use chrono::{DateTime, Duration, Utc};
use domain::report::{Narrative, Period};
use persistence::{versions::Expected, Caller, Clinic, StoreError};
use uuid::Uuid;

/// Drafts, edits, signs and adds an addendum to a report of the last 28 days of
/// `episode`; answers the report's id.
pub fn report_on(
    clinic: &Clinic,
    olivia: &Caller,
    client: Uuid,
    episode: Uuid,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let today = now.date_naive();
    let period = Period::parse(today - Duration::days(27), today, today)?;
    let draft = clinic.draft_report(
        olivia,
        client,
        episode,
        period,
        Narrative::parse("Maria is cooking again with verbal prompts.", "")?,
    )?;
    let edited = clinic.edit_report(
        olivia,
        client,
        draft.id,
        Expected::Any,
        Narrative::parse(
            "Maria cooks a one-pot hot meal with verbal prompts only and dresses her upper body on her own; small buttons still need help. She walks to the shop and back alone (goal achieved). Left-sided inattention at the stove persists and is prompted.",
            "Continue twice weekly for four weeks: a second course with the rocker knife, fine-motor practice for buttons, kitchen safety review with her daughter before discharge. Reassess COPM at discharge.",
        )?,
    )?;
    let signed = clinic.sign_report(olivia, client, edited.id, Expected::Any)?;
    clinic.add_report_addendum(
        olivia,
        client,
        signed.id,
        "Addendum: the kitchen safety review with her daughter Lucia is booked for next Tuesday."
            .into(),
    )?;
    Ok(signed.id)
}
