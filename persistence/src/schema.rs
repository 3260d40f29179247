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
    login_throttle (login) {
        login -> Text,
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
    audit_events,
);
