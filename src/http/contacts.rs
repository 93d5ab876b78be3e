//! Handlers of the vault's certificate contacts: `GetCertificateContacts`,
//! `SetCertificateContacts`, `DeleteCertificateContacts`.

use actix_web::{web, HttpResponse};

use super::dto::contacts::{contacts, ContactsRequest};
use super::extract::{JsonBody, RequestContext};
use super::AppState;
use crate::domain::contacts::ContactsCommand;
use crate::error::ApiError;

/// `GetCertificateContacts`.
pub async fn get_certificate_contacts(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let list = state.services.contacts.get(&ctx.vault).await?;
    Ok(HttpResponse::Ok().json(contacts(&ctx.base_url, &list)))
}

/// `SetCertificateContacts`.
pub async fn set_certificate_contacts(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: JsonBody<ContactsRequest>,
) -> Result<HttpResponse, ApiError> {
    let list = state
        .services
        .contacts
        .command(&ctx.caller(), ContactsCommand::Set(body.0.contacts))
        .await?;
    Ok(HttpResponse::Ok().json(contacts(&ctx.base_url, &list)))
}

/// `DeleteCertificateContacts`: 200 with the contacts as they were.
pub async fn delete_certificate_contacts(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let list = state
        .services
        .contacts
        .command(&ctx.caller(), ContactsCommand::Delete)
        .await?;
    Ok(HttpResponse::Ok().json(contacts(&ctx.base_url, &list)))
}
