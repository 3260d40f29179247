//! Sign-in, tokens, refresh rotation, revocation, throttling.

use headway_tests::{TestApp, SECRET};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

fn claims(app: &TestApp, overrides: serde_json::Value) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    let sub = app.user_id("olivia.ot@riverside.example");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let org = app.get(&olivia, "/api/v1/me").body["organization"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // A person's token must name a live session: take the one Olivia just opened.
    let sid = {
        use base64::Engine;
        let payload = olivia.split('.').nth(1).unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default()["sid"].clone()
    };
    let mut c = json!({
        "iss": "headway", "aud": "headway-api", "sub": sub,
        "exp": now + 600, "nbf": now - 10, "iat": now - 10,
        "jti": "x", "scope": "", "role": "therapist", "org": org, "sid": sid
    });
    if let (Some(base), Some(extra)) = (c.as_object_mut(), overrides.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                base.remove(k);
            } else {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    c
}

/// Signs as the server would, naming the server's key (`kid`), so that each refusal
/// below is for its own reason.
fn sign(alg: Algorithm, typ: Option<&str>, claims: &serde_json::Value, key: &[u8]) -> String {
    let mut header = Header::new(alg);
    header.typ = typ.map(str::to_owned);
    header.kid = Some(api::auth::tokens::key_id(SECRET.as_bytes()));
    encode(&header, claims, &EncodingKey::from_secret(key)).unwrap_or_default()
}

#[test]
fn a_valid_forged_token_is_accepted_so_the_refusals_below_mean_something() {
    let app = TestApp::spawn();
    let token = sign(
        Algorithm::HS256,
        Some("at+jwt"),
        &claims(&app, json!({})),
        SECRET.as_bytes(),
    );
    app.get(&token, "/api/v1/me").ok(200);
}

#[test]
fn bad_tokens_are_refused_with_401_problems() {
    let app = TestApp::spawn();
    let now = chrono::Utc::now().timestamp();
    let key = SECRET.as_bytes();
    let good = claims(&app, json!({}));
    let mut cases: Vec<(&str, String)> = vec![
        (
            "expired",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &claims(&app, json!({"exp": now - 120})),
                key,
            ),
        ),
        (
            "not yet valid",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &claims(&app, json!({"nbf": now + 600})),
                key,
            ),
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &claims(&app, json!({"iss": "evil"})),
                key,
            ),
        ),
        (
            "missing issuer",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &claims(&app, json!({"iss": null})),
                key,
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &claims(&app, json!({"aud": "other-api"})),
                key,
            ),
        ),
        (
            "missing audience",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &claims(&app, json!({"aud": null})),
                key,
            ),
        ),
        (
            "missing exp",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &claims(&app, json!({"exp": null})),
                key,
            ),
        ),
        (
            "missing nbf",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &claims(&app, json!({"nbf": null})),
                key,
            ),
        ),
        (
            "exp as string",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &claims(&app, json!({"exp": (now + 600).to_string()})),
                key,
            ),
        ),
        (
            "wrong key",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &good,
                b"another-secret-of-enough-length-0123456789",
            ),
        ),
        (
            "wrong algorithm",
            sign(Algorithm::HS512, Some("at+jwt"), &good, key),
        ),
        ("wrong typ", sign(Algorithm::HS256, Some("JWT"), &good, key)),
        ("no typ", sign(Algorithm::HS256, None, &good, key)),
        (
            "role not the account's",
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                &claims(&app, json!({"role": "admin"})),
                key,
            ),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    // Tampered: a valid token whose payload was swapped for another role's.
    let valid = sign(Algorithm::HS256, Some("at+jwt"), &good, key);
    let parts: Vec<&str> = valid.split('.').collect();
    let forged_payload = base64_url(
        &serde_json::to_vec(&claims(&app, json!({"role": "admin"}))).unwrap_or_default(),
    );
    cases.push((
        "tampered",
        format!("{}.{}.{}", parts[0], forged_payload, parts[2]),
    ));
    // Unsigned: alg none.
    let none_header = base64_url(br#"{"alg":"none","typ":"at+jwt"}"#);
    let payload = base64_url(&serde_json::to_vec(&good).unwrap_or_default());
    cases.push(("alg none", format!("{none_header}.{payload}.")));
    for (why, token) in cases {
        let r = app.get(&token, "/api/v1/me");
        assert_eq!(r.status.as_u16(), 401, "{why}: {}", r.text);
        r.problem(401);
        assert!(
            r.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")),
            "{why}"
        );
    }
    let r = app.send(app.http.get(app.url("/api/v1/me")));
    r.problem(401);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn the_token_endpoint_speaks_oauth() {
    let app = TestApp::spawn();
    let r = app.token(&[
        ("grant_type", "password"),
        ("username", "olivia.ot@riverside.example"),
        ("password", headway_tests::PASSWORD),
    ]);
    let body = r.ok(200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(
        body["refresh_token"].is_string()
            && body["access_token"].is_string()
            && body["scope"].is_string()
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // Wrong password and unknown user are indistinguishable.
    let wrong = app.token(&[
        ("grant_type", "password"),
        ("username", "olivia.ot@riverside.example"),
        ("password", "nope-nope-nope"),
    ]);
    let unknown = app.token(&[
        ("grant_type", "password"),
        ("username", "nobody@riverside.example"),
        ("password", "nope-nope-nope"),
    ]);
    assert_eq!(wrong.problem(400)["error"], "invalid_grant");
    assert_eq!(unknown.problem(400)["error"], "invalid_grant");
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);

    assert_eq!(
        app.token(&[("grant_type", "implicit")]).problem(400)["error"],
        "unsupported_grant_type"
    );
    assert_eq!(
        app.token(&[("grant_type", "password")]).problem(400)["error"],
        "invalid_request"
    );
    let json_body = app.send(
        app.http
            .post(app.url("/api/v1/auth/token"))
            .json(&json!({"grant_type": "password"})),
    );
    json_body.problem(415);
}

#[test]
fn a_replayed_refresh_token_revokes_its_whole_family() {
    let app = TestApp::spawn();
    let first = app.login("maria@client.example");
    let refresh = first.refresh.clone().unwrap_or_default();
    let rotated = app.token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
    let second_refresh = rotated.ok(200)["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let second_access = rotated.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(
        second_refresh, refresh,
        "refresh tokens rotate on every use"
    );
    app.get(&second_access, "/api/v1/me").ok(200);

    // Someone replays the spent token: refused, and the family is revoked.
    let replay = app.token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
    assert_eq!(replay.problem(400)["error"], "invalid_grant");
    let after = app.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &second_refresh),
    ]);
    assert_eq!(after.problem(400)["error"], "invalid_grant");
    app.get(&second_access, "/api/v1/me").problem(401);
    app.get(&first.access, "/api/v1/me").problem(401);
    // Another session of the same person is untouched.
    let other = app.login("maria@client.example");
    app.get(&other.access, "/api/v1/me").ok(200);
}

#[test]
fn signing_out_ends_the_session_at_once() {
    let app = TestApp::spawn();
    let s = app.login("sam@client.example");
    app.get(&s.access, "/api/v1/me").ok(200);
    let r = app.send(
        app.http
            .post(app.url("/api/v1/auth/revoke"))
            .form(&[("token", s.refresh.as_deref().unwrap_or_default())]),
    );
    r.ok(200);
    app.get(&s.access, "/api/v1/me").problem(401);
    let refresh = app.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", s.refresh.as_deref().unwrap_or_default()),
    ]);
    refresh.problem(400);
    // Unknown tokens are fine too (RFC 7009).
    app.send(
        app.http
            .post(app.url("/api/v1/auth/revoke"))
            .form(&[("token", "unknown")]),
    )
    .ok(200);
}

#[test]
fn deactivating_a_user_invalidates_their_tokens_at_once() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example");
    let olivia = app.login("olivia.ot@riverside.example");
    let id = app.user_id("olivia.ot@riverside.example");
    app.get(&olivia.access, "/api/v1/clients").ok(200);
    let r = app.patch(
        &admin.access,
        &format!("/api/v1/users/{id}"),
        &json!({"active": false}),
    );
    assert_eq!(r.ok(200)["active"], false);
    app.get(&olivia.access, "/api/v1/clients").problem(401);
    let again = app.token(&[
        ("grant_type", "password"),
        ("username", "olivia.ot@riverside.example"),
        ("password", headway_tests::PASSWORD),
    ]);
    assert_eq!(again.problem(400)["error"], "invalid_grant");
    let refresh = app.token(&[
        ("grant_type", "refresh_token"),
        (
            "refresh_token",
            olivia.refresh.as_deref().unwrap_or_default(),
        ),
    ]);
    refresh.problem(400);
}

#[test]
fn repeated_failures_are_throttled_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.login_max_failures = 3);
    for _ in 0..2 {
        let r = app.token(&[
            ("grant_type", "password"),
            ("username", "jun@client.example"),
            ("password", "wrong-password!"),
        ]);
        r.problem(400);
    }
    let r = app.token(&[
        ("grant_type", "password"),
        ("username", "jun@client.example"),
        ("password", "wrong-password!"),
    ]);
    r.problem(429);
    let retry: i64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(retry > 0 && retry <= 900, "Retry-After {retry}");
    // Even the right password waits now.
    let right = app.token(&[
        ("grant_type", "password"),
        ("username", "jun@client.example"),
        ("password", headway_tests::PASSWORD),
    ]);
    right.problem(429);
    // Other logins are unaffected.
    app.login("sam@client.example");
}

#[test]
fn invitations_let_people_set_a_password_once() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example");
    let r = app.post(
        &admin.access,
        "/api/v1/users",
        &json!({"role": "therapist", "display_name": "Sara Speech", "email": "Sara.SLP@riverside.example", "discipline": "speech-language-pathology"}),
    );
    let created = r.ok(201);
    assert_eq!(created["user"]["email"], "sara.slp@riverside.example");
    assert_eq!(created["user"]["has_password"], false);
    assert!(r
        .header("location")
        .is_some_and(|l| l.starts_with("/api/v1/users/")));
    let token = created["invitation"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let short = app.send(
        app.http
            .post(app.url("/api/v1/invitations/accept"))
            .json(&json!({"token": token, "password": "short"})),
    );
    assert_eq!(short.problem(422).clone()["errors"][0]["field"], "password");
    let ok = app.send(
        app.http
            .post(app.url("/api/v1/invitations/accept"))
            .json(&json!({"token": token, "password": "a long enough password"})),
    );
    ok.ok(200);
    app.login_with("sara.slp@riverside.example", "a long enough password");
    let again = app.send(
        app.http
            .post(app.url("/api/v1/invitations/accept"))
            .json(&json!({"token": token, "password": "another long password"})),
    );
    again.problem(404);
}

#[test]
fn service_accounts_use_client_credentials_within_their_scopes() {
    let app = TestApp::spawn();
    let basic = app.send(
        app.http
            .post(app.url("/api/v1/auth/token"))
            .basic_auth(&app.service_client_id, Some(&app.service_secret))
            .form(&[("grant_type", "client_credentials")]),
    );
    let body = basic.ok(200);
    assert_eq!(body["scope"], "clients:read clinical:read");
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token for client_credentials"
    );
    let too_much = app.token(&[
        ("grant_type", "client_credentials"),
        ("client_id", &app.service_client_id),
        ("client_secret", &app.service_secret),
        ("scope", "clients:write"),
    ]);
    assert_eq!(too_much.problem(400)["error"], "invalid_scope");
    let wrong = app.token(&[
        ("grant_type", "client_credentials"),
        ("client_id", &app.service_client_id),
        ("client_secret", "nope"),
    ]);
    assert_eq!(wrong.problem(401)["error"], "invalid_client");
    // People cannot use client credentials, nor services the password grant.
    let person = app.token(&[
        ("grant_type", "client_credentials"),
        ("client_id", "admin@riverside.example"),
        ("client_secret", headway_tests::PASSWORD),
    ]);
    person.problem(401);
}
