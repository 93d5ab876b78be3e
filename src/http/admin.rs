//! certbroker's own admin operations: moving the adjustable clock (`clock.adjustable`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::{Call, JsonBody};
use super::{AppState, Reply};
use crate::error::ApiError;
use crate::service::clock::ClockReading;

/// The body of `POST /admin/clock/advance`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceRequest {
    /// A duration: `25d`, `36h`, `90m`, `30s`, `2w`, or combined (`1d12h`).
    pub by: Option<String>,
}

fn reading(r: ClockReading) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "now": r.now,
        "offsetSeconds": r.offset_seconds,
    }))
}

/// `GET /admin/clock`: the server's clock (404 unless it is adjustable).
pub async fn get_clock(state: web::Data<AppState>, req: HttpRequest) -> Reply {
    let clock = &state.services.clock;
    if !clock.adjustable() {
        return Err(ApiError::not_found_route(req.path()));
    }
    Ok(reading(clock.reading()))
}

/// `POST /admin/clock/advance {"by": "25d"}`: moves the clock forward (404 unless it is
/// adjustable).
pub async fn advance_clock(call: Call, req: HttpRequest, body: JsonBody<AdvanceRequest>) -> Reply {
    let clock = &call.services().clock;
    if !clock.adjustable() {
        return Err(ApiError::not_found_route(req.path()));
    }
    let by = body
        .0
        .by
        .ok_or_else(|| ApiError::bad_parameter("The body must carry 'by', e.g. \"25d\"."))?;
    let seconds = crate::clock::parse_duration(&by)
        .map_err(|r| ApiError::bad_parameter(format!("'by' is not a duration: {r}.")))?;
    Ok(reading(clock.advance(call.caller(), seconds).await?))
}
