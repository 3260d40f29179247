//! Table definitions shared by both backends (same names, same column types).

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        organization_id -> Text,
        name -> Text,
        preferred_name -> Nullable<Text>,
        date_of_birth -> Nullable<Date>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        status -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        organization_id -> Text,
        email -> Nullable<Text>,
        display_name -> Text,
        role -> Text,
        discipline -> Nullable<Text>,
        client_id -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        scopes -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    client_identifiers (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        system -> Text,
        value -> Text,
    }
}

diesel::table! {
    client_versions (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        version -> Integer,
        snapshot -> Text,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    care_team_members (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        therapist_id -> Text,
        team_role -> Text,
        added_by -> Text,
        added_at -> Timestamp,
        removed_by -> Nullable<Text>,
        removed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    caregiver_links (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        caregiver_id -> Text,
        relationship -> Nullable<Text>,
        permission -> Text,
        granted_by -> Text,
        granted_at -> Timestamp,
        revoked_by -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
        version -> Integer,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        organization_id -> Text,
        user_id -> Text,
        token_hash -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        scope -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        session_id -> Text,
        token_hash -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_throttle (login, address) {
        login -> Text,
        address -> Text,
        failures -> Integer,
        window_started_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    address_throttle (address) {
        address -> Text,
        failures -> Integer,
        window_started_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        occurred_at -> Timestamp,
        organization_id -> Nullable<Text>,
        actor_id -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        action -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        client_id -> Nullable<Text>,
        outcome -> Text,
        request_id -> Nullable<Text>,
        source_ip -> Nullable<Text>,
        chain_seq -> Nullable<BigInt>,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    /// Each audit chain's last link (a chain per organization, and `none`).
    audit_chain_heads (chain) {
        chain -> Text,
        seq -> BigInt,
        hash -> Text,
        events_before_chain -> BigInt,
    }
}

diesel::table! {
    /// The change log's last handed-out place (one row).
    change_log_head (id) {
        id -> Integer,
        seq -> BigInt,
    }
}

diesel::table! {
    /// Every change to a client's record, in commit order.
    changes (seq) {
        seq -> BigInt,
        organization_id -> Text,
        client_id -> Text,
        kind -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        audience -> Text,
        actor_id -> Nullable<Text>,
        occurred_at -> Timestamp,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    /// Single-use stream tickets, by the SHA-256 of the ticket.
    stream_tickets (hash) {
        hash -> Text,
        user_id -> Text,
        session_id -> Nullable<Text>,
        scopes -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(clients -> organizations (organization_id));
diesel::joinable!(client_identifiers -> clients (client_id));
diesel::joinable!(care_team_members -> users (therapist_id));
diesel::joinable!(caregiver_links -> users (caregiver_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    goal_milestones,
    organizations,
    clients,
    users,
    client_identifiers,
    client_versions,
    care_team_members,
    caregiver_links,
    invitations,
    sessions,
    refresh_tokens,
    login_throttle,
    address_throttle,
    audit_events,
    audit_chain_heads,
    change_log_head,
    changes,
    stream_tickets,
    episodes,
    goals,
    goal_revisions,
    goal_agreements,
    goal_events,
    goal_comments,
    outcome_measures,
    measurements,
    progress_reports,
);

diesel::table! {
    episodes (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        reason_for_referral -> Text,
        diagnoses -> Text,
        start_date -> Date,
        end_date -> Nullable<Date>,
        status -> Text,
        goal_count -> Integer,
        progress_version -> BigInt,
        progress_cache -> Nullable<Text>,
        progress_cache_version -> Nullable<BigInt>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    goal_milestones (goal_id) {
        goal_id -> Text,
        revision -> Integer,
        measure_code -> Text,
        state -> Text,
    }
}

diesel::table! {
    goals (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        episode_id -> Text,
        label -> Text,
        term -> Text,
        parent_id -> Nullable<Text>,
        child_count -> Integer,
        status -> Text,
        expressed_by -> Text,
        revision -> Integer,
        client_agreed -> Bool,
        team_agreed -> Bool,
        client_words -> Text,
        statement -> Text,
        occupation_area -> Text,
        importance -> Integer,
        start_date -> Date,
        target_date -> Nullable<Date>,
        measure_code -> Nullable<Text>,
        target_value -> Nullable<Double>,
        gas -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    goal_revisions (id) {
        id -> Text,
        goal_id -> Text,
        revision -> Integer,
        client_words -> Text,
        statement -> Text,
        occupation_area -> Text,
        importance -> Integer,
        start_date -> Date,
        target_date -> Nullable<Date>,
        measure_code -> Nullable<Text>,
        target_value -> Nullable<Double>,
        gas -> Nullable<Text>,
        proposed_by -> Text,
        proposed_side -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    goal_agreements (id) {
        id -> Text,
        goal_id -> Text,
        revision -> Integer,
        side -> Text,
        user_id -> Text,
        role -> Text,
        agreed_at -> Timestamp,
    }
}

diesel::table! {
    goal_events (id) {
        id -> Text,
        goal_id -> Text,
        client_id -> Text,
        kind -> Text,
        status -> Text,
        revision -> Integer,
        actor_id -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    goal_comments (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        goal_id -> Text,
        author_id -> Text,
        author_role -> Text,
        body -> Text,
        team_only -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outcome_measures (id) {
        id -> Text,
        organization_id -> Text,
        code -> Text,
        name -> Text,
        unit -> Nullable<Text>,
        min_value -> Double,
        max_value -> Double,
        step -> Double,
        direction -> Text,
        meaningful_change -> Double,
        reporters -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    measurements (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        episode_id -> Text,
        goal_id -> Nullable<Text>,
        measure_code -> Text,
        observed_at -> Timestamp,
        source -> Text,
        recorded_by -> Text,
        reported -> Text,
        score -> Double,
        satisfaction -> Nullable<Double>,
        note -> Nullable<Text>,
        status -> Text,
        supersedes -> Nullable<Text>,
        superseded_by -> Nullable<Text>,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(goal_comments -> users (author_id));

diesel::table! {
    /// A clinic's choice of a measure's primary source.
    measure_settings (organization_id, measure_code) {
        organization_id -> Text,
        measure_code -> Text,
        primary_source -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    /// Idempotency-Key claims and the first successful answer (`idempotency.rs`).
    idempotency_keys (owner_id, idempotency_key) {
        owner_id -> Text,
        idempotency_key -> Text,
        fingerprint -> Text,
        state -> Text,
        claim_id -> Text,
        lease_until -> Timestamp,
        response_status -> Nullable<Integer>,
        response_headers -> Nullable<Text>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Webhook endpoints an admin registered (`webhooks.rs`).
    webhook_endpoints (id) {
        id -> Text,
        organization_id -> Text,
        url -> Text,
        types -> Text,
        description -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        paused -> Bool,
        version -> Integer,
        after_seq -> BigInt,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// How far each organization's changes have become deliveries.
    webhook_cursors (organization_id) {
        organization_id -> Text,
        seq -> BigInt,
    }
}

diesel::table! {
    /// One event for one endpoint, and how sending it went.
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        organization_id -> Text,
        change_seq -> BigInt,
        event_type -> Text,
        client_id -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        occurred_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_body -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_endpoints, webhook_deliveries);

diesel::table! {
    /// A progress report for a period of an episode: figures frozen as drafted.
    progress_reports (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        episode_id -> Text,
        period_start -> Date,
        period_end -> Date,
        status -> Text,
        figures -> Text,
        assessment -> Text,
        plan -> Text,
        drafted_by -> Text,
        signed_by -> Nullable<Text>,
        signed_name -> Nullable<Text>,
        signed_discipline -> Nullable<Text>,
        signed_at -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Each draft version's narrative, append-only.
    progress_report_versions (id) {
        id -> Text,
        report_id -> Text,
        version -> Integer,
        assessment -> Text,
        plan -> Text,
        edited_by -> Text,
        edited_at -> Timestamp,
    }
}

diesel::table! {
    /// Signed addenda to signed reports, append-only.
    progress_report_addenda (id) {
        id -> Text,
        report_id -> Text,
        organization_id -> Text,
        client_id -> Text,
        body -> Text,
        signed_by -> Text,
        signed_name -> Text,
        signed_discipline -> Nullable<Text>,
        signed_at -> Timestamp,
    }
}

// --- Between sessions: home programme, practice, check-ins, questions -------------

diesel::table! {
    activities (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        episode_id -> Text,
        goal_id -> Text,
        status -> Text,
        version -> Integer,
        stopped_on -> Nullable<Date>,
        stop_reason -> Nullable<Text>,
        stopped_by -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    activity_versions (id) {
        id -> Text,
        activity_id -> Text,
        client_id -> Text,
        version -> Integer,
        instructions -> Text,
        times_per_week -> Integer,
        sets -> Nullable<Integer>,
        repetitions -> Nullable<Integer>,
        duration_minutes -> Nullable<Integer>,
        start_date -> Date,
        end_date -> Nullable<Date>,
        effective_from -> Date,
        prescribed_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    practice_logs (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        activity_id -> Text,
        performed_at -> Timestamp,
        outcome -> Text,
        effort -> Nullable<Integer>,
        pain -> Nullable<Integer>,
        note -> Nullable<Text>,
        recorded_by -> Text,
        recorded_role -> Text,
        status -> Text,
        supersedes -> Nullable<Text>,
        superseded_by -> Nullable<Text>,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    check_ins (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        mood -> Nullable<Integer>,
        pain -> Nullable<Integer>,
        fatigue -> Nullable<Integer>,
        confidence -> Nullable<Integer>,
        note -> Nullable<Text>,
        observed_at -> Timestamp,
        recorded_by -> Text,
        recorded_role -> Text,
        concerns -> Text,
        flagged -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    questions (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        body -> Text,
        asked_by -> Text,
        asked_role -> Text,
        asked_at -> Timestamp,
        state -> Text,
        answer -> Nullable<Text>,
        answered_by -> Nullable<Text>,
        answered_at -> Nullable<Timestamp>,
        version -> Integer,
    }
}

diesel::table! {
    question_notes (id) {
        id -> Text,
        organization_id -> Text,
        client_id -> Text,
        question_id -> Text,
        author_id -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// A service account's JWK Set, one row per version.
    service_key_sets (id) {
        id -> Text,
        organization_id -> Text,
        user_id -> Text,
        version -> Integer,
        jwks -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Client assertions' `jti`s, until shortly after they expire.
    assertion_ids (user_id, jti) {
        user_id -> Text,
        jti -> Text,
        expires_at -> Timestamp,
    }
}
