//! A demo clinic for newcomers: seeded only into an empty database.

use persistence::{
    ops::admin::{DemoSecrets, FirstAdmin},
    Clinic,
};
use uuid::Uuid;

use crate::auth::{passwords, tokens};

mod home;
mod reports;
mod story;

pub use story::{seed_story, Story, StoryEpisode};

/// The password every demo person signs in with.
pub const DEMO_PASSWORD: &str = "headway-demo-2026";

/// Who was seeded, to print for the newcomer.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub people: Vec<(String, domain::identity::Role, String)>,
    pub service_client_id: String,
    pub service_secret: String,
}

/// Seeds the demo clinic if (and only if) the database holds no organization.
pub fn seed_if_empty(clinic: &Clinic) -> Result<Option<Seeded>, String> {
    if !clinic.is_empty().map_err(|e| e.to_string())? {
        return Ok(None);
    }
    let secret = tokens::opaque_secret();
    let secrets = DemoSecrets {
        password_hash: passwords::hash(DEMO_PASSWORD)?,
        service_secret_hash: passwords::hash(&secret)?,
    };
    let seeded = clinic.seed_demo(secrets).map_err(|e| e.to_string())?;
    Ok(seeded.map(|demo| Seeded {
        people: demo.people,
        service_client_id: demo.service_client_id.to_string(),
        service_secret: secret,
    }))
}

/// The welcome text: who exists and how to get a token.
pub fn welcome(seeded: &Seeded, base: &str) -> String {
    let mut out = String::new();
    out.push_str("\n=== Headway demo clinic: Riverside Therapy ===\n");
    out.push_str(&format!("Every person's password: {DEMO_PASSWORD}\n\n"));
    for (email, role, name) in &seeded.people {
        out.push_str(&format!("  {:<10} {:<30} {}\n", role.as_str(), email, name));
    }
    out.push_str(&format!(
        "  {:<10} client_id={} client_secret={}\n\n",
        "service", seeded.service_client_id, seeded.service_secret
    ));
    out.push_str("Get a token (swap the username for anyone above):\n");
    out.push_str(&format!(
        "  TOKEN=$(curl -s {base}/api/v1/auth/token -d grant_type=password -d username=olivia.ot@riverside.example -d password={DEMO_PASSWORD} | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n"
    ));
    out.push_str(&format!(
        "  curl -s {base}/api/v1/me -H \"Authorization: Bearer $TOKEN\"\n"
    ));
    out.push_str(&format!(
        "  curl -s {base}/api/v1/clients -H \"Authorization: Bearer $TOKEN\"\n"
    ));
    out.push_str(&format!("Service account:\n  curl -s {base}/api/v1/auth/token -u {}:{} -d grant_type=client_credentials\n", seeded.service_client_id, seeded.service_secret));
    out.push_str(&format!(
        "API docs: {base}/docs/   OpenAPI: {base}/openapi.json\n"
    ));
    out
}

/// Where the story starts: each client's progress view and a chart to open.
pub fn story_welcome(story: &Story, base: &str) -> String {
    let mut out = String::from(
        "The story so far (sign in as the client, or as olivia.ot@riverside.example):\n",
    );
    for e in &story.episodes {
        let client = format!("{base}/api/v1/clients/{}", e.client_id);
        out.push_str(&format!(
            "  {} ({}):\n    progress {client}/episodes/{}/progress\n    chart    {client}/goals/{}/chart.svg\n    access   {client}/access-log\n",
            e.client_name, e.login, e.episode_id, e.featured_goal_id
        ));
        if let Some(report) = e.report_id {
            out.push_str(&format!(
                "    report   {client}/reports/{report} (Accept: application/pdf or text/html)\n"
            ));
        }
    }
    out.push_str("The README's \"A short tour\" walks through it with curl.\n");
    out
}

/// Creates a clinic and its first admin (the `create-org` command; tests use it too).
pub fn create_organization(
    clinic: &Clinic,
    name: &str,
    admin_email: &str,
    admin_name: &str,
    password: &str,
) -> Result<(Uuid, Uuid), String> {
    let admin = FirstAdmin {
        email: admin_email.to_owned(),
        display_name: admin_name.to_owned(),
        password_hash: passwords::hash(password)?,
    };
    clinic
        .create_organization(name, admin)
        .map_err(|e| e.to_string())
}
