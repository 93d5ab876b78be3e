//! Upcasting: turns an old event's JSON into the current schema before it is decoded.
//!
//! When a shipped event changes, bump its version in [`current_version`], add a rule here
//! from the old JSON to the new, and keep the old JSON as a fixture in the tests. Retired
//! event types are still decoded and ignored. Upcasting happens on read only: stored rows
//! are never rewritten (the hash chain covers them as written).

use serde_json::{json, Value};

/// The schema version new events of `event_type` are written at.
pub fn current_version(event_type: &str) -> i64 {
    match event_type {
        // v2: the refusal carries the error envelope the client received as one object.
        // v3: one record may stand for several alike refusals (`count`, `since`).
        "AccessRefused" => 3,
        _ => 1,
    }
}

/// Whether [`upcast`] changes a payload of `event_type` at `schema_version` (the decoder
/// takes a one-pass path for those it does not).
pub fn needs_upcast(event_type: &str, schema_version: i64) -> bool {
    schema_version < current_version(event_type)
}

/// Brings `payload` of `event_type` at `schema_version` up to the current schema.
pub fn upcast(event_type: &str, schema_version: i64, payload: Value) -> Value {
    match (event_type, schema_version) {
        ("AccessRefused", 1) => access_refused_v2(access_refused_v1(payload)),
        ("AccessRefused", 2) => access_refused_v2(payload),
        _ => payload,
    }
}

/// `AccessRefused` v1 kept `code` and `message` beside `status`; v2 nests them as
/// `error: {code, message}`, the envelope the client was answered with.
fn access_refused_v1(mut payload: Value) -> Value {
    if let Some(o) = payload.as_object_mut() {
        let code = o.remove("code").unwrap_or(Value::Null);
        let message = o.remove("message").unwrap_or(Value::Null);
        o.insert("error".into(), json!({"code": code, "message": message}));
    }
    payload
}

/// `AccessRefused` v2 recorded one refusal per record; v3 says how many (`count`) and
/// since when (`since`, absent for one).
fn access_refused_v2(mut payload: Value) -> Value {
    if let Some(o) = payload.as_object_mut() {
        o.entry("count").or_insert(json!(1));
        o.entry("since").or_insert(Value::Null);
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::{AuditEvent, RefusalError};

    /// An `AccessRefused` payload exactly as schema version 1 wrote it.
    const ACCESS_REFUSED_V1: &str =
        include_str!("../../tests/fixtures/events/access_refused_v1.json");

    #[test]
    fn access_refused_v1_decodes_as_the_current_event() {
        let v1: Value = serde_json::from_str(ACCESS_REFUSED_V1).unwrap_or_default();
        let value = upcast("AccessRefused", 1, v1);
        let event: AuditEvent =
            serde_json::from_value(json!({ "AccessRefused": value })).expect("decodes");
        assert_eq!(
            event,
            AuditEvent::AccessRefused {
                method: "POST".into(),
                path: "/certificates/c1/create".into(),
                status: 401,
                error: RefusalError {
                    code: "Unauthorized".into(),
                    message: "Request is missing a Bearer or PoP token.".into(),
                },
                role: None,
                count: 1,
                since: None,
            }
        );
    }

    #[test]
    fn access_refused_v2_is_one_refusal() {
        let v2 = json!({"method": "GET", "path": "/secrets", "status": 403,
                        "error": {"code": "Forbidden", "message": "m"}, "role": "reader"});
        let mut want = v2.clone();
        want["count"] = json!(1);
        want["since"] = Value::Null;
        assert_eq!(upcast("AccessRefused", 2, v2), want);
    }

    #[test]
    fn current_versions_pass_through_unchanged() {
        let v = json!({"request_id": "r"});
        assert_eq!(upcast("CancellationRequested", 1, v.clone()), v);
        let v3 = json!({"error": {"code": "c", "message": "m"}, "count": 5, "since": "t"});
        assert_eq!(upcast("AccessRefused", 3, v3.clone()), v3);
        assert_eq!(current_version("PendingCreated"), 1);
        assert_eq!(current_version("AccessRefused"), 3);
        assert!(needs_upcast("AccessRefused", 1));
        assert!(needs_upcast("AccessRefused", 2));
        assert!(!needs_upcast("AccessRefused", 3));
        assert!(!needs_upcast("PendingCreated", 1));
    }
}
