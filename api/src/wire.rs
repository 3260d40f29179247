//! Schemas shared by the wire types: each kind of text and each enumeration is
//! defined once here, from the same rules (and the same domain enums) the server
//! parses with, so the document cannot drift from what is accepted.
//!
//! Use them as `#[schema(schema_with = crate::wire::line_200)]`; an `Option` field
//! takes the `_or_null` form.

use utoipa::openapi::{
    schema::{KnownFormat, SchemaFormat, SchemaType},
    AllOfBuilder, ArrayBuilder, Object, ObjectBuilder, Type,
};

/// Exactly what Rust's `trim()` strips, spelled out: `\s` means something else in
/// each regex engine (ECMA 262, Python, Rust), and a client's validator must agree
/// with ours.
const SPACE: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters, which single-line text may not hold.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";

fn string(nullable: bool) -> ObjectBuilder {
    let kind = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new().schema_type(kind)
}

/// Text with something other than white space in it, at most `max` characters.
pub fn not_blank(max: usize, nullable: bool) -> Object {
    string(nullable)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(format!("[^{SPACE}]")))
        .build()
}

/// Text of 1 to `max` characters once trimmed, on any number of lines.
pub fn text(max: usize, nullable: bool) -> Object {
    let inner = max.saturating_sub(2);
    string(nullable)
        .pattern(Some(format!(
            "^[{SPACE}]*[^{SPACE}](?:(?s:.){{0,{inner}}}[^{SPACE}])?[{SPACE}]*$"
        )))
        .build()
}

/// The same, or blank: text that may be left to write later.
pub fn text_or_blank(max: usize, nullable: bool) -> Object {
    let inner = max.saturating_sub(2);
    string(nullable)
        .pattern(Some(format!(
            "^[{SPACE}]*(?:[^{SPACE}](?:(?s:.){{0,{inner}}}[^{SPACE}])?[{SPACE}]*)?$"
        )))
        .build()
}

/// One line of 1 to `max` characters once trimmed, without control characters.
pub fn line(max: usize, nullable: bool) -> Object {
    let inner = max.saturating_sub(2);
    string(nullable)
        .pattern(Some(format!(
            r"^[{SPACE}]*[^{SPACE}{CONTROL}](?:[^{CONTROL}]{{0,{inner}}}[^{SPACE}{CONTROL}])?\s*$"
        )))
        .build()
}

/// An email address as `domain::identity::parse_email` accepts it.
pub fn email(nullable: bool) -> Object {
    string(nullable)
        .pattern(Some(format!(
            r"^[{SPACE}]*[^{SPACE}@]+@[^{SPACE}.][^{SPACE}]*\.[^{SPACE}]*[^{SPACE}.][{SPACE}]*$"
        )))
        .build()
}

/// A phone number: digits, spaces and `+ - ( ) .`, at least five digits, at most 32
/// characters once trimmed. Two patterns, both to match: JSON Schema has no "and"
/// inside one regular expression without lookahead, which not every validator has.
pub fn phone(nullable: bool) -> utoipa::openapi::AllOf {
    let digits = string(nullable)
        .pattern(Some(r"^[ +().\-]*(?:[0-9][ +().\-]*){5,}$".to_owned()))
        .build();
    let length = string(nullable)
        .pattern(Some(r"^ *[^ ](?:.{0,30}[^ ])? *$".to_owned()))
        .build();
    AllOfBuilder::new()
        .item(digits)
        .item(length)
        .description(Some(
            "Digits, spaces and `+ - ( ) .`; at least five digits; at most 32 characters.",
        ))
        .build()
}

pub fn phone_or_null() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::Schema::AllOf(phone(true))
}

/// A date of birth: a calendar date from 1880 on (and, as the server checks against
/// its clock, not in the future).
pub fn date_of_birth_or_null() -> Object {
    string(true)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(
            r"^(?:18[89][0-9]|19[0-9]{2}|[2-9][0-9]{3})-".to_owned(),
        ))
        .description(Some("From 1880-01-01 to today."))
        .build()
}

/// OAuth scopes, space-separated, each one the domain knows.
pub fn scopes_or_null() -> Object {
    let one = domain::identity::Scope::ALL
        .iter()
        .map(|s| s.as_str().replace('.', r"\."))
        .collect::<Vec<_>>()
        .join("|");
    string(true)
        .pattern(Some(format!(
            "^[{SPACE}]*(?:(?:{one})(?:[{SPACE}]+(?:{one}))*)?[{SPACE}]*$"
        )))
        .description(Some("Service accounts only: space-separated scopes."))
        .build()
}

/// A string schema listing the allowed values, for fields parsed by the domain.
pub fn one_of(values: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(values.into_iter().collect::<Vec<_>>()))
        .build()
}

/// The same, or null: for optional fields, which serde reads `null` into and writes
/// `None` as. JSON Schema needs `null` in both `type` and `enum` for that.
pub fn one_of_or_null(values: impl IntoIterator<Item = &'static str>) -> Object {
    let values = values
        .into_iter()
        .map(serde_json::Value::from)
        .chain([serde_json::Value::Null]);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values.collect::<Vec<_>>()))
        .build()
}

/// An array of those values.
pub fn array_of(values: impl IntoIterator<Item = &'static str>) -> utoipa::openapi::Array {
    ArrayBuilder::new().items(one_of(values)).build()
}

/// Names a schema function for one use of the builders above, for `schema_with`.
macro_rules! schemas {
    ($($name:ident = $build:expr;)+) => {
        $(pub fn $name() -> Object { $build })+
    };
}

schemas! {
    email_or_null = email(true);
    line_200 = line(200, false);
    line_100_or_null = line(100, true);
    line_256 = line(256, false);
    not_blank_200 = not_blank(200, false);
    not_blank_500 = not_blank(500, false);
    not_blank_2000 = not_blank(2000, false);
    text_500 = text(500, false);
    text_1000 = text(1000, false);
    text_2000 = text(2000, false);
    text_2000_blank_or_null = text_or_blank(2000, true);
}

// Enumerations, from the domain's own lists.
schemas! {
    role = one_of(domain::identity::Role::ALL.iter().map(|r| r.as_str()));
    role_or_null = one_of_or_null(domain::identity::Role::ALL.iter().map(|r| r.as_str()));
    // Whom an admin creates directly; clients and caregivers are invited.
    staff_role = one_of(domain::identity::Role::STAFF.iter().map(|r| r.as_str()));
    discipline_or_null = one_of_or_null(domain::identity::Discipline::ALL.iter().map(|r| r.as_str()));
    client_status = one_of(domain::client::ClientStatus::ALL.iter().map(|r| r.as_str()));
    team_role = one_of(domain::client::TeamRole::ALL.iter().map(|r| r.as_str()));
    outcome = one_of(domain::audit::Outcome::ALL.iter().map(|r| r.as_str()));
    source = one_of(domain::measure::Source::ALL.iter().map(|s| s.as_str()));
}

// Accounts (users, sign-in).
schemas! {
    not_blank_200_or_null = not_blank(200, true);
}

// Goals and episodes.
schemas! {
    not_blank_5000 = not_blank(5000, false);
    episode_status = one_of(domain::goal::EpisodeStatus::ALL.iter().map(|s| s.as_str()));
    new_episode_status_or_null = one_of_or_null(domain::goal::EpisodeStatus::OPENING.iter().map(|s| s.as_str()));
    occupation_area = one_of(domain::goal::OccupationArea::ALL.iter().map(|s| s.as_str()));
    goal_status = one_of(domain::goal::GoalStatus::ALL.iter().map(|s| s.as_str()));
    side = one_of(domain::goal::Side::ALL.iter().map(|s| s.as_str()));
    term = one_of(domain::goal::Term::ALL.iter().map(|s| s.as_str()));
    term_or_null = one_of_or_null(domain::goal::Term::ALL.iter().map(|s| s.as_str()));
}

/// The five GAS level descriptions, -2 to +2: each 1 to 500 characters once trimmed.
pub fn gas_levels() -> utoipa::openapi::Array {
    let mut level = text(500, false);
    level.description = Some("One GAS level's description: 1 to 500 characters, trimmed.".into());
    ArrayBuilder::new()
        .items(level)
        .min_items(Some(5))
        .max_items(Some(5))
        .description(Some(
            "Descriptions of levels -2, -1, 0, +1, +2, in that order.",
        ))
        .build()
}

// Measures and measurements (`routes/measures.rs`).
schemas! {
    correction_reason = described(not_blank(1000, false), "Why: kept with the new version.");
    direction = one_of(domain::measure::Direction::ALL.iter().map(|d| d.as_str()));
    instrument = one_of(domain::measure::Instrument::ALL.iter().map(|i| i.as_str()));
    measurement_status = one_of(domain::measure::MeasurementStatus::ALL.iter().map(|s| s.as_str()));
    // As `domain::measure::custom` accepts a clinic measure's code.
    // (`openapi::document` adds that built-in codes are refused.)
    new_measure_code = described(
        string(false).pattern(Some(r"^[a-z0-9-]{1,64}$".to_owned())).build(),
        "Lower-case letters, digits and dashes; unique in the clinic, and not a built-in measure's code.",
    );
    // A measure's code as the catalogue lists it.
    measure_code = described(
        string(false).pattern(Some(r"^[a-z0-9-]{1,64}$".to_owned())).build(),
        "A code from `GET /api/v1/measures`: a built-in measure's or one of the clinic's own.",
    );
    measure_code_or_null = described(
        string(true).pattern(Some(r"^[a-z0-9-]{1,64}$".to_owned())).build(),
        "A code from `GET /api/v1/measures`; required with `target_value`.",
    );
    unit_or_null = described(
        line(domain::measure::UNIT_MAX, true),
        "What the values count, e.g. `kg` or `seconds`.",
    );
}

/// A schema with its description: `schema_with` drops the field's doc comment.
fn described(mut schema: Object, description: &str) -> Object {
    schema.description = Some(description.to_owned());
    schema
}

/// Who may report a measure: any of the domain's sources.
pub fn sources() -> utoipa::openapi::Array {
    array_of(domain::measure::Source::ALL.iter().map(|s| s.as_str()))
}

/// Who a clinic names as its measure's reporters: at least one person. Imported
/// values are always accepted, so `domain::measure::custom` refuses `imported` here.
pub fn reporters() -> utoipa::openapi::Array {
    use domain::measure::Source;
    let people = Source::ALL.iter().filter(|s| **s != Source::Imported);
    ArrayBuilder::new()
        .items(one_of(people.map(|s| s.as_str())))
        .min_items(Some(1))
        .build()
}

// Clients, care teams and caregivers.
schemas! {
    line_255 = line(255, false);
    email_address = email(false);
    permission = one_of(domain::policy::CaregiverPermission::ALL.iter().map(|p| p.as_str()));
    permission_or_null = one_of_or_null(domain::policy::CaregiverPermission::ALL.iter().map(|p| p.as_str()));
}

// Progress.
schemas! {
    outlook = one_of(domain::progress::Outlook::ALL.iter().map(|o| o.as_str()));
    // What progress tells, and what a closed goal's status tells itself.
    achievement = one_of(
        domain::progress::Achievement::ALL
            .iter()
            .map(|a| a.as_str())
            .chain(domain::goal::GoalStatus::ALL.iter().filter_map(|s| s.fhir_achievement()))
            .filter(|a| *a != "achieved")
            .chain(["achieved"])
    );
    milestone = one_of(domain::progress::MilestoneKind::ALL.iter().map(|m| m.as_str()));
    baseline_from = one_of(domain::progress::BaselineFrom::ALL.iter().map(|b| b.as_str()));
    gas_exclusion = one_of(domain::progress::GasExclusion::ALL.iter().map(|e| e.as_str()));
    source_or_null = one_of_or_null(domain::measure::Source::ALL.iter().map(|s| s.as_str()));
}
