//! A dead token opens nothing. Every secured operation in the OpenAPI document, called
//! with a token whose session was signed out, whose account was deactivated, whose
//! refresh family was revoked, whose service account was deactivated or narrowed, or
//! whose claims the database does not back, answers 401 (problem+json with
//! `WWW-Authenticate`), and nothing a user can see changes.

use headway_tests::{Session, TestApp, SECRET};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::walk::{answers, secured_operations, service_account, service_token, World};

fn revoke(app: &TestApp, refresh: Option<&str>) {
    app.send(
        app.http
            .post(app.url("/api/v1/auth/revoke"))
            .form(&[("token", refresh.unwrap_or_default())]),
    )
    .ok(200);
}

fn deactivate(app: &TestApp, admin: &str, user: &str) {
    let r = app.patch(
        admin,
        &format!("/api/v1/users/{user}"),
        &json!({"active": false}),
    );
    assert_eq!(r.ok(200)["active"], false);
}

/// Claims of a live token, decoded without checking (the test only re-signs them).
fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// A token signed with the server's own key, from a live token's claims with changes
/// (`null` removes a claim).
fn forge(token: &str, changes: Value) -> String {
    let mut claims = claims_of(token);
    if let (Some(c), Some(changes)) = (claims.as_object_mut(), changes.as_object()) {
        for (k, v) in changes {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
    }
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    encode(
        &header,
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap_or_default()
}

/// Live tokens that reach Maria's record, one per kind of death, each proven live
/// before it is killed.
fn dead_tokens(app: &TestApp, world: &World, admin: &str) -> Vec<(&'static str, String)> {
    let reach = format!("/api/v1/clients/{}", world.client);
    let alive = |token: &str| {
        app.get(token, &reach).ok(200);
    };
    let mut dead = Vec::new();

    // Signed out, for a person of every role.
    for (kind, email) in [
        ("signed-out admin", "admin@riverside.example"),
        ("signed-out therapist", "olivia.ot@riverside.example"),
        ("signed-out client", "maria@client.example"),
        ("signed-out caregiver", "lucia@family.example"),
    ] {
        let s = app.login(email);
        alive(&s.access);
        revoke(app, s.refresh.as_deref());
        dead.push((kind, s.access));
    }

    // A refresh token replayed: the whole family is revoked, old and new access tokens.
    let s: Session = app.login("olivia.ot@riverside.example");
    let rotated = app.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", s.refresh.as_deref().unwrap_or_default()),
    ]);
    let newer = rotated.ok(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    alive(&newer);
    app.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", s.refresh.as_deref().unwrap_or_default()),
    ])
    .problem(400);
    dead.push(("replayed family, first token", s.access));
    dead.push(("replayed family, rotated token", newer));

    // Claims the database does not back, signed with the right key.
    let live = app.login("olivia.ot@riverside.example").access;
    alive(&live);
    dead.push((
        "therapist claiming admin",
        forge(&live, json!({"role": "admin"})),
    ));
    dead.push((
        "unknown session",
        forge(&live, json!({"sid": uuid::Uuid::now_v7().to_string()})),
    ));
    dead.push((
        "person without a session",
        forge(&live, json!({"sid": null})),
    ));
    let maria = app.login("maria@client.example").access;
    alive(&maria);
    let sam_record = app.client_id("Samuel Osei");
    dead.push((
        "client claiming another record",
        forge(&maria, json!({"cid": sam_record})),
    ));
    dead.push((
        "client claiming therapist",
        forge(&maria, json!({"role": "therapist", "cid": null})),
    ));

    // Deactivated accounts: a therapist on the care team, a caregiver, a service.
    let peter = app.login("peter.pt@riverside.example");
    alive(&peter.access);
    deactivate(app, admin, &app.user_id("peter.pt@riverside.example"));
    dead.push(("deactivated therapist", peter.access));
    let lucia = app.login("lucia@family.example");
    alive(&lucia.access);
    deactivate(app, admin, &app.user_id("lucia@family.example"));
    dead.push(("deactivated caregiver", lucia.access));
    let all = "clients:read clients:write clinical:read clinical:write audit:read";
    let (gone_id, gone_secret) = service_account(app, admin, all);
    let gone = service_token(app, &gone_id, &gone_secret);
    alive(&gone);
    deactivate(app, admin, &gone_id);
    dead.push(("deactivated service", gone));

    // A service whose scopes were narrowed: its older, wider token is no longer backed.
    let (narrow_id, narrow_secret) = service_account(app, admin, all);
    let wide = service_token(app, &narrow_id, &narrow_secret);
    alive(&wide);
    let r = app.patch(
        admin,
        &format!("/api/v1/users/{narrow_id}"),
        &json!({"scopes": "clinical:read"}),
    );
    r.ok(200);
    dead.push(("narrowed service", wide));
    dead
}

#[test]
fn dead_tokens_get_401_on_every_operation_and_change_nothing() {
    let app = TestApp::spawn();
    let world = World::around(&app, "Maria Lopez", "olivia.ot@riverside.example");
    let admin = app.login("admin@riverside.example").access;
    let dead = dead_tokens(&app, &world, &admin);
    let olivia = app.login("olivia.ot@riverside.example").access;
    let before = world.what_users_see(&app, &[&admin, &olivia]);
    let ops = secured_operations();
    for (kind, token) in &dead {
        for (method, path) in &ops {
            let r = world.call(&app, token, method, path);
            answers(&r, 401, kind, method, path);
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|h| h.starts_with("Bearer")),
                "{kind}: {method} {path} has no WWW-Authenticate"
            );
        }
    }
    let after = world.what_users_see(&app, &[&admin, &olivia]);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "a dead token changed what users see");
    }
}

#[test]
fn a_narrowed_service_gets_a_new_token_within_its_new_scopes() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let maria = app.client_id("Maria Lopez");
    let (id, secret) = service_account(&app, &admin, "clients:read clinical:read");
    let wide = service_token(&app, &id, &secret);
    app.get(&wide, &format!("/api/v1/clients/{maria}")).ok(200);
    app.patch(
        &admin,
        &format!("/api/v1/users/{id}"),
        &json!({"scopes": "clinical:read"}),
    )
    .ok(200);
    app.get(&wide, &format!("/api/v1/clients/{maria}"))
        .problem(401);
    let narrow = service_token(&app, &id, &secret);
    app.get(&narrow, &format!("/api/v1/clients/{maria}/episodes"))
        .ok(200);
    // Demographics are outside its reach now: 404, as for an id that does not exist.
    app.get(&narrow, &format!("/api/v1/clients/{maria}"))
        .problem(404);
}
