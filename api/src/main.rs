//! The `headway` command: serve, migrate, create-org, audit verify, demo, openapi.

use std::{net::TcpListener, process::ExitCode};

use domain::identity::{check_new_password, parse_email};
use headway_api::{config, demo, prepare, serve, telemetry, Config};
use persistence::{Backend, Clinic};

const USAGE: &str = "usage: headway <command>

commands:
  serve                 serve the API (needs HEADWAY_JWT_SECRET)
  demo                  serve, seeding a demo clinic (and its story: two clients'
                        goals and weeks of ratings) into an empty database; a
                        throwaway signing key is used if none is configured
  migrate               apply pending database migrations and exit
  create-org NAME EMAIL ADMIN_NAME
                        create a clinic and its first admin; the admin's password
                        is read from HEADWAY_ADMIN_PASSWORD
  audit verify          check every organization's audit hash chain; exits
                        non-zero naming the first broken event of each chain
  openapi               print the OpenAPI document
  env                   list the configuration variables";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map_or("serve", String::as_str);
    let result = match command {
        "openapi" => print(
            &serde_json::to_string_pretty(&headway_api::openapi::document(&headway_api::openapi()))
                .unwrap_or_default(),
        ),
        "env" => print(
            &config::VARIABLES
                .iter()
                .map(|(n, d, m)| format!("{n:<28} {d:<22} {m}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "serve" => run(false),
        "demo" => run(true),
        "migrate" => migrate(),
        "create-org" => create_org(&args[1..]),
        "audit" => audit(&args[1..]),
        "-h" | "--help" | "help" => print(USAGE),
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("headway: {e}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout)]
fn print(text: &str) -> Result<(), String> {
    println!("{text}");
    Ok(())
}

fn config() -> Result<Config, String> {
    let config = Config::from_env()?;
    telemetry::init(&config.log_format);
    Ok(config)
}

/// The configured database.
fn backend() -> Result<Backend, String> {
    Backend::from_url(&config()?.database_url).map_err(|e| e.to_string())
}

fn run(demo_mode: bool) -> Result<(), String> {
    let config = config()?;
    tracing::info!(database = %config::redact_url(&config.database_url), listen = %config.listen, "starting");
    let state = prepare(config, demo_mode)?;
    if demo_mode {
        let base = format!("http://{}", state.config.listen);
        match demo::seed_if_empty(&state.clinic)? {
            Some(seeded) => {
                // The story is told into the freshly seeded clinic only.
                let story = demo::seed_story(&state.clinic)?;
                print(&demo::welcome(&seeded, &base))?;
                if let Some(story) = story {
                    print(&demo::story_welcome(&story, &base))?;
                }
            }
            None => tracing::info!("database already holds data; demo seeding skipped"),
        }
    }
    let listener = TcpListener::bind(state.config.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", state.config.listen))?;
    tracing::info!(address = %state.config.listen, "serving; docs at /docs/");
    actix_web::rt::System::new().block_on(async move {
        let server = serve(state, listener, None).map_err(|e| e.to_string())?;
        server.await.map_err(|e| e.to_string())
    })
}

fn migrate() -> Result<(), String> {
    let applied = Clinic::migrate(&backend()?).map_err(|e| e.to_string())?;
    print(&format!("{} migration(s) applied", applied.len()))
}

/// `headway audit verify`: reads the database, changes nothing (no migrations either).
fn audit(args: &[String]) -> Result<(), String> {
    if args.first().map(String::as_str) != Some("verify") || args.len() != 1 {
        return Err(format!("audit takes one subcommand: verify\n\n{USAGE}"));
    }
    let report = Clinic::verify_audit_chain(&backend()?).map_err(|e| {
        format!("cannot read the audit trail ({e}); is the database migrated (`headway migrate`)?")
    })?;
    let mut lines = Vec::new();
    for chain in &report.chains {
        let before = match chain.events_before_chain {
            0 => String::new(),
            n => format!(" (+{n} from before the chain, counted)"),
        };
        lines.push(match &chain.broken {
            None => format!(
                "chain {}: intact, {} events checked{before}, head {}",
                chain.chain,
                chain.events_checked,
                chain.head_hash.as_deref().unwrap_or("-")
            ),
            Some(broken) => format!(
                "chain {}: BROKEN after {} good events: {broken}",
                chain.chain, chain.events_checked
            ),
        });
    }
    if report.chains.is_empty() {
        lines.push("no audit events yet".into());
    }
    print(&lines.join("\n"))?;
    let broken = report.chains.iter().filter(|c| c.broken.is_some()).count();
    if broken == 0 {
        Ok(())
    } else {
        Err(format!(
            "the audit trail has been tampered with: {broken} broken chain(s), see above"
        ))
    }
}

fn create_org(args: &[String]) -> Result<(), String> {
    let [name, email, admin_name] = args else {
        return Err(format!("create-org takes NAME EMAIL ADMIN_NAME\n\n{USAGE}"));
    };
    let password = std::env::var("HEADWAY_ADMIN_PASSWORD")
        .map_err(|_| "set HEADWAY_ADMIN_PASSWORD to the admin's password".to_owned())?;
    check_new_password("HEADWAY_ADMIN_PASSWORD", &password).map_err(|e| e.to_string())?;
    let email = parse_email("EMAIL", email).map_err(|e| e.to_string())?;
    let (clinic, _) = Clinic::open(&backend()?, 1).map_err(|e| e.to_string())?;
    let (org, admin) = demo::create_organization(&clinic, name, &email, admin_name, &password)?;
    print(&format!(
        "organization {} ({org}) created; admin {email} ({admin})",
        name.trim()
    ))
}
