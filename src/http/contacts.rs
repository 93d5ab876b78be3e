//! Handlers of the vault's certificate contacts: `GetCertificateContacts`,
//! `SetCertificateContacts`, `DeleteCertificateContacts`.

use actix_web::HttpResponse;

use super::dto::contacts::{contacts, ContactsRequest};
use super::extract::{Call, JsonBody};
use super::Reply;
use crate::domain::contacts::ContactsCommand;

/// `GetCertificateContacts`.
pub async fn get_certificate_contacts(call: Call) -> Reply {
    let list = call.services().contacts.get(call.vault()).await?;
    Ok(HttpResponse::Ok().json(contacts(call.base_url(), &list)))
}

/// Runs `command` on the vault's contacts; 200 with the list it answers with.
async fn command(call: Call, command: ContactsCommand) -> Reply {
    let list = call
        .services()
        .contacts
        .command(call.caller(), command)
        .await?;
    Ok(HttpResponse::Ok().json(contacts(call.base_url(), &list)))
}

/// `SetCertificateContacts`.
pub async fn set_certificate_contacts(call: Call, body: JsonBody<ContactsRequest>) -> Reply {
    command(call, ContactsCommand::Set(body.0.contacts)).await
}

/// `DeleteCertificateContacts`: 200 with the contacts as they were.
pub async fn delete_certificate_contacts(call: Call) -> Reply {
    command(call, ContactsCommand::Delete).await
}
