//! The demo clinic's story: two clients, each in an episode of care, with goals in
//! their own words and weeks of ratings from their therapist and from themselves.
//!
//! Everything here is done through the operations of [`Clinic`], as the people
//! themselves, each signed in with a live session: every rule applies, and every step
//! leaves its audit event, so the access log a newcomer opens is a real one. Only the
//! observation times of the measurements are in the past (they were "taken" over the
//! last weeks); everything else happens now.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{
    audit::RequestMeta,
    goal::{Diagnosis, EpisodeDraft, Goal, GoalDraft, GoalInput, GoalStatus},
    identity::{Scopes, User},
    measure::{CopmProblem, Item, Values},
};
use persistence::versions::Expected;
use persistence::{ops::measures::NewReport, Caller, Clinic, StoreError};
use uuid::Uuid;

use crate::auth::tokens;

/// What the story seeded: per client, their name, record and episode.
#[derive(Debug, Clone)]
pub struct Story {
    pub episodes: Vec<StoryEpisode>,
}

/// One client's episode in the story.
#[derive(Debug, Clone)]
pub struct StoryEpisode {
    pub client_name: String,
    pub login: String,
    pub client_id: Uuid,
    pub episode_id: Uuid,
    /// The goal whose chart tells the most.
    pub featured_goal_id: Uuid,
    /// A signed progress report of the episode, if the story has one.
    pub report_id: Option<Uuid>,
}

const CAST: [&str; 5] = [
    "olivia.ot@riverside.example",
    "peter.pt@riverside.example",
    "maria@client.example",
    "sam@client.example",
    "lucia@family.example",
];

/// A demo person signed in: their caller, and the refresh secret that ends the session.
struct Person {
    caller: Caller,
    refresh_hash: String,
}

fn sign_in(clinic: &Clinic, user: &User) -> Result<Person, String> {
    let refresh_hash = tokens::digest(&tokens::opaque_secret());
    let session = clinic
        .start_session(user.id, refresh_hash.clone(), Duration::hours(1))
        .map_err(|e| e.to_string())?;
    let meta = RequestMeta {
        request_id: Some("demo-story".into()),
        source_ip: None,
    };
    let caller = Caller::new(user.principal(Scopes::default()), Some(session), meta);
    Ok(Person {
        caller,
        refresh_hash,
    })
}

/// Seeds the story into a database that holds the demo clinic exactly as
/// `seed_if_empty` left it (nobody has done anything yet); `None` otherwise.
pub fn seed_story(clinic: &Clinic) -> Result<Option<Story>, String> {
    let Some(users) = clinic
        .untouched_demo_people(&CAST)
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let people = users
        .iter()
        .map(|u| sign_in(clinic, u))
        .collect::<Result<Vec<_>, _>>()?;
    let [olivia, peter, maria, sam, lucia] = &people[..] else {
        return Err("the demo clinic's cast is incomplete".into());
    };
    let cast = Cast {
        clinic,
        now: Utc::now(),
        olivia: &olivia.caller,
        peter: &peter.caller,
    };
    let told = cast
        .maria(&maria.caller, &lucia.caller)
        .and_then(|m| Ok(vec![m, cast.sam(&sam.caller)?]))
        .map_err(|e| format!("seeding the demo story: {e}"));
    for person in &people {
        let meta = person.caller.meta.clone();
        clinic
            .sign_out(person.refresh_hash.clone(), meta)
            .map_err(|e| e.to_string())?;
    }
    Ok(Some(Story { episodes: told? }))
}

type Told<T> = Result<T, StoreError>;

/// The therapists, and the clock the story is told against.
struct Cast<'a> {
    clinic: &'a Clinic,
    now: DateTime<Utc>,
    olivia: &'a Caller,
    peter: &'a Caller,
}

/// A goal as the story proposes it.
struct Proposal<'a> {
    words: &'a str,
    statement: &'a str,
    area: &'a str,
    importance: i64,
    measure: Option<(&'a str, f64)>,
    gas: Option<[&'a str; 5]>,
}

/// A PSFS report of one activity.
fn psfs(activity: &str, value: f64) -> Values {
    Values {
        items: Some(vec![Item {
            label: Some(activity.into()),
            value: Some(value),
        }]),
        ..Default::default()
    }
}

/// A QuickDASH report whose 11 answers (1-5) add up to `sum` (11 to 55), spread as
/// evenly as answers are: score = (sum / 11 - 1) * 25.
fn quickdash(sum: u8) -> Values {
    let items = (0..11u8)
        .map(|i| Item {
            label: None,
            value: Some(f64::from(sum / 11 + u8::from(i < sum % 11))),
        })
        .collect();
    Values {
        items: Some(items),
        ..Default::default()
    }
}

/// A COPM interview: (problem, importance, performance, satisfaction).
fn copm(problems: &[(&str, f64, f64, f64)]) -> Values {
    let problems = problems
        .iter()
        .map(
            |&(problem, importance, performance, satisfaction)| CopmProblem {
                problem: problem.into(),
                importance,
                performance,
                satisfaction,
            },
        )
        .collect();
    Values {
        problems: Some(problems),
        ..Default::default()
    }
}

fn level(value: f64) -> Values {
    Values {
        value: Some(value),
        ..Default::default()
    }
}

impl Cast<'_> {
    fn days_ago(&self, days: i64) -> DateTime<Utc> {
        self.now - Duration::days(days)
    }

    fn date_days_ago(&self, days: i64) -> NaiveDate {
        self.days_ago(days).date_naive()
    }

    fn open(
        &self,
        by: &Caller,
        client: Uuid,
        reason: &str,
        diagnosis: Diagnosis,
        weeks_ago: i64,
    ) -> Told<Uuid> {
        let start = self.date_days_ago(weeks_ago * 7);
        let draft = EpisodeDraft::parse(
            reason,
            vec![diagnosis],
            Some(start),
            None,
            self.now.date_naive(),
        )?;
        Ok(self.clinic.open_episode(by, client, draft)?.id)
    }

    fn propose(
        &self,
        by: &Caller,
        client: Uuid,
        episode: Uuid,
        weeks_ago: i64,
        p: &Proposal<'_>,
    ) -> Told<Goal> {
        let input = GoalInput {
            client_words: p.words,
            statement: Some(p.statement).filter(|s| !s.is_empty()),
            occupation_area: p.area,
            importance: p.importance,
            start_date: Some(self.date_days_ago(weeks_ago * 7)),
            target_date: Some(self.date_days_ago(weeks_ago * 7 - 12 * 7)),
            measure_code: p.measure.map(|(code, _)| code),
            target_value: p.measure.map(|(_, target)| target),
            gas_levels: p.gas.map(|levels| levels.to_vec()),
            gas_baseline: p.gas.map(|_| -1),
        };
        let draft = GoalDraft::parse(None, None, &input, self.now.date_naive())?;
        self.clinic.propose_goal(by, client, episode, draft)
    }

    /// Records one report per (days ago, values), for a goal or the episode.
    fn rate(
        &self,
        by: &Caller,
        (client, episode, goal): (Uuid, Uuid, Option<Uuid>),
        code: &str,
        reports: Vec<(i64, Values, Option<&str>)>,
    ) -> Told<()> {
        for (days, values, note) in reports {
            let report = NewReport {
                goal_id: goal,
                measure_code: code.into(),
                observed_at: Some(self.days_ago(days)),
                values,
                note: note.map(str::to_owned),
            };
            self.clinic
                .record_measurement(by, client, episode, report)?;
        }
        Ok(())
    }

    fn say(&self, by: &Caller, client: Uuid, goal: Uuid, body: &str) -> Told<()> {
        self.clinic
            .comment_on_goal(by, client, goal, body.into(), false)?;
        Ok(())
    }

    /// Maria, ten weeks after a stroke: cooking, dressing, walking to the shop (goal
    /// achieved), and her own proposal to sing again, still awaiting the team.
    fn maria(&self, maria: &Caller, lucia: &Caller) -> Told<StoryEpisode> {
        let client = maria.who.client_id.ok_or(StoreError::NotFound)?;
        let (olivia, peter) = (self.olivia, self.peter);
        let stroke = Diagnosis {
            system: "http://hl7.org/fhir/sid/icd-10".into(),
            code: "I63.5".into(),
            text: "Ischaemic stroke (right middle cerebral artery), left hemiparesis".into(),
        };
        let episode = self.open(
            olivia,
            client,
            "Stroke ten weeks ago, home from the stroke unit; referred to get back to her roles at home",
            stroke,
            10,
        )?;
        let cooking = self.propose(olivia, client, episode, 10, &Proposal {
            words: "I want to cook dinner for my kids again.",
            statement: "Maria prepares a two-course evening meal for her family, standing at the counter, with no more than verbal prompts, within 45 minutes.",
            area: "iadl",
            importance: 10,
            measure: Some(("psfs", 8.0)),
            gas: Some([
                "Does not take part in cooking",
                "Makes a cold snack; hot meals only with hands-on help",
                "Cooks a one-pot hot meal with verbal prompts only",
                "Cooks a two-course meal with verbal prompts only",
                "Cooks a two-course meal for the family on her own",
            ]),
        })?;
        let dressing = self.propose(olivia, client, episode, 10, &Proposal {
            words: "I want to button my own blouse again.",
            statement: "Maria dresses her upper body on her own, buttons included, using her left hand to help, within 10 minutes.",
            area: "adl",
            importance: 8,
            measure: Some(("quickdash", 30.0)),
            gas: Some([
                "Needs help with every garment",
                "Dresses with help for buttons and sleeves",
                "Dresses on her own; needs help with small buttons",
                "Dresses on her own, buttons included, in 15 minutes",
                "Dresses on her own, buttons included, in 10 minutes",
            ]),
        })?;
        let walking = self.propose(peter, client, episode, 10, &Proposal {
            words: "Walk to the corner shop by myself.",
            statement: "Maria walks the 400 m to the corner shop and back with her stick, crossing one road, on her own.",
            area: "iadl",
            importance: 9,
            measure: Some(("gas", 0.0)),
            gas: Some([
                "Walks indoors only, with someone beside her",
                "Walks to the front gate with her stick",
                "Walks to the shop and back with her stick, on her own",
                "Walks to the shop and back, carrying a light bag",
                "Walks to the shop and back without her stick",
            ]),
        })?;
        for goal in [&cooking, &dressing, &walking] {
            self.clinic
                .agree_to_goal(maria, client, goal.id, Expected::Any)?;
        }
        let singing = self.propose(
            maria,
            client,
            episode,
            1,
            &Proposal {
                words: "I'd like to sing with my choir again on Thursday evenings.",
                statement: "", // In her words only: the team writes the statement before agreeing.
                area: "social-participation",
                importance: 7,
                measure: None,
                gas: None,
            },
        )?;
        let at = |goal: &Goal| (client, episode, Some(goal.id));
        // Cooking: Maria rates it every week (PSFS, one activity); Olivia in clinic
        // every four weeks, and on her Goal Attainment Scale every two.
        let weekly = [2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 6.0, 6.0, 7.0, 7.0];
        let own = weekly
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let note = (i == 7).then_some("Made pasta on Sunday, Lucia drained the pot.");
                (
                    70 - 7 * i as i64,
                    psfs("Cooking dinner for my family", v),
                    note,
                )
            })
            .collect();
        self.rate(maria, at(&cooking), "psfs", own)?;
        let clinic_psfs = [(70, 2.0), (42, 4.0), (14, 6.0)]
            .map(|(d, v)| (d, psfs("Cooking dinner for the family", v), None));
        self.rate(olivia, at(&cooking), "psfs", clinic_psfs.to_vec())?;
        let gas = [(56, -1.0), (42, -1.0), (28, 0.0), (14, 0.0), (0, 1.0)]
            .map(|(d, v)| (d, level(v), None));
        self.rate(olivia, at(&cooking), "gas", gas.to_vec())?;
        self.rate(
            maria,
            at(&cooking),
            "gas",
            vec![(28, level(0.0), None), (1, level(1.0), None)],
        )?;
        // Dressing: QuickDASH (lower is better), Maria every two weeks, Olivia twice.
        let own = [(70, 43), (56, 41), (42, 38), (28, 35), (14, 32), (1, 30)]
            .map(|(d, sum)| (d, quickdash(sum), None));
        self.rate(maria, at(&dressing), "quickdash", own.to_vec())?;
        let clinic_dash = [(70, 44), (28, 36)].map(|(d, sum)| (d, quickdash(sum), None));
        self.rate(olivia, at(&dressing), "quickdash", clinic_dash.to_vec())?;
        self.rate(
            olivia,
            at(&dressing),
            "gas",
            vec![(42, level(-1.0), None), (14, level(0.0), None)],
        )?;
        // Walking: Peter's GAS every two weeks until she made it; her own ratings too.
        let gas = [(63, -1.0), (49, -1.0), (35, 0.0), (21, 1.0)].map(|(d, v)| (d, level(v), None));
        self.rate(peter, at(&walking), "gas", gas.to_vec())?;
        self.rate(
            maria,
            at(&walking),
            "gas",
            vec![
                (35, level(0.0), None),
                (
                    22,
                    level(1.0),
                    Some("Walked to the shop and back on Saturday!"),
                ),
            ],
        )?;
        self.clinic.set_goal_status(
            peter,
            client,
            walking.id,
            Expected::Any,
            GoalStatus::Achieved,
        )?;
        // COPM: Olivia's interview at the start and her reassessment; Maria's own
        // re-rating at home, kept apart as a self-report.
        let problems = [
            "Cooking dinner",
            "Dressing",
            "Walking to the shop",
            "Singing in my choir",
            "Gardening",
        ];
        let interview = |perf: [f64; 5], sat: [f64; 5]| {
            let importance = [10.0, 9.0, 8.0, 7.0, 5.0];
            let rows: Vec<_> = (0..5)
                .map(|i| (problems[i], importance[i], perf[i], sat[i]))
                .collect();
            copm(&rows)
        };
        let episode_wide = (client, episode, None);
        self.rate(
            olivia,
            episode_wide,
            "copm",
            vec![
                (
                    70,
                    interview([3.0, 4.0, 3.0, 2.0, 3.0], [2.0, 3.0, 3.0, 1.0, 4.0]),
                    None,
                ),
                (
                    14,
                    interview([7.0, 7.0, 8.0, 4.0, 4.0], [7.0, 6.0, 8.0, 3.0, 5.0]),
                    None,
                ),
            ],
        )?;
        self.rate(
            maria,
            episode_wide,
            "copm",
            vec![(
                2,
                interview([7.0, 8.0, 8.0, 5.0, 4.0], [8.0, 7.0, 9.0, 4.0, 5.0]),
                None,
            )],
        )?;
        // What they said about it, and a note the care team keeps to itself.
        self.say(
            maria,
            client,
            cooking.id,
            "Made pasta on Sunday! Lucia drained the pot, I did the rest.",
        )?;
        self.say(
            olivia,
            client,
            cooking.id,
            "Brilliant, Maria. Next week we try a second course: salad, using the rocker knife.",
        )?;
        self.clinic.comment_on_goal(
            olivia,
            client,
            cooking.id,
            "Left-sided inattention at the stove: missed the back-left burner twice in session. Keep prompting scanning; review kitchen safety with Lucia before discharge.".into(),
            true,
        )?;
        self.say(peter, client, walking.id, "Goal achieved: to the shop and back twice this week, on her own. Next: carrying a light bag.")?;
        self.say(olivia, client, singing.id, "A lovely goal. On Tuesday let's work out together how long a rehearsal is and how you get there.")?;
        // Lucia, her daughter, looks in (she may view, not change).
        self.clinic.milestones(lucia, client)?;
        self.clinic.goal_comments(lucia, client, cooking.id)?;
        let report = super::reports::report_on(self.clinic, olivia, client, episode, self.now)?;
        // Between sessions: practice at home, check-ins, questions.
        let (clinic, now) = (self.clinic, self.now);
        super::home::maria_at_home(clinic, now, olivia, maria, client, episode, cooking.id)?;
        Ok(StoryEpisode {
            client_name: "Maria Lopez".into(),
            login: "maria@client.example".into(),
            client_id: client,
            episode_id: episode,
            featured_goal_id: cooking.id,
            report_id: Some(report),
        })
    }

    /// Sam, a carpenter, seven weeks after a wrist fracture: back to work, and writing
    /// his children's birthday cards (his own proposal, agreed by Olivia).
    fn sam(&self, sam: &Caller) -> Told<StoryEpisode> {
        let client = sam.who.client_id.ok_or(StoreError::NotFound)?;
        let olivia = self.olivia;
        let fracture = Diagnosis {
            system: "http://hl7.org/fhir/sid/icd-10".into(),
            code: "S52.5".into(),
            text: "Fracture of lower end of right radius, plated (ORIF)".into(),
        };
        let episode = self.open(
            olivia,
            client,
            "Right wrist fracture (fall from a ladder), plated; stiffness and weakness of the right hand",
            fracture,
            7,
        )?;
        let work = self.propose(olivia, client, episode, 7, &Proposal {
            words: "Get back to my job. I'm a carpenter, I need my hands.",
            statement: "Sam returns to full duties, using hammer, saw and drill through an 8-hour shift with pain no higher than 3/10.",
            area: "work",
            importance: 10,
            measure: Some(("quickdash", 20.0)),
            gas: Some([
                "Off work",
                "Light duties, no power tools",
                "Full duties with breaks every hour",
                "Full duties with breaks as usual",
                "Full duties and overtime",
            ]),
        })?;
        self.clinic
            .agree_to_goal(sam, client, work.id, Expected::Any)?;
        let cards = self.propose(
            sam,
            client,
            episode,
            7,
            &Proposal {
                words: "Write my kids' names on their birthday cards.",
                statement:
                    "Write a birthday card by hand, readable, without stopping because it hurts.",
                area: "social-participation",
                importance: 7,
                measure: Some(("psfs", 8.0)),
                gas: None,
            },
        )?;
        self.clinic
            .agree_to_goal(olivia, client, cards.id, Expected::Any)?;
        let at = |goal: &Goal| (client, episode, Some(goal.id));
        let own = [40, 38, 36, 33, 31, 29, 27, 26]
            .iter()
            .enumerate()
            .map(|(i, &sum)| (49 - 7 * i as i64, quickdash(sum), None))
            .collect();
        self.rate(sam, at(&work), "quickdash", own)?;
        let clinic_dash = [(49, 41), (21, 32)].map(|(d, sum)| (d, quickdash(sum), None));
        self.rate(olivia, at(&work), "quickdash", clinic_dash.to_vec())?;
        let gas = [(42, -1.0), (28, -1.0), (14, 0.0), (0, 0.0)].map(|(d, v)| (d, level(v), None));
        self.rate(olivia, at(&work), "gas", gas.to_vec())?;
        // Sam rates himself a little ahead of Olivia: a difference to talk about.
        self.rate(
            sam,
            at(&work),
            "gas",
            vec![
                (15, level(0.0), None),
                (1, level(1.0), Some("Full days now, breaks as usual.")),
            ],
        )?;
        let own = [3.0, 3.0, 4.0, 5.0, 5.0, 6.0, 7.0, 7.0]
            .iter()
            .enumerate()
            .map(|(i, &v)| (49 - 7 * i as i64, psfs("Writing by hand", v), None))
            .collect();
        self.rate(sam, at(&cards), "psfs", own)?;
        let clinic_psfs =
            [(49, 2.0), (21, 4.0), (0, 6.0)].map(|(d, v)| (d, psfs("Writing by hand", v), None));
        self.rate(olivia, at(&cards), "psfs", clinic_psfs.to_vec())?;
        let problems = [
            "Using my tools at work",
            "Writing",
            "Opening jars",
            "Football with my son",
        ];
        let interview = |perf: [f64; 4], sat: [f64; 4]| {
            let importance = [10.0, 7.0, 5.0, 8.0];
            let rows: Vec<_> = (0..4)
                .map(|i| (problems[i], importance[i], perf[i], sat[i]))
                .collect();
            copm(&rows)
        };
        self.rate(
            olivia,
            (client, episode, None),
            "copm",
            vec![
                (
                    49,
                    interview([2.0, 4.0, 4.0, 3.0], [2.0, 3.0, 4.0, 2.0]),
                    None,
                ),
                (
                    7,
                    interview([6.0, 7.0, 7.0, 5.0], [6.0, 7.0, 8.0, 5.0]),
                    None,
                ),
            ],
        )?;
        self.say(
            sam,
            client,
            work.id,
            "Held a hammer for twenty minutes today, no pain.",
        )?;
        self.say(
            olivia,
            client,
            work.id,
            "Great news. Thursday at the workshop: the drill, then the saw.",
        )?;
        Ok(StoryEpisode {
            client_name: "Samuel Osei".into(),
            login: "sam@client.example".into(),
            client_id: client,
            episode_id: episode,
            featured_goal_id: work.id,
            report_id: None,
        })
    }
}
